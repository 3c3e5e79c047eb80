//! `corebpf load --attach`: attach every program whose SEC name says where, then hold the
//! links until SIGINT (Ctrl-C) or SIGTERM.

use corebpf::Object;
use nix::sys::signal::{SigSet, Signal};
use std::error::Error;

/// SIGINT and SIGTERM, blocked so that `wait` receives them with `sigwait`.
fn signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set
}

/// Blocks SIGINT and SIGTERM in this thread: call before loading, so a Ctrl-C while
/// attaching still ends in an orderly detach.
pub fn block_signals() -> Result<(), Box<dyn Error>> {
    signals().thread_block()?;
    Ok(())
}

/// Attaches `obj`'s programs, reports the links (on stderr when stdout holds JSON), and
/// waits for SIGINT or SIGTERM; the links detach when this returns.
pub fn attach_and_wait(obj: &Object, to_stderr: bool) -> Result<(), Box<dyn Error>> {
    let links = obj.attach_all()?;
    if links.is_empty() {
        return Err(
            "no program of this object can be attached by its SEC name alone \
                    (XDP, TC, socket and cgroup programs need a target)"
                .into(),
        );
    }
    let mut out: Box<dyn std::io::Write> = if to_stderr {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    };
    for l in &links {
        writeln!(out, "attached {} to {}", l.program_name(), l.target())?;
    }
    writeln!(out, "attached {} programs; Ctrl-C detaches", links.len())?;
    out.flush()?;
    drop(out);
    let sig = signals().wait()?;
    log::debug!("{sig}: detaching {} links", links.len());
    drop(links);
    Ok(())
}
