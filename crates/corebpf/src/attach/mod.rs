//! Attaching programs: kprobes, tracepoints, XDP, sockets and the rest (work in progress).
