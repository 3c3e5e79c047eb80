//! `#[repr(C)]` layouts of the per-command parts of `union bpf_attr`, as in
//! `include/uapi/linux/bpf.h` of Linux 6.18. Every padding hole is an explicit field so
//! that a `Default` value has every byte zeroed, as the kernel requires.

#![allow(missing_docs)]

/// `BPF_MAP_CREATE`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; 16],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
    pub value_type_btf_obj_fd: i32,
    pub map_token_fd: i32,
}

/// `BPF_MAP_*_ELEM`, `BPF_MAP_GET_NEXT_KEY`, `BPF_MAP_FREEZE`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MapElemAttr {
    pub map_fd: u32,
    pub _pad: u32,
    pub key: u64,
    /// `value` or `next_key`.
    pub value: u64,
    pub flags: u64,
}

/// `BPF_MAP_*_BATCH`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MapBatchAttr {
    pub in_batch: u64,
    pub out_batch: u64,
    pub keys: u64,
    pub values: u64,
    pub count: u32,
    pub map_fd: u32,
    pub elem_flags: u64,
    pub flags: u64,
}

/// `BPF_PROG_LOAD`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; 16],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    /// `attach_prog_fd` or `attach_btf_obj_fd`.
    pub attach_prog_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    pub log_true_size: u32,
    pub prog_token_fd: i32,
    pub fd_array_cnt: u32,
}

/// `BPF_OBJ_PIN`, `BPF_OBJ_GET`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ObjAttr {
    pub pathname: u64,
    pub bpf_fd: u32,
    pub file_flags: u32,
    pub path_fd: i32,
    pub _pad: u32,
}

/// `BPF_PROG_ATTACH`, `BPF_PROG_DETACH`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ProgAttachAttr {
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    pub attach_bpf_fd: u32,
    pub attach_type: u32,
    pub attach_flags: u32,
    pub replace_bpf_fd: u32,
    /// `relative_fd` or `relative_id`.
    pub relative: u32,
    pub expected_revision: u64,
}

/// `BPF_PROG_TEST_RUN`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TestRunAttr {
    pub prog_fd: u32,
    pub retval: u32,
    pub data_size_in: u32,
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    pub _pad: u32,
}

/// `BPF_*_GET_NEXT_ID`, `BPF_*_GET_FD_BY_ID`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct GetIdAttr {
    /// `start_id`, `prog_id`, `map_id`, `btf_id` or `link_id`.
    pub id: u32,
    pub next_id: u32,
    pub open_flags: u32,
    pub fd_by_id_token_fd: i32,
}

/// `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct InfoAttr {
    pub bpf_fd: u32,
    pub info_len: u32,
    pub info: u64,
}

/// `BPF_PROG_QUERY`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct QueryAttr {
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    pub attach_type: u32,
    pub query_flags: u32,
    pub attach_flags: u32,
    pub prog_ids: u64,
    /// `prog_cnt` / `count`.
    pub count: u32,
    pub _pad: u32,
    pub prog_attach_flags: u64,
    pub link_ids: u64,
    pub link_attach_flags: u64,
    pub revision: u64,
}

/// `BPF_RAW_TRACEPOINT_OPEN`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RawTracepointAttr {
    pub name: u64,
    pub prog_fd: u32,
    pub _pad: u32,
    pub cookie: u64,
}

/// `BPF_BTF_LOAD`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    pub btf_log_true_size: u32,
    pub btf_flags: u32,
    pub btf_token_fd: i32,
}

/// `link_create.iter_info` part of the `BPF_LINK_CREATE` union.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkIterExtra {
    pub iter_info: u64,
    pub iter_info_len: u32,
    pub _pad: u32,
}

/// `link_create.perf_event`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkPerfEventExtra {
    pub bpf_cookie: u64,
}

/// `link_create.kprobe_multi`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkKprobeMultiExtra {
    pub flags: u32,
    pub cnt: u32,
    pub syms: u64,
    pub addrs: u64,
    pub cookies: u64,
}

/// `link_create.tracing` (its first field overlays `target_btf_id`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkTracingExtra {
    pub target_btf_id: u32,
    pub _pad: u32,
    pub cookie: u64,
}

/// `link_create.netfilter`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkNetfilterExtra {
    pub pf: u32,
    pub hooknum: u32,
    pub priority: i32,
    pub flags: u32,
}

/// `link_create.tcx`, `.netkit` and `.cgroup` (same layout).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkMprogExtra {
    /// `relative_fd` or `relative_id`.
    pub relative: u32,
    pub _pad: u32,
    pub expected_revision: u64,
}

/// `link_create.uprobe_multi`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkUprobeMultiExtra {
    pub path: u64,
    pub offsets: u64,
    pub ref_ctr_offsets: u64,
    pub cookies: u64,
    pub cnt: u32,
    pub flags: u32,
    pub pid: u32,
    pub _pad: u32,
}

/// The per-attach-type union at the end of `link_create`: 48 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) union LinkCreateExtra {
    pub raw: [u64; 6],
    pub target_btf_id: u32,
    pub iter: LinkIterExtra,
    pub perf_event: LinkPerfEventExtra,
    pub kprobe_multi: LinkKprobeMultiExtra,
    pub tracing: LinkTracingExtra,
    pub netfilter: LinkNetfilterExtra,
    pub mprog: LinkMprogExtra,
    pub uprobe_multi: LinkUprobeMultiExtra,
}

impl Default for LinkCreateExtra {
    fn default() -> Self {
        LinkCreateExtra { raw: [0; 6] }
    }
}

/// `BPF_LINK_CREATE`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct LinkCreateAttr {
    /// `prog_fd` or `map_fd`.
    pub prog_fd: u32,
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub extra: LinkCreateExtra,
}

/// `BPF_LINK_UPDATE`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LinkUpdateAttr {
    pub link_fd: u32,
    pub new_prog_fd: u32,
    pub flags: u32,
    pub old_prog_fd: u32,
}

/// `BPF_LINK_DETACH`, `BPF_ENABLE_STATS`, `BPF_ITER_CREATE`, `BPF_MAP_FREEZE`-like
/// commands that take one or two `u32`s.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TwoU32Attr {
    pub a: u32,
    pub b: u32,
}

/// `BPF_PROG_BIND_MAP`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ProgBindMapAttr {
    pub prog_fd: u32,
    pub map_fd: u32,
    pub flags: u32,
    pub _pad: u32,
}

const _: () = {
    use std::mem::size_of;
    assert!(size_of::<MapCreateAttr>() == 80);
    assert!(size_of::<MapElemAttr>() == 32);
    assert!(size_of::<MapBatchAttr>() == 56);
    assert!(size_of::<ProgLoadAttr>() == 152);
    assert!(size_of::<ObjAttr>() == 24);
    assert!(size_of::<ProgAttachAttr>() == 32);
    assert!(size_of::<TestRunAttr>() == 80);
    assert!(size_of::<QueryAttr>() == 64);
    assert!(size_of::<RawTracepointAttr>() == 24);
    assert!(size_of::<BtfLoadAttr>() == 40);
    assert!(size_of::<LinkCreateExtra>() == 48);
    assert!(size_of::<LinkCreateAttr>() == 64);
    assert!(std::mem::offset_of!(ProgLoadAttr, fd_array) == 120);
    assert!(std::mem::offset_of!(ProgLoadAttr, log_true_size) == 140);
    assert!(std::mem::offset_of!(MapCreateAttr, map_extra) == 64);
    assert!(std::mem::offset_of!(LinkCreateAttr, extra) == 16);
};
