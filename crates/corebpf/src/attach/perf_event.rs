//! `perf_event` programs on sampling events: any perf event fd the caller opened, or a
//! software cpu-clock event on every CPU.

use std::os::fd::OwnedFd;

use corebpf_sys::perf::{
    flag, perf_event_open, PerfEventAttr, PERF_COUNT_SW_CPU_CLOCK, PERF_TYPE_SOFTWARE,
};
use corebpf_sys::ProgType;

use super::group::Group;
use super::perf::attach_perf_event_fd;
use super::{expect_type, sys_err};
use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

impl Program {
    /// Attaches a `SEC("perf_event")` program to an open perf event (from
    /// [`corebpf_sys::perf::perf_event_open`]); the link owns the event.
    pub fn attach_perf_event(&self, event: OwnedFd) -> Result<Link> {
        let target = "perf event".to_string();
        expect_type(self, &target, &[ProgType::PerfEvent], "attach_perf_event")?;
        attach_perf_event_fd(self, target, event, None, 0)
    }

    /// Attaches a `SEC("perf_event")` program to a software cpu-clock event on every
    /// online CPU, sampling `freq` times a second; one link holds them all.
    ///
    /// ```no_run
    /// # let obj: corebpf::Object = todo!();
    /// let link = obj.program("profile").unwrap().attach_cpu_clock(99)?;
    /// # Ok::<(), corebpf::Error>(())
    /// ```
    pub fn attach_cpu_clock(&self, freq: u64) -> Result<Link> {
        let target = format!("cpu-clock at {freq} Hz on every CPU");
        expect_type(self, &target, &[ProgType::PerfEvent], "attach_cpu_clock")?;
        let mut links = Vec::new();
        for cpu in online_cpus() {
            let attr = PerfEventAttr {
                type_: PERF_TYPE_SOFTWARE,
                config: PERF_COUNT_SW_CPU_CLOCK,
                sample_period: freq,
                flags: flag::FREQ,
                ..Default::default()
            };
            let event = perf_event_open(&attr, -1, cpu as i32, None, 0).map_err(|e| {
                sys_err(self, &target, &format!("opening cpu-clock on CPU {cpu}"), e)
            })?;
            links.push(attach_perf_event_fd(
                self,
                format!("cpu-clock on CPU {cpu}"),
                event,
                None,
                0,
            )?);
        }
        Ok(Link::new(self, target, Group::new(links)))
    }
}

/// The online CPUs (`/sys/devices/system/cpu/online`, e.g. `0-3,6`).
pub fn online_cpus() -> Vec<u32> {
    let text =
        std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_else(|_| "0".into());
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
            out.extend(a..=b);
        }
    }
    out
}
