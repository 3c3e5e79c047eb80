//! `BPF_OBJ_GET_INFO_BY_FD`: typed `bpf_prog_info`, `bpf_map_info`, `bpf_btf_info` and
//! `bpf_link_info`.
//!
//! The structs are the kernel's layouts (Linux 6.18) with public fields. They are only
//! ever filled by the kernel through this module's functions, which always zero the
//! pointer fields first except where a function passes its own buffer.

use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::attr::InfoAttr;
use crate::consts::{AttachType, Cmd, LinkType, MapType, ProgType};
use crate::error::SysError;
use crate::sys::{name_from_bytes, sys_bpf};

/// `struct bpf_prog_info`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BpfProgInfo {
    /// `enum bpf_prog_type`.
    pub type_: u32,
    /// Program id.
    pub id: u32,
    /// Program tag (hash of the instructions).
    pub tag: [u8; 8],
    /// Size of the JITed image.
    pub jited_prog_len: u32,
    /// Size of the translated instructions.
    pub xlated_prog_len: u32,
    /// Pointer to a buffer for the JITed image (zeroed here).
    pub jited_prog_insns: u64,
    /// Pointer to a buffer for the translated instructions (zeroed here).
    pub xlated_prog_insns: u64,
    /// Load time in ns since boot.
    pub load_time: u64,
    /// Uid of the loader.
    pub created_by_uid: u32,
    /// Number of maps used.
    pub nr_map_ids: u32,
    /// Pointer to a buffer for map ids (zeroed here).
    pub map_ids: u64,
    /// Program name, NUL-padded.
    pub name: [u8; 16],
    /// Offload device.
    pub ifindex: u32,
    /// Bit 0: `gpl_compatible`.
    pub gpl_compatible_bits: u32,
    /// Offload netns device.
    pub netns_dev: u64,
    /// Offload netns inode.
    pub netns_ino: u64,
    /// Number of JITed symbols.
    pub nr_jited_ksyms: u32,
    /// Number of JITed function lengths.
    pub nr_jited_func_lens: u32,
    /// Pointer for JITed symbols.
    pub jited_ksyms: u64,
    /// Pointer for JITed function lengths.
    pub jited_func_lens: u64,
    /// BTF object id of the program's BTF.
    pub btf_id: u32,
    /// Size of a func info record.
    pub func_info_rec_size: u32,
    /// Pointer for func info.
    pub func_info: u64,
    /// Number of func info records.
    pub nr_func_info: u32,
    /// Number of line info records.
    pub nr_line_info: u32,
    /// Pointer for line info.
    pub line_info: u64,
    /// Pointer for JITed line info.
    pub jited_line_info: u64,
    /// Number of JITed line info records.
    pub nr_jited_line_info: u32,
    /// Size of a line info record.
    pub line_info_rec_size: u32,
    /// Size of a JITed line info record.
    pub jited_line_info_rec_size: u32,
    /// Number of program tags.
    pub nr_prog_tags: u32,
    /// Pointer for program tags.
    pub prog_tags: u64,
    /// Total run time (with `BPF_ENABLE_STATS`).
    pub run_time_ns: u64,
    /// Run count (with `BPF_ENABLE_STATS`).
    pub run_cnt: u64,
    /// Recursion misses.
    pub recursion_misses: u64,
    /// Instructions the verifier processed.
    pub verified_insns: u32,
    /// BTF object id of the attach target.
    pub attach_btf_obj_id: u32,
    /// BTF type id of the attach target.
    pub attach_btf_id: u32,
    /// Padding.
    pub _pad: u32,
}

impl BpfProgInfo {
    /// The program name.
    pub fn name(&self) -> String {
        name_from_bytes(&self.name)
    }

    /// The program type, if this crate knows it.
    pub fn prog_type(&self) -> Option<ProgType> {
        ProgType::try_from(self.type_).ok()
    }

    /// Whether the license is GPL-compatible.
    pub fn gpl_compatible(&self) -> bool {
        self.gpl_compatible_bits & 1 != 0
    }
}

/// `struct bpf_map_info`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BpfMapInfo {
    /// `enum bpf_map_type`.
    pub type_: u32,
    /// Map id.
    pub id: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries.
    pub max_entries: u32,
    /// Map flags.
    pub map_flags: u32,
    /// Map name, NUL-padded.
    pub name: [u8; 16],
    /// Offload device.
    pub ifindex: u32,
    /// BTF type id of a kernel struct value (struct_ops).
    pub btf_vmlinux_value_type_id: u32,
    /// Offload netns device.
    pub netns_dev: u64,
    /// Offload netns inode.
    pub netns_ino: u64,
    /// BTF object id.
    pub btf_id: u32,
    /// BTF key type id.
    pub btf_key_type_id: u32,
    /// BTF value type id.
    pub btf_value_type_id: u32,
    /// BTF object id of vmlinux (struct_ops).
    pub btf_vmlinux_id: u32,
    /// Per-type extra (bloom filter hashes, arena address).
    pub map_extra: u64,
}

impl BpfMapInfo {
    /// The map name.
    pub fn name(&self) -> String {
        name_from_bytes(&self.name)
    }

    /// The map type, if this crate knows it.
    pub fn map_type(&self) -> Option<MapType> {
        MapType::try_from(self.type_).ok()
    }
}

/// `struct bpf_btf_info`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BpfBtfInfo {
    /// Pointer for the raw BTF (zeroed here).
    pub btf: u64,
    /// Size of the raw BTF.
    pub btf_size: u32,
    /// BTF object id.
    pub id: u32,
    /// Pointer for the name (zeroed here).
    pub name: u64,
    /// Length of the name.
    pub name_len: u32,
    /// Non-zero for kernel (vmlinux or module) BTF.
    pub kernel_btf: u32,
}

/// `struct bpf_link_info`: the common head and the raw per-type union.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct BpfLinkInfo {
    /// `enum bpf_link_type`.
    pub type_: u32,
    /// Link id.
    pub id: u32,
    /// Id of the attached program.
    pub prog_id: u32,
    /// Padding.
    pub _pad: u32,
    /// The per-type union, as raw words; see [`LinkDetails`] for a decoded view.
    pub extra: [u64; 6],
}

/// Decoded per-type part of a [`BpfLinkInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkDetails {
    /// Raw tracepoint: the tracepoint name.
    RawTracepoint {
        /// Tracepoint name.
        tp_name: String,
        /// Attach cookie.
        cookie: u64,
    },
    /// fentry/fexit/lsm/freplace.
    Tracing {
        /// Raw attach type.
        attach_type: u32,
        /// Target object id (BTF or program).
        target_obj_id: u32,
        /// Target BTF type id.
        target_btf_id: u32,
    },
    /// Cgroup.
    Cgroup {
        /// Cgroup id.
        cgroup_id: u64,
        /// Raw attach type.
        attach_type: u32,
    },
    /// XDP link.
    Xdp {
        /// Interface index.
        ifindex: u32,
    },
    /// TCX link.
    Tcx {
        /// Interface index.
        ifindex: u32,
        /// Raw attach type.
        attach_type: u32,
    },
    /// Netns link.
    Netns {
        /// Netns inode.
        netns_ino: u32,
        /// Raw attach type.
        attach_type: u32,
    },
    /// Netfilter link.
    Netfilter {
        /// Protocol family.
        pf: u32,
        /// Hook number.
        hooknum: u32,
        /// Priority.
        priority: i32,
        /// Flags.
        flags: u32,
    },
    /// Perf event link: `enum bpf_perf_event_type`.
    PerfEvent {
        /// `BPF_PERF_EVENT_*` kind (5 = tracepoint, 6 = event, 3 = kprobe, 4 =
        /// kretprobe, 1 = uprobe, 2 = uretprobe). Kernels before 6.6 do not report
        /// details of perf links: there it is 0 (`BPF_PERF_EVENT_UNSPEC`).
        perf_event_type: u32,
    },
    /// Another link type, not decoded.
    Other,
}

/// Common implementation: fills `info` (all zero on entry) with the kernel's info.
fn get_info<T>(fd: BorrowedFd<'_>, info: &mut T) -> Result<u32, SysError> {
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: size_of::<T>() as u32,
        info: info as *mut T as usize as u64,
    };
    // SAFETY: `info` points to `info_len` writable bytes; callers pass structs whose
    // embedded pointers are null or valid for their accompanying lengths.
    unsafe { sys_bpf(Cmd::ObjGetInfoByFd, &mut attr)? };
    Ok(attr.info_len)
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a program.
pub fn prog_info(fd: BorrowedFd<'_>) -> Result<BpfProgInfo, SysError> {
    let mut info = BpfProgInfo::default();
    get_info(fd, &mut info)?;
    Ok(info)
}

/// The ids of the maps a program uses.
pub fn prog_map_ids(fd: BorrowedFd<'_>) -> Result<Vec<u32>, SysError> {
    let first = prog_info(fd)?;
    let mut ids = vec![0u32; first.nr_map_ids as usize];
    let mut info = BpfProgInfo {
        nr_map_ids: ids.len() as u32,
        map_ids: ids.as_mut_ptr() as usize as u64,
        ..Default::default()
    };
    get_info(fd, &mut info)?;
    ids.truncate(info.nr_map_ids.min(first.nr_map_ids) as usize);
    Ok(ids)
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a map.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<BpfMapInfo, SysError> {
    let mut info = BpfMapInfo::default();
    get_info(fd, &mut info)?;
    Ok(info)
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a BTF object (without its data or name).
///
/// Kernels before 5.11 know only `btf`, `btf_size` and `id`: there `name`, `name_len`
/// and `kernel_btf` stay zero (and kernel BTF has no id to be found by).
pub fn btf_info(fd: BorrowedFd<'_>) -> Result<BpfBtfInfo, SysError> {
    Ok(btf_info_len(fd)?.0)
}

/// [`btf_info`] and the number of bytes of the struct the kernel knows.
fn btf_info_len(fd: BorrowedFd<'_>) -> Result<(BpfBtfInfo, usize), SysError> {
    let mut info = BpfBtfInfo::default();
    let len = get_info(fd, &mut info)?;
    Ok((info, len as usize))
}

/// A BTF object's info and name (`vmlinux`, a module's name; empty for user BTF and on
/// kernels before 5.11, which do not report names), without its data: how a loader finds
/// module BTF among all BTF objects (libbpf's `load_module_btfs`).
pub fn btf_info_named(fd: BorrowedFd<'_>) -> Result<(BpfBtfInfo, String), SysError> {
    let (first, known) = btf_info_len(fd)?;
    // The kernel refuses (E2BIG) non-zero bytes past the end of its own struct.
    if known < std::mem::offset_of!(BpfBtfInfo, kernel_btf) {
        return Ok((first, String::new()));
    }
    let mut name = vec![0u8; (first.name_len as usize + 1).max(64)];
    let mut info = BpfBtfInfo {
        name: name.as_mut_ptr() as usize as u64,
        name_len: name.len() as u32,
        ..Default::default()
    };
    get_info(fd, &mut info)?;
    Ok((info, name_from_bytes(&name)))
}

/// The name (e.g. `vmlinux` or a module name; empty for user BTF, and on kernels before
/// 5.11, which do not report names) and raw bytes of a BTF object.
pub fn btf_data(fd: BorrowedFd<'_>) -> Result<(String, Vec<u8>), SysError> {
    let (first, known) = btf_info_len(fd)?;
    let mut data = vec![0u8; first.btf_size as usize];
    let mut info = BpfBtfInfo {
        btf: data.as_mut_ptr() as usize as u64,
        btf_size: data.len() as u32,
        ..Default::default()
    };
    // The kernel refuses (E2BIG) non-zero bytes past the end of its own struct, so the
    // name buffer is passed only to kernels that have the name fields (5.11+).
    let mut name = vec![0u8; (first.name_len as usize + 1).max(64)];
    if known >= std::mem::offset_of!(BpfBtfInfo, kernel_btf) {
        info.name = name.as_mut_ptr() as usize as u64;
        info.name_len = name.len() as u32;
    }
    get_info(fd, &mut info)?;
    data.truncate(info.btf_size.min(first.btf_size) as usize);
    Ok((name_from_bytes(&name), data))
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a link: the raw info.
pub fn link_info(fd: BorrowedFd<'_>) -> Result<BpfLinkInfo, SysError> {
    let mut info = BpfLinkInfo::default();
    get_info(fd, &mut info)?;
    Ok(info)
}

impl BpfLinkInfo {
    /// The link type, if this crate knows it.
    pub fn link_type(&self) -> Option<LinkType> {
        LinkType::try_from(self.type_).ok()
    }

    fn u32_at(&self, index: usize) -> u32 {
        let word = self.extra[index / 2];
        if index % 2 == 0 {
            word as u32
        } else {
            (word >> 32) as u32
        }
    }
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a link, with its per-type part decoded (a raw
/// tracepoint's name is fetched with a second call).
pub fn link_details(fd: BorrowedFd<'_>) -> Result<(BpfLinkInfo, LinkDetails), SysError> {
    let info = link_info(fd)?;
    let details = match info.link_type() {
        Some(LinkType::RawTracepoint) => {
            let len = info.u32_at(2) as usize;
            let mut name = vec![0u8; len.max(1) + 1];
            let mut again = BpfLinkInfo::default();
            again.extra[0] = name.as_mut_ptr() as usize as u64;
            again.extra[1] = name.len() as u64;
            get_info(fd, &mut again)?;
            LinkDetails::RawTracepoint {
                tp_name: name_from_bytes(&name),
                cookie: again.extra[2],
            }
        }
        Some(LinkType::Tracing) => LinkDetails::Tracing {
            attach_type: info.u32_at(0),
            target_obj_id: info.u32_at(1),
            target_btf_id: info.u32_at(2),
        },
        Some(LinkType::Cgroup) => LinkDetails::Cgroup {
            cgroup_id: info.extra[0],
            attach_type: info.u32_at(2),
        },
        Some(LinkType::Xdp) => LinkDetails::Xdp {
            ifindex: info.u32_at(0),
        },
        Some(LinkType::Tcx) => LinkDetails::Tcx {
            ifindex: info.u32_at(0),
            attach_type: info.u32_at(1),
        },
        Some(LinkType::Netns) => LinkDetails::Netns {
            netns_ino: info.u32_at(0),
            attach_type: info.u32_at(1),
        },
        Some(LinkType::Netfilter) => LinkDetails::Netfilter {
            pf: info.u32_at(0),
            hooknum: info.u32_at(1),
            priority: info.u32_at(2) as i32,
            flags: info.u32_at(3),
        },
        Some(LinkType::PerfEvent) => LinkDetails::PerfEvent {
            perf_event_type: info.u32_at(0),
        },
        _ => LinkDetails::Other,
    };
    Ok((info, details))
}

/// The attach type in a [`LinkDetails`], if it has one this crate knows.
pub fn details_attach_type(details: &LinkDetails) -> Option<AttachType> {
    let raw = match details {
        LinkDetails::Tracing { attach_type, .. }
        | LinkDetails::Cgroup { attach_type, .. }
        | LinkDetails::Tcx { attach_type, .. }
        | LinkDetails::Netns { attach_type, .. } => *attach_type,
        _ => return None,
    };
    AttachType::try_from(raw).ok()
}

const _: () = {
    assert!(size_of::<BpfProgInfo>() == 232);
    assert!(size_of::<BpfMapInfo>() == 88);
    assert!(size_of::<BpfBtfInfo>() == 32);
    assert!(size_of::<BpfLinkInfo>() == 64);
};
