//! bpftool's sorted dump order.

use super::CDumper;

/// Type ids in bpftool's sorted order.
pub(super) fn sorted_ids(d: &CDumper<'_>) -> Vec<u32> {
    (1..d.types.len() as u32).collect()
}
