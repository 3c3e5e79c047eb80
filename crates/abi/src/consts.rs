//! Kernel constants: commands, program/map/attach/link types as typed enums with the
//! kernel's (bpftool's) lowercase names, `BPF_F_*` flags and pseudo `src_reg` values.

use std::fmt;

use crate::UnknownValue;

/// Defines a `#[repr(u32)]` enum mirroring a kernel enum, with `name()`, `kernel_name()`,
/// `from_name()`, `ALL`, `TryFrom<u32>`, `From<Self> for u32` and `Display`.
macro_rules! kernel_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $ckind:literal {
            $($variant:ident = $value:literal, $kname:literal, $lname:literal;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum $name {
            $(
                #[doc = concat!("`", $kname, "` (", stringify!($value), ", \"", $lname, "\")")]
                $variant = $value,
            )*
        }

        impl $name {
            /// Every variant, in kernel order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The kernel's lowercase name, as bpftool and libbpf print it.
            pub const fn name(self) -> &'static str {
                match self { $($name::$variant => $lname,)* }
            }

            /// The kernel's C constant name.
            pub const fn kernel_name(self) -> &'static str {
                match self { $($name::$variant => $kname,)* }
            }

            /// Looks a variant up by its lowercase name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($lname => Some($name::$variant),)* _ => None }
            }

            /// The numeric value passed to the kernel.
            pub const fn as_u32(self) -> u32 {
                self as u32
            }
        }

        impl TryFrom<u32> for $name {
            type Error = UnknownValue;
            fn try_from(value: u32) -> Result<Self, UnknownValue> {
                match value {
                    $($value => Ok($name::$variant),)*
                    _ => Err(UnknownValue { kind: $ckind, value }),
                }
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v as u32
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

kernel_enum! {
    /// `enum bpf_cmd`: the first argument of `bpf(2)`.
    pub enum Cmd: "bpf_cmd" {
        MapCreate = 0, "BPF_MAP_CREATE", "BPF_MAP_CREATE";
        MapLookupElem = 1, "BPF_MAP_LOOKUP_ELEM", "BPF_MAP_LOOKUP_ELEM";
        MapUpdateElem = 2, "BPF_MAP_UPDATE_ELEM", "BPF_MAP_UPDATE_ELEM";
        MapDeleteElem = 3, "BPF_MAP_DELETE_ELEM", "BPF_MAP_DELETE_ELEM";
        MapGetNextKey = 4, "BPF_MAP_GET_NEXT_KEY", "BPF_MAP_GET_NEXT_KEY";
        ProgLoad = 5, "BPF_PROG_LOAD", "BPF_PROG_LOAD";
        ObjPin = 6, "BPF_OBJ_PIN", "BPF_OBJ_PIN";
        ObjGet = 7, "BPF_OBJ_GET", "BPF_OBJ_GET";
        ProgAttach = 8, "BPF_PROG_ATTACH", "BPF_PROG_ATTACH";
        ProgDetach = 9, "BPF_PROG_DETACH", "BPF_PROG_DETACH";
        ProgTestRun = 10, "BPF_PROG_TEST_RUN", "BPF_PROG_TEST_RUN";
        ProgGetNextId = 11, "BPF_PROG_GET_NEXT_ID", "BPF_PROG_GET_NEXT_ID";
        MapGetNextId = 12, "BPF_MAP_GET_NEXT_ID", "BPF_MAP_GET_NEXT_ID";
        ProgGetFdById = 13, "BPF_PROG_GET_FD_BY_ID", "BPF_PROG_GET_FD_BY_ID";
        MapGetFdById = 14, "BPF_MAP_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID";
        ObjGetInfoByFd = 15, "BPF_OBJ_GET_INFO_BY_FD", "BPF_OBJ_GET_INFO_BY_FD";
        ProgQuery = 16, "BPF_PROG_QUERY", "BPF_PROG_QUERY";
        RawTracepointOpen = 17, "BPF_RAW_TRACEPOINT_OPEN", "BPF_RAW_TRACEPOINT_OPEN";
        BtfLoad = 18, "BPF_BTF_LOAD", "BPF_BTF_LOAD";
        BtfGetFdById = 19, "BPF_BTF_GET_FD_BY_ID", "BPF_BTF_GET_FD_BY_ID";
        TaskFdQuery = 20, "BPF_TASK_FD_QUERY", "BPF_TASK_FD_QUERY";
        MapLookupAndDeleteElem = 21, "BPF_MAP_LOOKUP_AND_DELETE_ELEM", "BPF_MAP_LOOKUP_AND_DELETE_ELEM";
        MapFreeze = 22, "BPF_MAP_FREEZE", "BPF_MAP_FREEZE";
        BtfGetNextId = 23, "BPF_BTF_GET_NEXT_ID", "BPF_BTF_GET_NEXT_ID";
        MapLookupBatch = 24, "BPF_MAP_LOOKUP_BATCH", "BPF_MAP_LOOKUP_BATCH";
        MapLookupAndDeleteBatch = 25, "BPF_MAP_LOOKUP_AND_DELETE_BATCH", "BPF_MAP_LOOKUP_AND_DELETE_BATCH";
        MapUpdateBatch = 26, "BPF_MAP_UPDATE_BATCH", "BPF_MAP_UPDATE_BATCH";
        MapDeleteBatch = 27, "BPF_MAP_DELETE_BATCH", "BPF_MAP_DELETE_BATCH";
        LinkCreate = 28, "BPF_LINK_CREATE", "BPF_LINK_CREATE";
        LinkUpdate = 29, "BPF_LINK_UPDATE", "BPF_LINK_UPDATE";
        LinkGetFdById = 30, "BPF_LINK_GET_FD_BY_ID", "BPF_LINK_GET_FD_BY_ID";
        LinkGetNextId = 31, "BPF_LINK_GET_NEXT_ID", "BPF_LINK_GET_NEXT_ID";
        EnableStats = 32, "BPF_ENABLE_STATS", "BPF_ENABLE_STATS";
        IterCreate = 33, "BPF_ITER_CREATE", "BPF_ITER_CREATE";
        LinkDetach = 34, "BPF_LINK_DETACH", "BPF_LINK_DETACH";
        ProgBindMap = 35, "BPF_PROG_BIND_MAP", "BPF_PROG_BIND_MAP";
        TokenCreate = 36, "BPF_TOKEN_CREATE", "BPF_TOKEN_CREATE";
    }
}

kernel_enum! {
    /// `enum bpf_prog_type`.
    pub enum ProgType: "bpf_prog_type" {
        Unspec = 0, "BPF_PROG_TYPE_UNSPEC", "unspec";
        SocketFilter = 1, "BPF_PROG_TYPE_SOCKET_FILTER", "socket_filter";
        Kprobe = 2, "BPF_PROG_TYPE_KPROBE", "kprobe";
        SchedCls = 3, "BPF_PROG_TYPE_SCHED_CLS", "sched_cls";
        SchedAct = 4, "BPF_PROG_TYPE_SCHED_ACT", "sched_act";
        Tracepoint = 5, "BPF_PROG_TYPE_TRACEPOINT", "tracepoint";
        Xdp = 6, "BPF_PROG_TYPE_XDP", "xdp";
        PerfEvent = 7, "BPF_PROG_TYPE_PERF_EVENT", "perf_event";
        CgroupSkb = 8, "BPF_PROG_TYPE_CGROUP_SKB", "cgroup_skb";
        CgroupSock = 9, "BPF_PROG_TYPE_CGROUP_SOCK", "cgroup_sock";
        LwtIn = 10, "BPF_PROG_TYPE_LWT_IN", "lwt_in";
        LwtOut = 11, "BPF_PROG_TYPE_LWT_OUT", "lwt_out";
        LwtXmit = 12, "BPF_PROG_TYPE_LWT_XMIT", "lwt_xmit";
        SockOps = 13, "BPF_PROG_TYPE_SOCK_OPS", "sock_ops";
        SkSkb = 14, "BPF_PROG_TYPE_SK_SKB", "sk_skb";
        CgroupDevice = 15, "BPF_PROG_TYPE_CGROUP_DEVICE", "cgroup_device";
        SkMsg = 16, "BPF_PROG_TYPE_SK_MSG", "sk_msg";
        RawTracepoint = 17, "BPF_PROG_TYPE_RAW_TRACEPOINT", "raw_tracepoint";
        CgroupSockAddr = 18, "BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "cgroup_sock_addr";
        LwtSeg6local = 19, "BPF_PROG_TYPE_LWT_SEG6LOCAL", "lwt_seg6local";
        LircMode2 = 20, "BPF_PROG_TYPE_LIRC_MODE2", "lirc_mode2";
        SkReuseport = 21, "BPF_PROG_TYPE_SK_REUSEPORT", "sk_reuseport";
        FlowDissector = 22, "BPF_PROG_TYPE_FLOW_DISSECTOR", "flow_dissector";
        CgroupSysctl = 23, "BPF_PROG_TYPE_CGROUP_SYSCTL", "cgroup_sysctl";
        RawTracepointWritable = 24, "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE", "raw_tracepoint_writable";
        CgroupSockopt = 25, "BPF_PROG_TYPE_CGROUP_SOCKOPT", "cgroup_sockopt";
        Tracing = 26, "BPF_PROG_TYPE_TRACING", "tracing";
        StructOps = 27, "BPF_PROG_TYPE_STRUCT_OPS", "struct_ops";
        Ext = 28, "BPF_PROG_TYPE_EXT", "ext";
        Lsm = 29, "BPF_PROG_TYPE_LSM", "lsm";
        SkLookup = 30, "BPF_PROG_TYPE_SK_LOOKUP", "sk_lookup";
        Syscall = 31, "BPF_PROG_TYPE_SYSCALL", "syscall";
        Netfilter = 32, "BPF_PROG_TYPE_NETFILTER", "netfilter";
    }
}

kernel_enum! {
    /// `enum bpf_map_type`.
    pub enum MapType: "bpf_map_type" {
        Unspec = 0, "BPF_MAP_TYPE_UNSPEC", "unspec";
        Hash = 1, "BPF_MAP_TYPE_HASH", "hash";
        Array = 2, "BPF_MAP_TYPE_ARRAY", "array";
        ProgArray = 3, "BPF_MAP_TYPE_PROG_ARRAY", "prog_array";
        PerfEventArray = 4, "BPF_MAP_TYPE_PERF_EVENT_ARRAY", "perf_event_array";
        PercpuHash = 5, "BPF_MAP_TYPE_PERCPU_HASH", "percpu_hash";
        PercpuArray = 6, "BPF_MAP_TYPE_PERCPU_ARRAY", "percpu_array";
        StackTrace = 7, "BPF_MAP_TYPE_STACK_TRACE", "stack_trace";
        CgroupArray = 8, "BPF_MAP_TYPE_CGROUP_ARRAY", "cgroup_array";
        LruHash = 9, "BPF_MAP_TYPE_LRU_HASH", "lru_hash";
        LruPercpuHash = 10, "BPF_MAP_TYPE_LRU_PERCPU_HASH", "lru_percpu_hash";
        LpmTrie = 11, "BPF_MAP_TYPE_LPM_TRIE", "lpm_trie";
        ArrayOfMaps = 12, "BPF_MAP_TYPE_ARRAY_OF_MAPS", "array_of_maps";
        HashOfMaps = 13, "BPF_MAP_TYPE_HASH_OF_MAPS", "hash_of_maps";
        Devmap = 14, "BPF_MAP_TYPE_DEVMAP", "devmap";
        Sockmap = 15, "BPF_MAP_TYPE_SOCKMAP", "sockmap";
        Cpumap = 16, "BPF_MAP_TYPE_CPUMAP", "cpumap";
        Xskmap = 17, "BPF_MAP_TYPE_XSKMAP", "xskmap";
        Sockhash = 18, "BPF_MAP_TYPE_SOCKHASH", "sockhash";
        CgroupStorage = 19, "BPF_MAP_TYPE_CGROUP_STORAGE", "cgroup_storage";
        ReuseportSockarray = 20, "BPF_MAP_TYPE_REUSEPORT_SOCKARRAY", "reuseport_sockarray";
        PercpuCgroupStorage = 21, "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE", "percpu_cgroup_storage";
        Queue = 22, "BPF_MAP_TYPE_QUEUE", "queue";
        Stack = 23, "BPF_MAP_TYPE_STACK", "stack";
        SkStorage = 24, "BPF_MAP_TYPE_SK_STORAGE", "sk_storage";
        DevmapHash = 25, "BPF_MAP_TYPE_DEVMAP_HASH", "devmap_hash";
        StructOps = 26, "BPF_MAP_TYPE_STRUCT_OPS", "struct_ops";
        RingBuf = 27, "BPF_MAP_TYPE_RINGBUF", "ringbuf";
        InodeStorage = 28, "BPF_MAP_TYPE_INODE_STORAGE", "inode_storage";
        TaskStorage = 29, "BPF_MAP_TYPE_TASK_STORAGE", "task_storage";
        BloomFilter = 30, "BPF_MAP_TYPE_BLOOM_FILTER", "bloom_filter";
        UserRingBuf = 31, "BPF_MAP_TYPE_USER_RINGBUF", "user_ringbuf";
        CgrpStorage = 32, "BPF_MAP_TYPE_CGRP_STORAGE", "cgrp_storage";
        Arena = 33, "BPF_MAP_TYPE_ARENA", "arena";
    }
}

#[allow(clippy::derivable_impls)] // the enum is macro-generated
impl Default for MapType {
    fn default() -> Self {
        MapType::Unspec
    }
}

#[allow(clippy::derivable_impls)] // the enum is macro-generated
impl Default for ProgType {
    fn default() -> Self {
        ProgType::Unspec
    }
}

impl MapType {
    /// True for the per-CPU map types, whose values user space reads and writes as
    /// one 8-byte-aligned slot per possible CPU.
    pub const fn is_percpu(self) -> bool {
        matches!(
            self,
            MapType::PercpuHash
                | MapType::PercpuArray
                | MapType::LruPercpuHash
                | MapType::PercpuCgroupStorage
        )
    }
}

kernel_enum! {
    /// `enum bpf_attach_type`.
    pub enum AttachType: "bpf_attach_type" {
        CgroupInetIngress = 0, "BPF_CGROUP_INET_INGRESS", "cgroup_inet_ingress";
        CgroupInetEgress = 1, "BPF_CGROUP_INET_EGRESS", "cgroup_inet_egress";
        CgroupInetSockCreate = 2, "BPF_CGROUP_INET_SOCK_CREATE", "cgroup_inet_sock_create";
        CgroupSockOps = 3, "BPF_CGROUP_SOCK_OPS", "cgroup_sock_ops";
        SkSkbStreamParser = 4, "BPF_SK_SKB_STREAM_PARSER", "sk_skb_stream_parser";
        SkSkbStreamVerdict = 5, "BPF_SK_SKB_STREAM_VERDICT", "sk_skb_stream_verdict";
        CgroupDevice = 6, "BPF_CGROUP_DEVICE", "cgroup_device";
        SkMsgVerdict = 7, "BPF_SK_MSG_VERDICT", "sk_msg_verdict";
        CgroupInet4Bind = 8, "BPF_CGROUP_INET4_BIND", "cgroup_inet4_bind";
        CgroupInet6Bind = 9, "BPF_CGROUP_INET6_BIND", "cgroup_inet6_bind";
        CgroupInet4Connect = 10, "BPF_CGROUP_INET4_CONNECT", "cgroup_inet4_connect";
        CgroupInet6Connect = 11, "BPF_CGROUP_INET6_CONNECT", "cgroup_inet6_connect";
        CgroupInet4PostBind = 12, "BPF_CGROUP_INET4_POST_BIND", "cgroup_inet4_post_bind";
        CgroupInet6PostBind = 13, "BPF_CGROUP_INET6_POST_BIND", "cgroup_inet6_post_bind";
        CgroupUdp4Sendmsg = 14, "BPF_CGROUP_UDP4_SENDMSG", "cgroup_udp4_sendmsg";
        CgroupUdp6Sendmsg = 15, "BPF_CGROUP_UDP6_SENDMSG", "cgroup_udp6_sendmsg";
        LircMode2 = 16, "BPF_LIRC_MODE2", "lirc_mode2";
        FlowDissector = 17, "BPF_FLOW_DISSECTOR", "flow_dissector";
        CgroupSysctl = 18, "BPF_CGROUP_SYSCTL", "cgroup_sysctl";
        CgroupUdp4Recvmsg = 19, "BPF_CGROUP_UDP4_RECVMSG", "cgroup_udp4_recvmsg";
        CgroupUdp6Recvmsg = 20, "BPF_CGROUP_UDP6_RECVMSG", "cgroup_udp6_recvmsg";
        CgroupGetsockopt = 21, "BPF_CGROUP_GETSOCKOPT", "cgroup_getsockopt";
        CgroupSetsockopt = 22, "BPF_CGROUP_SETSOCKOPT", "cgroup_setsockopt";
        TraceRawTp = 23, "BPF_TRACE_RAW_TP", "trace_raw_tp";
        TraceFentry = 24, "BPF_TRACE_FENTRY", "trace_fentry";
        TraceFexit = 25, "BPF_TRACE_FEXIT", "trace_fexit";
        ModifyReturn = 26, "BPF_MODIFY_RETURN", "modify_return";
        LsmMac = 27, "BPF_LSM_MAC", "lsm_mac";
        TraceIter = 28, "BPF_TRACE_ITER", "trace_iter";
        CgroupInet4Getpeername = 29, "BPF_CGROUP_INET4_GETPEERNAME", "cgroup_inet4_getpeername";
        CgroupInet6Getpeername = 30, "BPF_CGROUP_INET6_GETPEERNAME", "cgroup_inet6_getpeername";
        CgroupInet4Getsockname = 31, "BPF_CGROUP_INET4_GETSOCKNAME", "cgroup_inet4_getsockname";
        CgroupInet6Getsockname = 32, "BPF_CGROUP_INET6_GETSOCKNAME", "cgroup_inet6_getsockname";
        XdpDevmap = 33, "BPF_XDP_DEVMAP", "xdp_devmap";
        CgroupInetSockRelease = 34, "BPF_CGROUP_INET_SOCK_RELEASE", "cgroup_inet_sock_release";
        XdpCpumap = 35, "BPF_XDP_CPUMAP", "xdp_cpumap";
        SkLookup = 36, "BPF_SK_LOOKUP", "sk_lookup";
        Xdp = 37, "BPF_XDP", "xdp";
        SkSkbVerdict = 38, "BPF_SK_SKB_VERDICT", "sk_skb_verdict";
        SkReuseportSelect = 39, "BPF_SK_REUSEPORT_SELECT", "sk_reuseport_select";
        SkReuseportSelectOrMigrate = 40, "BPF_SK_REUSEPORT_SELECT_OR_MIGRATE", "sk_reuseport_select_or_migrate";
        PerfEvent = 41, "BPF_PERF_EVENT", "perf_event";
        TraceKprobeMulti = 42, "BPF_TRACE_KPROBE_MULTI", "trace_kprobe_multi";
        LsmCgroup = 43, "BPF_LSM_CGROUP", "lsm_cgroup";
        StructOps = 44, "BPF_STRUCT_OPS", "struct_ops";
        Netfilter = 45, "BPF_NETFILTER", "netfilter";
        TcxIngress = 46, "BPF_TCX_INGRESS", "tcx_ingress";
        TcxEgress = 47, "BPF_TCX_EGRESS", "tcx_egress";
        TraceUprobeMulti = 48, "BPF_TRACE_UPROBE_MULTI", "trace_uprobe_multi";
        CgroupUnixConnect = 49, "BPF_CGROUP_UNIX_CONNECT", "cgroup_unix_connect";
        CgroupUnixSendmsg = 50, "BPF_CGROUP_UNIX_SENDMSG", "cgroup_unix_sendmsg";
        CgroupUnixRecvmsg = 51, "BPF_CGROUP_UNIX_RECVMSG", "cgroup_unix_recvmsg";
        CgroupUnixGetpeername = 52, "BPF_CGROUP_UNIX_GETPEERNAME", "cgroup_unix_getpeername";
        CgroupUnixGetsockname = 53, "BPF_CGROUP_UNIX_GETSOCKNAME", "cgroup_unix_getsockname";
        NetkitPrimary = 54, "BPF_NETKIT_PRIMARY", "netkit_primary";
        NetkitPeer = 55, "BPF_NETKIT_PEER", "netkit_peer";
        TraceKprobeSession = 56, "BPF_TRACE_KPROBE_SESSION", "trace_kprobe_session";
        TraceUprobeSession = 57, "BPF_TRACE_UPROBE_SESSION", "trace_uprobe_session";
        TraceFsession = 58, "BPF_TRACE_FSESSION", "trace_fsession";
        TraceFentryMulti = 59, "BPF_TRACE_FENTRY_MULTI", "trace_fentry_multi";
        TraceFexitMulti = 60, "BPF_TRACE_FEXIT_MULTI", "trace_fexit_multi";
        TraceFsessionMulti = 61, "BPF_TRACE_FSESSION_MULTI", "trace_fsession_multi";
    }
}

kernel_enum! {
    /// `enum bpf_link_type`.
    pub enum LinkType: "bpf_link_type" {
        Unspec = 0, "BPF_LINK_TYPE_UNSPEC", "unspec";
        RawTracepoint = 1, "BPF_LINK_TYPE_RAW_TRACEPOINT", "raw_tracepoint";
        Tracing = 2, "BPF_LINK_TYPE_TRACING", "tracing";
        Cgroup = 3, "BPF_LINK_TYPE_CGROUP", "cgroup";
        Iter = 4, "BPF_LINK_TYPE_ITER", "iter";
        Netns = 5, "BPF_LINK_TYPE_NETNS", "netns";
        Xdp = 6, "BPF_LINK_TYPE_XDP", "xdp";
        PerfEvent = 7, "BPF_LINK_TYPE_PERF_EVENT", "perf_event";
        KprobeMulti = 8, "BPF_LINK_TYPE_KPROBE_MULTI", "kprobe_multi";
        StructOps = 9, "BPF_LINK_TYPE_STRUCT_OPS", "struct_ops";
        Netfilter = 10, "BPF_LINK_TYPE_NETFILTER", "netfilter";
        Tcx = 11, "BPF_LINK_TYPE_TCX", "tcx";
        UprobeMulti = 12, "BPF_LINK_TYPE_UPROBE_MULTI", "uprobe_multi";
        Netkit = 13, "BPF_LINK_TYPE_NETKIT", "netkit";
        Sockmap = 14, "BPF_LINK_TYPE_SOCKMAP", "sockmap";
        TracingMulti = 15, "BPF_LINK_TYPE_TRACING_MULTI", "tracing_multi";
    }
}

kernel_enum! {
    /// `enum bpf_stats_type`, for `BPF_ENABLE_STATS`.
    pub enum StatsType: "bpf_stats_type" {
        RunTime = 0, "BPF_STATS_RUN_TIME", "run_time";
    }
}

/// Length of object names (`map_name`, `prog_name`), including the terminating NUL.
pub const BPF_OBJ_NAME_LEN: usize = 16;

/// `src_reg` of `LD_IMM64`: `imm` is a map fd.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `src_reg` of `LD_IMM64`: `imm` is a map fd, `imm` of the second half an offset into its value.
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
/// `src_reg` of `LD_IMM64`: `imm` is the BTF id of a kernel variable.
pub const BPF_PSEUDO_BTF_ID: u8 = 3;
/// `src_reg` of `LD_IMM64`: `imm` is an instruction offset to a function.
pub const BPF_PSEUDO_FUNC: u8 = 4;
/// `src_reg` of `LD_IMM64`: `imm` is an index into `fd_array`.
pub const BPF_PSEUDO_MAP_IDX: u8 = 5;
/// `src_reg` of `LD_IMM64`: `imm` is an index into `fd_array`, plus a value offset.
pub const BPF_PSEUDO_MAP_IDX_VALUE: u8 = 6;
/// `src_reg` of `CALL`: `imm` is a pc-relative offset to a BPF function.
pub const BPF_PSEUDO_CALL: u8 = 1;
/// `src_reg` of `CALL`: `imm` is the BTF id of a kernel function (kfunc).
pub const BPF_PSEUDO_KFUNC_CALL: u8 = 2;

/// `BPF_MAP_UPDATE_ELEM` flag: create or update.
pub const BPF_ANY: u64 = 0;
/// `BPF_MAP_UPDATE_ELEM` flag: create only.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_MAP_UPDATE_ELEM` flag: update only.
pub const BPF_EXIST: u64 = 2;
/// Map element flag: take the value's `bpf_spin_lock`.
pub const BPF_F_LOCK: u64 = 4;

/// `map_flags`: do not preallocate hash elements.
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
/// `map_flags`: per-CPU LRU lists.
pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
/// `map_flags`: `numa_node` is valid.
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
/// `map_flags` / `file_flags` / `open_flags`: read-only from user space.
pub const BPF_F_RDONLY: u32 = 1 << 3;
/// `map_flags` / `file_flags` / `open_flags`: write-only from user space.
pub const BPF_F_WRONLY: u32 = 1 << 4;
/// `map_flags`: stack map stores build id + offset.
pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
/// `map_flags`: zero the hash seed (testing).
pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
/// `map_flags`: read-only for programs.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `map_flags`: write-only for programs.
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
/// `map_flags`: clone local storage to child sockets.
pub const BPF_F_CLONE: u32 = 1 << 9;
/// `map_flags`: the map can be `mmap`ed.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// `map_flags`: keep perf event array elements when the fd is closed.
pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
/// `map_flags`: inner map of a map-in-map with differing max_entries.
pub const BPF_F_INNER_MAP: u32 = 1 << 12;
/// `map_flags`: struct_ops map usable with links.
pub const BPF_F_LINK: u32 = 1 << 13;
/// `file_flags`: `path_fd` is valid.
pub const BPF_F_PATH_FD: u32 = 1 << 14;
/// `map_flags`: `value_type_btf_obj_fd` is valid.
pub const BPF_F_VTYPE_BTF_OBJ_FD: u32 = 1 << 15;
/// Flags: a BPF token fd is passed.
pub const BPF_F_TOKEN_FD: u32 = 1 << 16;
/// `map_flags` (arena): SIGSEGV on faults.
pub const BPF_F_SEGV_ON_FAULT: u32 = 1 << 17;
/// `map_flags` (arena): no user-pointer conversion.
pub const BPF_F_NO_USER_CONV: u32 = 1 << 18;

/// `prog_flags`: strict alignment checks.
pub const BPF_F_STRICT_ALIGNMENT: u32 = 1 << 0;
/// `prog_flags`: allow unaligned accesses (testing).
pub const BPF_F_ANY_ALIGNMENT: u32 = 1 << 1;
/// `prog_flags`: randomize high 32 bits (testing).
pub const BPF_F_TEST_RND_HI32: u32 = 1 << 2;
/// `prog_flags`: state freq (testing).
pub const BPF_F_TEST_STATE_FREQ: u32 = 1 << 3;
/// `prog_flags`: sleepable program.
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// `prog_flags`: XDP program supports fragments.
pub const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;
/// `prog_flags`: XDP program bound to a device for metadata kfuncs.
pub const BPF_F_XDP_DEV_BOUND_ONLY: u32 = 1 << 6;

/// `BPF_PROG_ATTACH` flag (cgroup): allow overriding by descendants.
pub const BPF_F_ALLOW_OVERRIDE: u32 = 1 << 0;
/// `BPF_PROG_ATTACH` flag (cgroup): allow multiple programs.
pub const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
/// `BPF_PROG_ATTACH` / `BPF_LINK_UPDATE` flag: replace the given program.
pub const BPF_F_REPLACE: u32 = 1 << 2;
/// mprog flag: insert before the relative program/link.
pub const BPF_F_BEFORE: u32 = 1 << 3;
/// mprog flag: insert after the relative program/link.
pub const BPF_F_AFTER: u32 = 1 << 4;
/// mprog flag: relative target is an id, not an fd.
pub const BPF_F_ID: u32 = 1 << 5;
/// mprog flag: relative target is a link.
pub const BPF_F_LINK_MPROG: u32 = 1 << 13;

/// `BPF_PROG_QUERY` flag: effective programs.
pub const BPF_F_QUERY_EFFECTIVE: u32 = 1 << 0;

/// `BPF_PROG_TEST_RUN` flag: run on the cpu given in `cpu`.
pub const BPF_F_TEST_RUN_ON_CPU: u32 = 1 << 0;
/// `BPF_PROG_TEST_RUN` flag: XDP live frames mode.
pub const BPF_F_TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;

/// Kprobe-multi link flag: return probes.
pub const BPF_F_KPROBE_MULTI_RETURN: u32 = 1 << 0;
/// Uprobe-multi link flag: return probes.
pub const BPF_F_UPROBE_MULTI_RETURN: u32 = 1 << 0;

/// Verifier log level 1: the instructions and states of a failure.
pub const BPF_LOG_LEVEL1: u32 = 1;
/// Verifier log level 2: every instruction.
pub const BPF_LOG_LEVEL2: u32 = 2;
/// Verifier log: statistics only.
pub const BPF_LOG_STATS: u32 = 4;
/// Verifier log: do not rotate (keep the head on overflow).
pub const BPF_LOG_FIXED: u32 = 8;

/// `XDP_FLAGS_*` for netlink XDP attach: fail if a program is already attached.
pub const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1 << 0;
/// Generic (skb) XDP mode.
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// Native driver XDP mode.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// Hardware-offloaded XDP mode.
pub const XDP_FLAGS_HW_MODE: u32 = 1 << 3;
/// Replace only the program given as expected fd.
pub const XDP_FLAGS_REPLACE: u32 = 1 << 4;

/// XDP action: abort (error).
pub const XDP_ABORTED: u32 = 0;
/// XDP action: drop.
pub const XDP_DROP: u32 = 1;
/// XDP action: pass to the stack.
pub const XDP_PASS: u32 = 2;
/// XDP action: transmit back.
pub const XDP_TX: u32 = 3;
/// XDP action: redirect.
pub const XDP_REDIRECT: u32 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in ProgType::ALL {
            assert_eq!(ProgType::from_name(t.name()), Some(*t));
            assert_eq!(ProgType::try_from(t.as_u32()), Ok(*t));
        }
        for t in MapType::ALL {
            assert_eq!(MapType::try_from(u32::from(*t)), Ok(*t));
        }
        for (i, t) in AttachType::ALL.iter().enumerate() {
            assert_eq!(t.as_u32() as usize, i, "attach types are dense");
        }
        assert_eq!(MapType::RingBuf.name(), "ringbuf");
        assert_eq!(ProgType::SocketFilter.name(), "socket_filter");
        assert_eq!(AttachType::TraceFentry.as_u32(), 24);
        assert_eq!(AttachType::TcxIngress.as_u32(), 46);
        assert_eq!(LinkType::Sockmap.as_u32(), 14);
        // The session and multi tracing attach types of libbpf 1.7's bpf.h.
        assert_eq!(AttachType::NetkitPrimary.as_u32(), 54);
        assert_eq!(AttachType::TraceKprobeSession.as_u32(), 56);
        assert_eq!(AttachType::TraceUprobeSession.as_u32(), 57);
        assert_eq!(AttachType::TraceFsession.as_u32(), 58);
        assert_eq!(AttachType::TraceFsessionMulti.as_u32(), 61);
        assert_eq!(LinkType::TracingMulti.as_u32(), 15);
        assert_eq!(
            AttachType::from_name("trace_fsession"),
            Some(AttachType::TraceFsession)
        );
        assert_eq!(Cmd::ProgLoad.kernel_name(), "BPF_PROG_LOAD");
        assert!(ProgType::try_from(9999).is_err());
    }
}
