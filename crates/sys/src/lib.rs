//! `corebpf-sys`: the `bpf(2)` commands and their attribute layouts, `perf_event_open`,
//! and feature probes. Every kernel object comes back as an `OwnedFd`.
