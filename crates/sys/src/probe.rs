//! Feature probes: each runs at most once per process and is cached (`OnceLock`).
//!
//! Probes load tiny hand-encoded BTF blobs and programs, create small maps, or try a
//! `BPF_LINK_CREATE` with a bogus target and read the errno, as libbpf does. A probe
//! that cannot run (for example without privilege) answers `false`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use crate::consts::{
    AttachType, MapType, ProgType, BPF_F_MMAPABLE, BPF_F_NO_PREALLOC, BPF_PSEUDO_MAP_VALUE,
};
use crate::error::SysError;
use crate::insn::{size, Insn};
use crate::link::{link_create_raw, LinkCreateAttr, LinkCreateOpts};
use crate::map::{map_create, MapCreateAttr};
use crate::prog::{prog_bind_map, AttachTarget, ProgLoadAttr};
use crate::token::Token;

/// A kernel feature a loader may need to know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `prog_name`/`map_name` are accepted (4.15).
    ProgName,
    /// Global data: array maps referenced with `BPF_PSEUDO_MAP_VALUE` (5.2).
    GlobalData,
    /// BTF `FUNC` and `FUNC_PROTO` kinds (5.0).
    BtfFunc,
    /// BTF `FUNC` with global linkage (5.6).
    BtfFuncGlobal,
    /// BTF `VAR` and `DATASEC` kinds (5.2).
    BtfDatasec,
    /// BTF `FLOAT` kind (5.13).
    BtfFloat,
    /// BTF `DECL_TAG` kind (5.16).
    BtfDeclTag,
    /// BTF `TYPE_TAG` kind (5.17).
    BtfTypeTag,
    /// BTF `ENUM64` kind (6.0).
    BtfEnum64,
    /// BTF with a layout section: a 32-byte header with `layout_off`/`layout_len` (7.1).
    BtfLayout,
    /// BTF `DATASEC` names starting with `?` (`SEC("?.struct_ops")`; 6.1 refuses them).
    BtfQmarkDatasec,
    /// `BPF_F_MMAPABLE` array maps (5.5).
    ArrayMmap,
    /// `expected_attach_type` at load time (4.17).
    ExpAttachType,
    /// The `bpf_probe_read_kernel` helper (5.5).
    ProbeReadKernel,
    /// `BPF_PROG_BIND_MAP` (5.10).
    ProgBindMap,
    /// Memory is charged to the memory cgroup, so RLIMIT_MEMLOCK does not matter (5.11).
    MemcgAccount,
    /// The `bpf_get_attach_cookie` helper (5.15).
    BpfCookie,
    /// `BPF_MAP_TYPE_RINGBUF` (5.8).
    RingBuf,
    /// Perf event links: `BPF_LINK_CREATE` with `BPF_PERF_EVENT` (5.15).
    PerfLink,
    /// tcx links: `BPF_LINK_CREATE` with `BPF_TCX_INGRESS` (6.6).
    TcxLink,
    /// kprobe-multi links (5.18, needs fprobe support).
    KprobeMultiLink,
    /// uprobe-multi links (6.6).
    UprobeMultiLink,
}

impl Feature {
    /// Every feature.
    pub const ALL: &'static [Feature] = &[
        Feature::ProgName,
        Feature::GlobalData,
        Feature::BtfFunc,
        Feature::BtfFuncGlobal,
        Feature::BtfDatasec,
        Feature::BtfFloat,
        Feature::BtfDeclTag,
        Feature::BtfTypeTag,
        Feature::BtfEnum64,
        Feature::BtfLayout,
        Feature::BtfQmarkDatasec,
        Feature::ArrayMmap,
        Feature::ExpAttachType,
        Feature::ProbeReadKernel,
        Feature::ProgBindMap,
        Feature::MemcgAccount,
        Feature::BpfCookie,
        Feature::RingBuf,
        Feature::PerfLink,
        Feature::TcxLink,
        Feature::KprobeMultiLink,
        Feature::UprobeMultiLink,
    ];

    /// A short description, as in libbpf's feature table.
    pub fn description(self) -> &'static str {
        match self {
            Feature::ProgName => "BPF program name",
            Feature::GlobalData => "global variables",
            Feature::BtfFunc => "BTF functions",
            Feature::BtfFuncGlobal => "BTF global function",
            Feature::BtfDatasec => "BTF data section and variable",
            Feature::BtfFloat => "BTF_KIND_FLOAT support",
            Feature::BtfDeclTag => "BTF_KIND_DECL_TAG support",
            Feature::BtfTypeTag => "BTF_KIND_TYPE_TAG support",
            Feature::BtfEnum64 => "BTF_KIND_ENUM64 support",
            Feature::BtfLayout => "BTF layout",
            Feature::BtfQmarkDatasec => "BTF DATASEC names starting from '?'",
            Feature::ArrayMmap => "ARRAY map mmap()",
            Feature::ExpAttachType => "BPF_PROG_LOAD expected_attach_type attribute",
            Feature::ProbeReadKernel => "bpf_probe_read_kernel() helper",
            Feature::ProgBindMap => "BPF_PROG_BIND_MAP support",
            Feature::MemcgAccount => "memcg-based memory accounting",
            Feature::BpfCookie => "BPF cookie support",
            Feature::RingBuf => "BPF ring buffer",
            Feature::PerfLink => "BPF perf link support",
            Feature::TcxLink => "BPF tcx link support",
            Feature::KprobeMultiLink => "BPF multi-kprobe link support",
            Feature::UprobeMultiLink => "BPF multi-uprobe link support",
        }
    }
}

/// Probe results, each probed once: one cache for the process (probes without a token) and
/// one in each [`Token`] (a token can allow what the process may not do on its own).
#[derive(Debug)]
pub(crate) struct ProbeCache {
    features: [OnceLock<bool>; 32],
    prog_types: [OnceLock<bool>; 64],
    map_types: [OnceLock<bool>; 64],
}

impl ProbeCache {
    pub(crate) const fn new() -> ProbeCache {
        ProbeCache {
            features: [const { OnceLock::new() }; 32],
            prog_types: [const { OnceLock::new() }; 64],
            map_types: [const { OnceLock::new() }; 64],
        }
    }
}

/// The process's probe results (probes made without a token).
static PROCESS: ProbeCache = ProbeCache::new();

/// The cache and token fd for probes made with `token` (or without one).
fn cache_of(token: Option<&Token>) -> (&ProbeCache, Tok<'_>) {
    match token {
        Some(t) => (&t.probes, Some(t.as_fd())),
        None => (&PROCESS, None),
    }
}

/// A token fd passed to every command a probe makes, or none.
type Tok<'a> = Option<BorrowedFd<'a>>;

/// Whether the running kernel has `feature`; probed once, then cached.
pub fn probe_feature(feature: Feature) -> bool {
    probe_feature_with(feature, None)
}

const _: () = assert!(Feature::ALL.len() <= 32, "one cache slot per feature");

/// The cache slot of `feature` (in [`Feature::ALL`] order).
fn feature_slot(cache: &ProbeCache, feature: Feature) -> &OnceLock<bool> {
    let index = Feature::ALL.iter().position(|f| *f == feature);
    &cache.features[index.unwrap_or(cache.features.len() - 1)]
}

/// What an earlier [`probe_feature`] of this process found, without probing: `None` if
/// nothing has needed `feature` yet (the loader probes only what an object uses).
pub fn probed_feature(feature: Feature) -> Option<bool> {
    feature_slot(&PROCESS, feature).get().copied()
}

/// [`probe_feature`] with every probe command made with `token` (cached in the token).
pub fn probe_feature_with(feature: Feature, token: Option<&Token>) -> bool {
    let (cache, tok) = cache_of(token);
    *feature_slot(cache, feature).get_or_init(|| {
        let r = run_probe(feature, token, tok);
        log::debug!(
            "feature probe{}: {}: {}",
            if tok.is_some() { " (with token)" } else { "" },
            feature.description(),
            if r { "supported" } else { "not supported" }
        );
        r
    })
}

/// Whether programs of `prog_type` can be loaded: false when the kernel does not know
/// the type, and also when it refuses to load it (lockdown or missing privilege, which
/// makes fentry/fexit/lsm unusable on some kernels). Probed once per type, then cached.
pub fn probe_prog_type(prog_type: ProgType) -> bool {
    probe_prog_type_with(prog_type, None)
}

/// [`probe_prog_type`] with the probe load made with `token` (cached in the token).
pub fn probe_prog_type_with(prog_type: ProgType, token: Option<&Token>) -> bool {
    let (cache, tok) = cache_of(token);
    let i = (prog_type.as_u32() as usize).min(63);
    *cache.prog_types[i].get_or_init(|| run_prog_type_probe(prog_type, tok))
}

/// Whether the kernel supports `map_type`; probed once per type, then cached.
pub fn probe_map_type(map_type: MapType) -> bool {
    probe_map_type_with(map_type, None)
}

/// [`probe_map_type`] with the probe maps created with `token` (cached in the token).
pub fn probe_map_type_with(map_type: MapType, token: Option<&Token>) -> bool {
    let (cache, tok) = cache_of(token);
    let i = (map_type.as_u32() as usize).min(63);
    *cache.map_types[i].get_or_init(|| run_map_type_probe(map_type, tok))
}

/// Raises `RLIMIT_MEMLOCK` to infinity, but only when the kernel still charges BPF
/// memory to it (no [`Feature::MemcgAccount`]). Returns whether it raised the limit.
pub fn bump_memlock_rlimit() -> Result<bool, SysError> {
    if probe_feature(Feature::MemcgAccount) {
        return Ok(false);
    }
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `lim` is a valid rlimit for the duration of the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) } != 0 {
        return Err(SysError::last("setrlimit(RLIMIT_MEMLOCK)"));
    }
    Ok(true)
}

// ---------------------------------------------------------------------------------------
// BTF blobs, encoded by hand.

const BTF_KIND_INT: u32 = 1;
const BTF_KIND_PTR: u32 = 2;
const BTF_KIND_FUNC: u32 = 12;
const BTF_KIND_FUNC_PROTO: u32 = 13;
const BTF_KIND_VAR: u32 = 14;
const BTF_KIND_DATASEC: u32 = 15;
const BTF_KIND_FLOAT: u32 = 16;
const BTF_KIND_DECL_TAG: u32 = 17;
const BTF_KIND_TYPE_TAG: u32 = 18;
const BTF_KIND_ENUM64: u32 = 19;

/// `btf_type.info` for a kind and vlen.
const fn info(kind: u32, vlen: u32) -> u32 {
    (kind << 24) | (vlen & 0xffff)
}

/// `int` of 4 bytes, signed, named by string offset `name`: 4 words.
const fn int_type(name: u32) -> [u32; 4] {
    [name, info(BTF_KIND_INT, 0), 4, (1 << 24) | 32]
}

/// Header + type section + string section.
pub(crate) fn btf_blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
    let type_len = (types.len() * 4) as u32;
    let mut out = Vec::with_capacity(24 + types.len() * 4 + strings.len());
    out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
    out.push(1);
    out.push(0);
    for word in [24u32, 0, type_len, type_len, strings.len() as u32] {
        out.extend_from_slice(&word.to_ne_bytes());
    }
    for t in types {
        out.extend_from_slice(&t.to_ne_bytes());
    }
    out.extend_from_slice(strings);
    out
}

/// Header (32 bytes) + type section + layout section + string section.
fn btf_blob_with_layout(types: &[u32], layout: &[[u8; 4]], strings: &[u8]) -> Vec<u8> {
    let type_len = (types.len() * 4) as u32;
    let layout_len = (layout.len() * 4) as u32;
    let mut out = Vec::with_capacity(32 + (type_len + layout_len) as usize + strings.len());
    out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
    out.push(1);
    out.push(0);
    let str_off = type_len + layout_len;
    for word in [
        32u32,
        0,
        type_len,
        str_off,
        strings.len() as u32,
        type_len,
        layout_len,
    ] {
        out.extend_from_slice(&word.to_ne_bytes());
    }
    for t in types {
        out.extend_from_slice(&t.to_ne_bytes());
    }
    for l in layout {
        // info_sz and elem_sz are bytes; the flags (0) read the same in either order.
        out.extend_from_slice(l);
    }
    out.extend_from_slice(strings);
    out
}

fn btf_loads(types: &[u32], strings: &[u8], tok: Tok<'_>) -> bool {
    load_btf(types, strings, tok).is_ok()
}

fn load_btf(types: &[u32], strings: &[u8], tok: Tok<'_>) -> Result<OwnedFd, SysError> {
    let blob = btf_blob(types, strings);
    with_memlock_raised(tok, || crate::btf::load_once(&blob, None, tok).0)
}

fn probe_btf(feature: Feature, tok: Tok<'_>) -> bool {
    let int = int_type(1);
    match feature {
        Feature::BtfFunc | Feature::BtfFuncGlobal => {
            // [1] int; [2] func_proto (int a) -> int; [3] func x
            let linkage = u32::from(feature == Feature::BtfFuncGlobal);
            let mut t = int.to_vec();
            t.extend([0, info(BTF_KIND_FUNC_PROTO, 1), 1, 7, 1]);
            t.extend([5, info(BTF_KIND_FUNC, linkage), 2]);
            btf_loads(&t, b"\0int\0x\0a\0", tok)
        }
        Feature::BtfDatasec => {
            // [1] int; [2] var x (global); [3] datasec .data { x }
            let mut t = int.to_vec();
            t.extend([5, info(BTF_KIND_VAR, 0), 1, 1]);
            t.extend([7, info(BTF_KIND_DATASEC, 1), 4, 2, 0, 4]);
            btf_loads(&t, b"\0int\0x\0.data\0", tok)
        }
        Feature::BtfQmarkDatasec => {
            // [1] int; [2] var x (global); [3] datasec ?.data { x }
            let mut t = int.to_vec();
            t.extend([5, info(BTF_KIND_VAR, 0), 1, 1]);
            t.extend([7, info(BTF_KIND_DATASEC, 1), 4, 2, 0, 4]);
            btf_loads(&t, b"\0int\0x\0?.data\0", tok)
        }
        Feature::BtfFloat => btf_loads(&[1, info(BTF_KIND_FLOAT, 0), 4], b"\0float\0", tok),
        Feature::BtfDeclTag => {
            // [1] int; [2] var x; [3] decl_tag "tag" on [2], component -1
            let mut t = int.to_vec();
            t.extend([5, info(BTF_KIND_VAR, 0), 1, 1]);
            t.extend([7, info(BTF_KIND_DECL_TAG, 0), 2, u32::MAX]);
            btf_loads(&t, b"\0int\0x\0tag\0", tok)
        }
        Feature::BtfTypeTag => {
            // [1] int; [2] type_tag "tag" -> 1; [3] ptr -> 2
            let mut t = int.to_vec();
            t.extend([5, info(BTF_KIND_TYPE_TAG, 0), 1]);
            t.extend([0, info(BTF_KIND_PTR, 0), 2]);
            btf_loads(&t, b"\0int\0tag\0", tok)
        }
        Feature::BtfEnum64 => {
            // [1] enum64 "e" size 8 { v = 0x1_0000_0001 }
            btf_loads(&[1, info(BTF_KIND_ENUM64, 1), 8, 3, 1, 1], b"\0e\0v\0", tok)
        }
        Feature::BtfLayout => {
            // [1] int, and the layout of kinds 0 (void) and 1 (int: a 4-byte encoding),
            // as libbpf's probe.
            let blob = btf_blob_with_layout(&int, &[[0; 4], [4, 0, 0, 0]], b"\0int\0");
            with_memlock_raised(tok, || crate::btf::load_once(&blob, None, tok).0).is_ok()
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Programs and maps.

/// Runs `create` (a map, program or BTF creation of a probe) with `RLIMIT_MEMLOCK` raised
/// first where the kernel still charges BPF memory to it (before 5.11), as libbpf does
/// before its own probes. Without this, the 64 KiB default limit of those kernels runs
/// out after a few probes (maps are freed asynchronously) and probes of map and program
/// types the kernel has would answer "not supported". Raising it only after an `EPERM` is
/// not enough: some map types report a spent limit as `EINVAL` (5.10's devmap_hash). Once
/// raised (to infinity), an `EPERM` is the kernel's real answer: no retry.
fn with_memlock_raised<T>(
    tok: Tok<'_>,
    create: impl FnOnce() -> Result<T, SysError>,
) -> Result<T, SysError> {
    // Tokens came with 6.9, long after memcg accounting (5.11): nothing to raise.
    if tok.is_some() {
        return create();
    }
    static RAISED: OnceLock<()> = OnceLock::new();
    RAISED.get_or_init(|| {
        if let Err(e) = bump_memlock_rlimit() {
            log::debug!("feature probe: cannot raise RLIMIT_MEMLOCK: {e}");
        }
    });
    create()
}

/// `map_create` for probes, with [`with_memlock_raised`] and the token.
fn create_map(attr: &MapCreateAttr<'_>, tok: Tok<'_>) -> Result<OwnedFd, SysError> {
    let attr = MapCreateAttr {
        token: tok,
        ..*attr
    };
    with_memlock_raised(tok, || map_create(&attr))
}

fn try_load(
    tok: Tok<'_>,
    prog_type: ProgType,
    insns: &[Insn],
    tweak: impl FnOnce(&mut ProgLoadAttr<'_>),
) -> Result<OwnedFd, SysError> {
    let bytes = Insn::encode_all(insns);
    let mut attr = ProgLoadAttr {
        prog_type,
        insns: &bytes,
        license: c"GPL",
        ..Default::default()
    };
    tweak(&mut attr);
    attr.token = tok;
    with_memlock_raised(tok, || crate::prog::load_quiet(&attr))
}

fn ret0() -> [Insn; 2] {
    [Insn::mov64_imm(0, 0), Insn::exit()]
}

fn small_map(
    tok: Tok<'_>,
    map_type: MapType,
    key: u32,
    value: u32,
    max: u32,
    flags: u32,
) -> Result<OwnedFd, SysError> {
    create_map(
        &MapCreateAttr {
            map_type,
            key_size: key,
            value_size: value,
            max_entries: max,
            map_flags: flags,
            ..Default::default()
        },
        tok,
    )
}

/// A link creation that is expected to fail; returns its errno.
fn link_errno(
    prog: &OwnedFd,
    target: AttachTarget<'_>,
    attach_type: AttachType,
    opts: LinkCreateOpts<'_>,
) -> Option<i32> {
    let mut attr = LinkCreateAttr::new(prog.as_fd(), target, attach_type);
    attr.opts = opts;
    match link_create_raw(&attr) {
        Ok(_) => Some(0),
        Err(e) => e.raw_errno(),
    }
}

fn run_probe(feature: Feature, token: Option<&Token>, tok: Tok<'_>) -> bool {
    match feature {
        Feature::BtfFunc
        | Feature::BtfFuncGlobal
        | Feature::BtfDatasec
        | Feature::BtfFloat
        | Feature::BtfDeclTag
        | Feature::BtfTypeTag
        | Feature::BtfEnum64
        | Feature::BtfLayout
        | Feature::BtfQmarkDatasec => probe_btf(feature, tok),
        Feature::ProgName => {
            try_load(tok, ProgType::SocketFilter, &ret0(), |a| a.name = "test").is_ok()
        }
        Feature::GlobalData => probe_global_data(tok),
        Feature::ArrayMmap => small_map(tok, MapType::Array, 4, 4, 1, BPF_F_MMAPABLE).is_ok(),
        Feature::ExpAttachType => try_load(tok, ProgType::CgroupSock, &ret0(), |a| {
            a.expected_attach_type = Some(AttachType::CgroupInetSockCreate)
        })
        .is_ok(),
        Feature::ProbeReadKernel => probe_probe_read_kernel(tok),
        Feature::ProgBindMap => probe_prog_bind_map(tok),
        Feature::MemcgAccount => probe_memcg_account(tok),
        Feature::BpfCookie => probe_bpf_cookie(tok),
        Feature::RingBuf => probe_map_type_with(MapType::RingBuf, token),
        Feature::PerfLink => probe_perf_link(tok),
        Feature::TcxLink => probe_tcx_link(tok),
        Feature::KprobeMultiLink => probe_kprobe_multi_link(tok),
        Feature::UprobeMultiLink => probe_uprobe_multi_link(tok),
    }
}

/// A program that stores through a `BPF_PSEUDO_MAP_VALUE` pointer into an array map.
fn probe_global_data(tok: Tok<'_>) -> bool {
    let Ok(map) = small_map(tok, MapType::Array, 4, 32, 1, 0) else {
        return false;
    };
    use std::os::fd::AsRawFd;
    let ld = Insn::ld_imm64(1, BPF_PSEUDO_MAP_VALUE, map.as_raw_fd(), 16);
    let insns = [
        ld[0],
        ld[1],
        Insn::st_mem(size::DW, 1, 0, 42),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ];
    try_load(tok, ProgType::SocketFilter, &insns, |_| {}).is_ok()
}

/// A tracepoint program calling `bpf_probe_read_kernel` (113).
fn probe_probe_read_kernel(tok: Tok<'_>) -> bool {
    let insns = [
        Insn::mov64_reg(1, 10),
        Insn::add64_imm(1, -8),
        Insn::mov64_imm(2, 8),
        Insn::mov64_imm(3, 0),
        Insn::call(113),
        Insn::exit(),
    ];
    try_load(tok, ProgType::Tracepoint, &insns, |_| {}).is_ok()
}

/// `BPF_PROG_BIND_MAP` of a small array to a trivial program.
fn probe_prog_bind_map(tok: Tok<'_>) -> bool {
    let (Ok(map), Ok(prog)) = (
        small_map(tok, MapType::Array, 4, 8, 1, 0),
        try_load(tok, ProgType::SocketFilter, &ret0(), |_| {}),
    ) else {
        return false;
    };
    prog_bind_map(prog.as_fd(), map.as_fd(), 0).is_ok()
}

/// A helper of the memcg-accounting release, loaded without raising the memlock limit first.
fn probe_memcg_account(tok: Tok<'_>) -> bool {
    // bpf_ktime_get_coarse_ns (160) arrived in 5.11 together with memcg accounting.
    // Loaded without `with_memlock_raised`, which asks this very probe; an EPERM from a
    // spent RLIMIT_MEMLOCK can only happen on kernels without memcg accounting.
    let bytes = Insn::encode_all(&[Insn::call(160), Insn::exit()]);
    crate::prog::load_quiet(&ProgLoadAttr {
        prog_type: ProgType::SocketFilter,
        insns: &bytes,
        license: c"GPL",
        token: tok,
        ..Default::default()
    })
    .is_ok()
}

/// A tracepoint program calling `bpf_get_attach_cookie`.
fn probe_bpf_cookie(tok: Tok<'_>) -> bool {
    // bpf_get_attach_cookie (174).
    try_load(
        tok,
        ProgType::Tracepoint,
        &[Insn::call(174), Insn::exit()],
        |_| {},
    )
    .is_ok()
}

/// A perf event link to a bad fd, told apart by its errno.
fn probe_perf_link(tok: Tok<'_>) -> bool {
    let Ok(prog) = try_load(tok, ProgType::Tracepoint, &ret0(), |_| {}) else {
        return false;
    };
    // Target fd -1: EBADF if perf links exist, EINVAL if the attach type is unknown.
    link_errno(
        &prog,
        AttachTarget::Ifindex(u32::MAX),
        AttachType::PerfEvent,
        LinkCreateOpts::None,
    ) == Some(libc::EBADF)
}

/// A tcx link to interface 0, told apart by its errno.
fn probe_tcx_link(tok: Tok<'_>) -> bool {
    let Ok(prog) = try_load(tok, ProgType::SchedCls, &ret0(), |_| {}) else {
        return false;
    };
    // Interface 0 does not exist: ENODEV from tcx, EINVAL without it.
    link_errno(
        &prog,
        AttachTarget::Ifindex(0),
        AttachType::TcxIngress,
        LinkCreateOpts::None,
    ) == Some(libc::ENODEV)
}

/// A kprobe-multi link to a missing symbol, told apart by its errno.
fn probe_kprobe_multi_link(tok: Tok<'_>) -> bool {
    let Ok(prog) = try_load(tok, ProgType::Kprobe, &ret0(), |a| {
        a.expected_attach_type = Some(AttachType::TraceKprobeMulti)
    }) else {
        return false;
    };
    let attach = |sym: &std::ffi::CStr| {
        let syms = [sym];
        link_errno(
            &prog,
            AttachTarget::None,
            AttachType::TraceKprobeMulti,
            LinkCreateOpts::KprobeMulti {
                flags: 0,
                syms: &syms,
                addrs: &[],
                cookies: &[],
            },
        )
    };
    // A missing symbol: ESRCH (from ftrace_lookup_symbols, 5.19+) only when
    // kprobe-multi is implemented; EOPNOTSUPP without CONFIG_FPROBE, EINVAL when
    // the attach type is unknown, and also on 5.18, which says EINVAL for a
    // missing symbol too. For that case only, attach for real to
    // bpf_fentry_test1 (called by nothing but BPF_PROG_TEST_RUN), as an
    // unknown attach type fails the same way whatever the symbol.
    match attach(c"corebpf_no_such_kernel_function") {
        Some(libc::ESRCH) => true,
        Some(libc::EINVAL) => attach(c"bpf_fentry_test1") == Some(0),
        _ => false,
    }
}

/// A uprobe-multi link into a directory, told apart by its errno.
fn probe_uprobe_multi_link(tok: Tok<'_>) -> bool {
    let Ok(prog) = try_load(tok, ProgType::Kprobe, &ret0(), |a| {
        a.expected_attach_type = Some(AttachType::TraceUprobeMulti)
    }) else {
        return false;
    };
    // A uprobe in "/" (a directory) fails with EBADF when uprobe-multi exists.
    link_errno(
        &prog,
        AttachTarget::None,
        AttachType::TraceUprobeMulti,
        LinkCreateOpts::UprobeMulti {
            path: c"/",
            offsets: &[0],
            ref_ctr_offsets: &[],
            cookies: &[],
            flags: 0,
            pid: 0,
        },
    ) == Some(libc::EBADF)
}

fn run_prog_type_probe(prog_type: ProgType, tok: Tok<'_>) -> bool {
    let mut log = vec![0u8; 4096];
    let r = match prog_type {
        ProgType::Unspec => return false,
        ProgType::Tracing | ProgType::Lsm | ProgType::StructOps | ProgType::Ext => {
            // These need a real attach target; with BTF id 1 the load fails, but only
            // types the kernel knows get as far as writing a verifier log.
            let bytes = Insn::encode_all(&ret0());
            let attr = ProgLoadAttr {
                prog_type,
                insns: &bytes,
                license: c"GPL",
                attach_btf_id: 1,
                log_level: 1,
                expected_attach_type: match prog_type {
                    ProgType::Tracing => Some(AttachType::TraceFentry),
                    ProgType::Lsm => Some(AttachType::LsmMac),
                    _ => None,
                },
                token: tok,
                ..Default::default()
            };
            match with_memlock_raised(tok, || crate::prog::prog_load(&attr, Some(&mut log))) {
                Ok(_) => return true,
                Err(e) => {
                    return e.log().is_some() || e.raw_errno() == Some(crate::error::ENOTSUPP);
                }
            }
        }
        ProgType::CgroupSockopt => try_load(tok, prog_type, &ret0(), |a| {
            a.expected_attach_type = Some(AttachType::CgroupGetsockopt)
        }),
        ProgType::SkLookup => try_load(tok, prog_type, &ret0(), |a| {
            a.expected_attach_type = Some(AttachType::SkLookup)
        }),
        ProgType::Netfilter => try_load(tok, prog_type, &ret0(), |a| {
            a.expected_attach_type = Some(AttachType::Netfilter)
        }),
        ProgType::Syscall => try_load(tok, prog_type, &ret0(), |a| {
            a.prog_flags = crate::consts::BPF_F_SLEEPABLE
        }),
        ProgType::CgroupSockAddr => try_load(tok, prog_type, &ret0(), |a| {
            a.expected_attach_type = Some(AttachType::CgroupInet4Connect)
        }),
        ProgType::SkSkb | ProgType::SkMsg | ProgType::LircMode2 => {
            try_load(tok, prog_type, &ret0(), |_| {})
        }
        _ => try_load(
            tok,
            prog_type,
            &[Insn::mov64_imm(0, 1), Insn::exit()],
            |_| {},
        ),
    };
    r.is_ok()
}

fn run_map_type_probe(map_type: MapType, tok: Tok<'_>) -> bool {
    let page = crate::mmap::page_size() as u32;
    let r = match map_type {
        MapType::Unspec => return false,
        MapType::LpmTrie => small_map(tok, map_type, 8, 8, 1, BPF_F_NO_PREALLOC),
        MapType::StackTrace => small_map(tok, map_type, 4, 8, 1, 0),
        MapType::CgroupStorage | MapType::PercpuCgroupStorage => {
            small_map(tok, map_type, 16, 8, 0, 0)
        }
        MapType::Queue | MapType::Stack | MapType::BloomFilter => {
            small_map(tok, map_type, 0, 4, 1, 0)
        }
        MapType::RingBuf | MapType::UserRingBuf => small_map(tok, map_type, 0, 0, page, 0),
        MapType::Arena => small_map(tok, map_type, 0, 0, 1, BPF_F_MMAPABLE),
        MapType::ArrayOfMaps | MapType::HashOfMaps => {
            let Ok(inner) = small_map(tok, MapType::Array, 4, 4, 1, 0) else {
                return false;
            };
            create_map(
                &MapCreateAttr {
                    map_type,
                    key_size: 4,
                    value_size: 4,
                    max_entries: 1,
                    inner_map_fd: Some(inner.as_fd()),
                    ..Default::default()
                },
                tok,
            )
        }
        MapType::SkStorage
        | MapType::InodeStorage
        | MapType::TaskStorage
        | MapType::CgrpStorage => {
            // Local storage needs BTF for key and value: [1] int.
            let Ok(btf) = load_btf(&int_type(1), b"\0int\0", tok) else {
                return false;
            };
            create_map(
                &MapCreateAttr {
                    map_type,
                    key_size: 4,
                    value_size: 4,
                    max_entries: 0,
                    map_flags: BPF_F_NO_PREALLOC,
                    btf_fd: Some(btf.as_fd()),
                    btf_key_type_id: 1,
                    btf_value_type_id: 1,
                    ..Default::default()
                },
                tok,
            )
        }
        MapType::StructOps => {
            // Needs a vmlinux struct; a bogus type id gives ENOTSUPP/EINVAL only when the
            // map type exists... which we cannot tell apart: report by errno.
            let r = create_map(
                &MapCreateAttr {
                    map_type,
                    key_size: 4,
                    value_size: 4,
                    max_entries: 1,
                    btf_vmlinux_value_type_id: 1,
                    ..Default::default()
                },
                tok,
            );
            return matches!(r, Err(ref e) if e.raw_errno() == Some(crate::error::ENOTSUPP))
                || r.is_ok();
        }
        _ => small_map(tok, map_type, 4, 4, 1, 0),
    };
    r.is_ok()
}
