//! Perf buffer reader (work in progress).
