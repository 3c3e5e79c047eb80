//! The one error of this crate: a number that names no variant of a kernel enum.

use std::fmt;

/// A `u32` that names no known variant of a kernel enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownValue {
    /// Which enum was being converted, e.g. `"bpf_prog_type"`.
    pub kind: &'static str,
    /// The value that matched no variant.
    pub value: u32,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} value {}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownValue {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_kind_and_value() {
        let e = UnknownValue {
            kind: "bpf_prog_type",
            value: 9999,
        };
        assert_eq!(e.to_string(), "unknown bpf_prog_type value 9999");
    }
}
