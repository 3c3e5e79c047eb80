//! `corebpf-sys`: the `bpf(2)` commands and their attribute layouts, `perf_event_open`,
//! netlink XDP attach, `mmap` of map memory, and feature probes. Every kernel object
//! comes back as an [`OwnedFd`](std::os::fd::OwnedFd); this is the only corebpf crate
//! with syscall `unsafe`.
//!
//! Modules are named after what they hold: [`map`], [`prog`], [`link`], [`obj`]
//! (pinning and ids), [`info`], [`btf`], [`perf`], [`probe`], [`mmap`], [`netlink`],
//! [`socket`] (socket filters), [`token`] (BPF tokens). [`consts`] (kernel enums and flags) and [`insn`] ([`Insn`],
//! `struct bpf_insn`) are `corebpf-abi`'s, re-exported here.

mod attr;
pub mod btf;
pub mod error;
pub mod fault;
pub mod info;
pub mod link;
pub mod map;
pub mod mmap;
pub mod netlink;
pub mod obj;
pub mod perf;
pub mod probe;
pub mod prog;
pub mod socket;
mod sys;
pub mod token;

pub use corebpf_abi::{consts, insn};

pub use btf::{btf_load, btf_load_token};
pub use corebpf_abi::{AttachType, Cmd, Insn, LinkType, MapType, ProgType, StatsType};
pub use error::{SysError, UnknownValue};
pub use info::{
    btf_data, btf_info, btf_info_named, link_details, link_info, map_info, prog_info, prog_map_ids,
};
pub use link::{
    iter_create, link_create, link_detach, link_update, raw_tracepoint_open, IterInfo,
    LinkCreateAttr, LinkCreateOpts,
};
pub use map::{
    map_create, map_delete_batch, map_delete_elem, map_freeze, map_get_next_key, map_keys,
    map_lookup_and_delete_batch, map_lookup_and_delete_elem, map_lookup_batch, map_lookup_elem,
    map_update_batch, map_update_elem, BatchOutcome, MapCreateAttr, MapFd,
};
pub use obj::{
    all_ids, btf_get_fd_by_id, enable_stats, get_fd_by_id, get_next_id, link_get_fd_by_id,
    map_get_fd_by_id, obj_get, obj_pin, prog_get_fd_by_id, ObjKind,
};
pub use probe::{
    bump_memlock_rlimit, probe_feature, probe_feature_with, probe_map_type, probe_map_type_with,
    probe_prog_type, probe_prog_type_with, probed_feature, Feature,
};
pub use prog::{
    prog_attach, prog_bind_map, prog_detach, prog_load, prog_query, prog_test_run, AttachTarget,
    ProgAttachAttr, ProgLoadAttr, ProgQueryResult, Relative, TestRunOpts, TestRunResult,
};
pub use sys::{obj_name, possible_cpus};
pub use token::{Delegation, Token};
