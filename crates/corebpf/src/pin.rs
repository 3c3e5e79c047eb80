//! Pinning under bpffs (work in progress).
