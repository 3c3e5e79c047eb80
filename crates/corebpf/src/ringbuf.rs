//! Ring buffer reader (work in progress).
