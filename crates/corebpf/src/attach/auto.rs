//! Attaching by SEC name, as libbpf's `bpf_program__attach` and skeleton `attach`:
//! [`Program::attach`] for one program, [`Object::attach_all`] for every program whose SEC
//! name says where (`kprobe/do_unlinkat`, `tp/sched/sched_switch`, `uprobe//bin/bash:readline`,
//! `fentry/...`, `iter/task`, ...).

use corebpf_obj::section::{find_sec_def, AttachKind, SecInfo};

use super::attach_err;
use super::kprobe::{split_offset, KprobeOpts};
use super::multi::{KprobeMultiOpts, UprobeMultiOpts};
use super::uprobe::UprobeOpts;
use crate::error::Result;
use crate::link::Link;
use crate::object::Object;
use crate::program::Program;

/// Whether `prog`'s SEC name fully says where to attach it.
pub fn can_auto_attach(prog: &Program) -> bool {
    find_sec_def(prog.section()).is_some_and(|s| auto_attach(&s))
}

/// [`SecInfo::auto_attach`], with libbpf's rules for the multi-probe forms: a
/// `kprobe.multi/`, `kretprobe.multi/` or `kprobe.session/` name always tries (an empty
/// pattern fails), a `uprobe.multi/`-style one only once it names a binary (libbpf's
/// `%[^/]/%[^:]:%[^\n]` reads one field from `uprobe.multi/:f`: not auto-attached).
fn auto_attach(info: &SecInfo) -> bool {
    match info.def.attach {
        AttachKind::KprobeMulti | AttachKind::KretprobeMulti | AttachKind::KprobeSession => {
            info.attach_target.is_some()
        }
        AttachKind::UprobeMulti | AttachKind::UretprobeMulti | AttachKind::UprobeSession => info
            .attach_target
            .as_deref()
            .is_some_and(|t| !t.is_empty() && !t.starts_with(':')),
        _ => info.auto_attach(),
    }
}

impl Program {
    /// Attaches where the SEC name says: `kprobe/<func>[+<off>]`, `kretprobe/<func>`,
    /// `ksyscall/<name>`, `kretsyscall/<name>`, `uprobe/<binary>:<func>[+<off>]`,
    /// `uretprobe/...`, `tracepoint/<cat>/<name>` (`tp/`), `raw_tp/<name>`
    /// (`raw_tracepoint/`), `tp_btf/`, `fentry/`, `fexit/`, `fmod_ret/`, `fsession/`, `lsm/`,
    /// `iter/`, `usdt/<binary>:<provider>:<name>` (every process), `kprobe.multi/<pattern>`,
    /// `kretprobe.multi/<pattern>`, `kprobe.session/<pattern>`,
    /// `uprobe.multi/<binary>:<pattern>`, `uretprobe.multi/...`, `uprobe.session/...` (and
    /// the `.s` forms; see [`Program::attach_kprobe_multi`], [`Program::attach_uprobe_multi`]).
    /// Other programs (XDP, TC, netkit, sockets, cgroups) need a target: see their
    /// `attach_*`.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// // SEC("tp/syscalls/sys_enter_getpid")
    /// let link = obj.program("on_getpid").unwrap().attach()?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach(&self) -> Result<Link> {
        let sec = self.section();
        let info = find_sec_def(sec);
        let no_target = |why: &str| {
            attach_err(
                self,
                &format!("SEC(\"{sec}\")"),
                format!("the SEC name does not say where to attach: {why}"),
                None,
            )
        };
        let Some(info) = info else {
            return Err(no_target("unknown SEC name"));
        };
        let t = info.attach_target.clone().unwrap_or_default();
        if !auto_attach(&info) {
            return Err(no_target(match info.def.attach {
                AttachKind::None => "attach it with the method for its kind (attach_xdp, attach_tc, attach_netkit, attach_socket, attach_cgroup, ...)",
                AttachKind::StructOps => "struct_ops programs attach through their map (Map::attach_struct_ops)",
                _ => "it names no target (e.g. SEC(\"kprobe\") instead of SEC(\"kprobe/func\"))",
            }));
        }
        self.attach_by_kind(sec, info.def.attach, &t)
    }

    /// Attaches by SEC name once the convention is known and names target `t`.
    fn attach_by_kind(&self, sec: &str, kind: AttachKind, t: &str) -> Result<Link> {
        let bad = |what: &str| {
            attach_err(
                self,
                &format!("SEC(\"{sec}\")"),
                format!("cannot parse the target '{t}': expected {what}"),
                None,
            )
        };
        match kind {
            AttachKind::Kprobe | AttachKind::Kretprobe => {
                let (func, offset) = split_offset(t).ok_or_else(|| bad("<func>[+<offset>]"))?;
                self.attach_kprobe_with(
                    func,
                    &KprobeOpts {
                        offset,
                        retprobe: kind == AttachKind::Kretprobe,
                        ..Default::default()
                    },
                )
            }
            AttachKind::Ksyscall | AttachKind::Kretsyscall => {
                self.attach_ksyscall(t, kind == AttachKind::Kretsyscall)
            }
            AttachKind::Uprobe | AttachKind::Uretprobe => {
                let (binary, func) = t.rsplit_once(':').ok_or_else(|| bad("<binary>:<func>"))?;
                let (func, func_offset) =
                    split_offset(func).ok_or_else(|| bad("<func>[+<offset>]"))?;
                let opts = UprobeOpts {
                    retprobe: kind == AttachKind::Uretprobe,
                    func_offset,
                    ..Default::default()
                };
                // A bare address instead of a name: a raw offset.
                let raw = func
                    .strip_prefix("0x")
                    .and_then(|h| u64::from_str_radix(h, 16).ok());
                match raw {
                    Some(off) => self.attach_uprobe_offset(binary, off, &opts),
                    None => self.attach_uprobe(binary, func, &opts),
                }
            }
            AttachKind::Tracepoint => {
                let (cat, name) = t.split_once('/').ok_or_else(|| bad("<category>/<name>"))?;
                self.attach_tracepoint(cat, name)
            }
            AttachKind::RawTracepoint => self.attach_raw_tracepoint(t),
            AttachKind::Trace | AttachKind::Lsm => self.attach_tracing(),
            AttachKind::Iter => self.attach_iter(None),
            AttachKind::Usdt => {
                // libbpf: sscanf("usdt/%m[^:]:%m[^:]:%m[^:]"), any process.
                let parts: Vec<&str> = t.splitn(4, ':').collect();
                match parts[..] {
                    [binary, provider, name, ..] if ![binary, provider, name].contains(&"") => {
                        self.attach_usdt(binary, None, provider, name, &Default::default())
                    }
                    _ => Err(bad("<path>:<provider>:<name>")),
                }
            }
            AttachKind::KprobeMulti
            | AttachKind::KretprobeMulti
            | AttachKind::KprobeSession
            | AttachKind::UprobeMulti
            | AttachKind::UretprobeMulti
            | AttachKind::UprobeSession => self.attach_multi_by_name(kind, t, bad),
            other => Err(attach_err(
                self,
                &format!("SEC(\"{sec}\")"),
                not_supported_yet(other),
                None,
            )),
        }
    }

    /// The multi-probe and session forms, whose target `t` libbpf parses with `sscanf`.
    fn attach_multi_by_name(
        &self,
        kind: AttachKind,
        t: &str,
        bad: impl Fn(&str) -> crate::Error,
    ) -> Result<Link> {
        match kind {
            AttachKind::KprobeMulti | AttachKind::KretprobeMulti | AttachKind::KprobeSession => {
                // libbpf: sscanf("%m[a-zA-Z0-9_.*?]"), whatever follows ignored.
                let end = t
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "_.*?".contains(c)))
                    .unwrap_or(t.len());
                if end == 0 {
                    return Err(bad("a pattern of [a-zA-Z0-9_.*?]"));
                }
                self.attach_kprobe_multi(&KprobeMultiOpts {
                    retprobe: kind == AttachKind::KretprobeMulti,
                    session: kind == AttachKind::KprobeSession,
                    ..KprobeMultiOpts::pattern(&t[..end])
                })
            }
            AttachKind::UprobeMulti | AttachKind::UretprobeMulti | AttachKind::UprobeSession => {
                // libbpf: "%m[^/]/%m[^:]:%m[^\n]": the binary ends at the first ':'.
                let (binary, pattern) = t
                    .split_once(':')
                    .filter(|(_, p)| !p.is_empty())
                    .ok_or_else(|| bad("<binary>:<pattern>"))?;
                let pattern = pattern.split('\n').next().unwrap_or(pattern);
                self.attach_uprobe_multi(
                    binary,
                    &UprobeMultiOpts {
                        retprobe: kind == AttachKind::UretprobeMulti,
                        session: kind == AttachKind::UprobeSession,
                        ..UprobeMultiOpts::pattern(pattern)
                    },
                )
            }
            _ => Err(bad("a multi-probe or session SEC form")),
        }
    }
}

/// Why a convention corebpf knows does not attach by SEC name (every attach kind of
/// libbpf's table does today; a new one fails clearly until it is added).
fn not_supported_yet(kind: AttachKind) -> String {
    format!("{kind:?} attachment is not supported yet by corebpf")
}

impl Object {
    /// Attaches every program whose SEC name says where (see [`Program::attach`]), as a
    /// libbpf skeleton's `attach` does, and returns the links in program order, then
    /// registers every struct_ops map (see [`crate::map::Map::attach_struct_ops`]).
    /// Programs that need a target given at runtime (XDP, TC, sockets, cgroups, bare
    /// `kprobe`) are skipped. The first failure detaches what was attached and is returned.
    ///
    /// ```no_run
    /// let obj = corebpf::Object::load_file("tracer.bpf.o")?;
    /// let links = obj.attach_all()?;
    /// // ... links detach when dropped.
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_all(&self) -> Result<Vec<Link>> {
        let mut links: Vec<Link> = self
            .programs()
            .iter()
            .filter(|p| can_auto_attach(p))
            .map(Program::attach)
            .collect::<Result<_>>()?;
        links.extend(self.attach_struct_ops_all()?);
        Ok(links)
    }
}
