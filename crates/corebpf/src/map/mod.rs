//! Typed map handles (work in progress).
