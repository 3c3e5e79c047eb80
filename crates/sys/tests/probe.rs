//! Feature probes give the right answers on this (6.x) kernel.

use corebpf_sys::*;

#[test]
fn btf_kinds_are_supported() {
    for f in [
        Feature::BtfFunc,
        Feature::BtfFuncGlobal,
        Feature::BtfDatasec,
        Feature::BtfFloat,
        Feature::BtfDeclTag,
        Feature::BtfTypeTag,
        Feature::BtfEnum64,
    ] {
        assert!(
            probe_feature(f),
            "{} should be supported on a 6.x kernel",
            f.description()
        );
    }
}

#[test]
fn modern_features_are_supported() {
    for f in [
        Feature::ProgName,
        Feature::GlobalData,
        Feature::ArrayMmap,
        Feature::ExpAttachType,
        Feature::ProbeReadKernel,
        Feature::ProgBindMap,
        Feature::MemcgAccount,
        Feature::BpfCookie,
        Feature::RingBuf,
        Feature::PerfLink,
        Feature::TcxLink,
        Feature::UprobeMultiLink,
    ] {
        assert!(
            probe_feature(f),
            "{} should be supported on a 6.x kernel",
            f.description()
        );
    }
    // Cached: same answer again.
    assert!(probe_feature(Feature::RingBuf));
}

#[test]
fn kprobe_multi_matches_kprobe_support() {
    // This kernel has no kprobes, so no fprobe-based kprobe-multi either; where kprobes
    // exist the answer may be either, so only the no-kprobe case is asserted.
    let has_kprobes = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    let multi = probe_feature(Feature::KprobeMultiLink);
    if !has_kprobes {
        assert!(!multi, "kprobe-multi reported without kprobe support");
    }
}

#[test]
fn map_type_probes() {
    for t in [
        MapType::Hash,
        MapType::Array,
        MapType::PercpuArray,
        MapType::LpmTrie,
        MapType::ArrayOfMaps,
        MapType::HashOfMaps,
        MapType::Queue,
        MapType::Stack,
        MapType::RingBuf,
        MapType::UserRingBuf,
        MapType::BloomFilter,
        MapType::SkStorage,
        MapType::TaskStorage,
        MapType::CgroupStorage,
        MapType::StackTrace,
        MapType::PerfEventArray,
        MapType::StructOps,
    ] {
        assert!(probe_map_type(t), "map type {t} should be supported");
    }
    assert!(!probe_map_type(MapType::Unspec));
}

#[test]
fn prog_type_probes() {
    for t in [
        ProgType::SocketFilter,
        ProgType::Xdp,
        ProgType::SchedCls,
        ProgType::Tracepoint,
        ProgType::RawTracepoint,
        ProgType::PerfEvent,
        ProgType::CgroupSkb,
        ProgType::CgroupSockAddr,
        ProgType::CgroupSockopt,
        ProgType::SkLookup,
        ProgType::Syscall,
        ProgType::StructOps,
    ] {
        assert!(probe_prog_type(t), "program type {t} should be supported");
    }
    assert!(!probe_prog_type(ProgType::Unspec));
    // fentry/lsm loads are refused (EPERM) by lockdown on some kernels: the probe must
    // then say "not usable" rather than fail.
    let _ = probe_prog_type(ProgType::Tracing);
}

#[test]
fn memlock_is_not_bumped_with_memcg_accounting() {
    let before = std::fs::read_to_string("/proc/self/limits").unwrap();
    assert!(!bump_memlock_rlimit().unwrap());
    assert_eq!(
        std::fs::read_to_string("/proc/self/limits").unwrap(),
        before
    );
}
