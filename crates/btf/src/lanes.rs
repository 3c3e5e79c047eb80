//! The bounds-only walk of a large type section as four interleaved chains on one thread.
//!
//! Finding record boundaries is a chain: a record's length comes from its info word, and
//! the next record's info word is read at the offset that length gives. One chain runs at
//! the latency of that load plus the length arithmetic, whatever the core's width. So the
//! section is cut in four at points that look like record boundaries, and four chains are
//! walked in the same loop: the core overlaps them (vmlinux: 4x fewer cycles than one).
//!
//! A cut point is a guess: it is only trusted if the chain before it lands exactly on it,
//! which makes the two chains one (a record's successor is fixed by its own bytes). If any
//! chain misses its successor's start, meets a record that fails the bounds checks, or a
//! kind this reader does not know, the result is `None` and the caller walks the section
//! as one chain, which then reports exactly what is wrong: the lanes only ever speed up
//! what one chain would find.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::raw::{info_kind, TYPE_HEADER_LEN};
use crate::scan::{Order, PackedSizes, RecordLen, Scan, CHECKPOINT};
use crate::Kind;

/// Chains walked together (the loop in [`walk_interleaved`] is written out for four).
const LANES: usize = 4;
/// Records a cut point's chain must pass to be taken as a boundary.
const PROBE_RECORDS: usize = 16;
/// How far past each quarter mark a cut point is looked for.
const PROBE_BYTES: usize = 4096;
/// Names a lane buffers before moving them to its list.
const NAME_CHUNK: usize = 1024;

/// What one lane found between its start and the next lane's start.
struct Lane {
    /// Offset of every record, in order.
    offsets: Vec<u32>,
    /// (name offset, index in this lane) of each named, non-FUNC type.
    names: Vec<(u32, u32)>,
    /// Records walked.
    count: usize,
    /// Named FUNCs.
    named_funcs: usize,
}

/// The walk of `t` in four lanes, or `None` if one chain must do it (see the module
/// documentation). Names come unhashed, in id order.
#[cfg(test)]
pub(crate) fn walk_lanes<O: Order>(t: &[u8], sizes: &PackedSizes, start_id: u32) -> Option<Scan> {
    let starts = cut_points::<O, LANES>(t, sizes)?;
    let lanes = walk_interleaved::<O>(t, sizes, starts, stops_after(&starts, t.len()))?;
    join(&lanes, t.len(), start_id)
}

/// Replaces the string offsets of (name offset, index) pairs by their names' hashes.
pub(crate) type HashNames<'a> = dyn Fn(&mut [(u32, u32)]) + Sync + 'a;

/// Groups of [`LANES`] lanes the section is cut into for two threads.
const GROUPS: usize = 8;

/// The walk of `t` cut into [`GROUPS`] groups of four lanes, walked by this thread and a
/// second one, each taking the next group not taken yet, walking its four lanes
/// interleaved and replacing their names' string offsets by `hash(name offset)`; `None`
/// if one chain must do it. A thread costs tens of microseconds to start, so only large
/// sections (vmlinux) come here.
///
/// Taking groups as they come, rather than half the section each, balances the threads:
/// the second starts late (vmlinux: about 0.1 ms after the first, the time to spawn it
/// and wake an idle core), and the parts of a section differ in cost per byte (vmlinux's
/// later part is dense in small FUNC records and holds few names to hash).
pub(crate) fn walk_lanes_on_two_threads<O: Order>(
    t: &[u8],
    sizes: &PackedSizes,
    start_id: u32,
    hash: &HashNames<'_>,
) -> Option<Scan> {
    let starts = cut_points::<O, { GROUPS * LANES }>(t, sizes)?;
    let stops = stops_after(&starts, t.len());
    let groups: [OnceLock<Option<[Lane; LANES]>>; GROUPS] = Default::default();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let g = next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = groups.get(g) else {
            return;
        };
        let first: [usize; LANES] = std::array::from_fn(|k| starts[g * LANES + k]);
        let last: [usize; LANES] = std::array::from_fn(|k| stops[g * LANES + k]);
        let lanes = walk_interleaved::<O>(t, sizes, first, last).map(|mut lanes| {
            for lane in &mut lanes {
                hash(&mut lane.names);
            }
            lanes
        });
        if lanes.is_none() {
            // One chain walks the section anyway: take no more groups.
            next.store(GROUPS, Ordering::Relaxed);
        }
        let _ = slot.set(lanes);
    };
    std::thread::scope(|s| {
        let helper = s.spawn(work);
        work();
        if let Err(panic) = helper.join() {
            std::panic::resume_unwind(panic);
        }
    });
    let mut lanes = Vec::with_capacity(GROUPS * LANES);
    for group in groups {
        lanes.extend(group.into_inner()??);
    }
    join(&lanes, t.len(), start_id)
}

/// Where each lane stops: where the next one starts, the last at the section's end.
fn stops_after<const N: usize>(starts: &[usize; N], len: usize) -> [usize; N] {
    let mut stops = [len; N];
    stops[..N - 1].copy_from_slice(&starts[1..]);
    stops
}

/// Lane starts: 0, then the first offset at or after each of the `N - 1` marks that cut the
/// section in `N` equal parts from which [`PROBE_RECORDS`] records pass the bounds checks.
fn cut_points<O: Order, const N: usize>(t: &[u8], sizes: &PackedSizes) -> Option<[usize; N]> {
    let mut starts = [0usize; N];
    for (k, start) in starts.iter_mut().enumerate().skip(1) {
        let mark = (t.len() * k / N) & !3;
        *start = (mark..(mark + PROBE_BYTES).min(t.len()))
            .step_by(4)
            .find(|&at| plausible::<O>(t, sizes, at))?;
    }
    starts.windows(2).all(|w| w[0] < w[1]).then_some(starts)
}

/// Whether [`PROBE_RECORDS`] records from `at` are in bounds and of known kinds.
fn plausible<O: Order>(t: &[u8], sizes: &PackedSizes, mut at: usize) -> bool {
    for _ in 0..PROBE_RECORDS {
        let Some(info) = t.get(at + 4..at + 8).map(O::u32) else {
            return false;
        };
        match sizes.record_len(info) {
            Some(len) if at + len <= t.len() => at += len,
            _ => return false,
        }
    }
    true
}

/// One step of lane `$k` of [`walk_interleaved`], on its state passed by name (a macro,
/// not a function or closure: the lanes' state must stay in registers for the chains to
/// overlap). On a bad record the lane stops and `$ok` is cleared.
macro_rules! lane_step {
    ($k:expr, $t:ident, $sizes:ident, $stops:ident, $off:ident, $n:ident, $kept:ident,
     $funcs:ident, $offsets:ident, $names:ident, $full:ident, $ok:ident) => {{
        let k = $k;
        let at = $off[k];
        let record = $t.get(at..at + 8).and_then(|hdr| {
            let info = O::u32(&hdr[4..8]);
            // Packed sizes know only known kinds: no unknown kind gets this far.
            let len = $sizes
                .record_len(info)
                .filter(|&len| at + len <= $t.len())?;
            Some((O::u32(&hdr[0..4]), info, len))
        });
        match record {
            Some((name_off, info, len)) => {
                $offsets[k][$n[k]] = at as u32;
                let named = name_off != 0;
                let func = info_kind(info) == Kind::Func as u32;
                $funcs[k] += (named & func) as usize;
                $names[k][$kept[k]] = (name_off, $n[k] as u32);
                $kept[k] += (named & !func) as usize;
                if $kept[k] == NAME_CHUNK {
                    $full[k].extend_from_slice(&$names[k][..NAME_CHUNK]);
                    $kept[k] = 0;
                }
                $off[k] = at + len;
                $n[k] += 1;
            }
            None => {
                $ok = false;
                $off[k] = $stops[k];
            }
        }
    }};
}

/// Walks the four lanes in one loop until each reaches its stop; `None` if one fails.
fn walk_interleaved<O: Order>(
    t: &[u8],
    sizes: &PackedSizes,
    starts: [usize; LANES],
    stops: [usize; LANES],
) -> Option<[Lane; LANES]> {
    // Records are at least 12 bytes: a lane holds at most this many.
    let room = |k: usize| (stops[k] - starts[k]) / TYPE_HEADER_LEN + 1;
    // Written in place (no length to update in the loop). Measured against chunked and
    // push-as-you-go buffers, which touch less memory but cost the loop more.
    let mut offsets: [Vec<u32>; LANES] = std::array::from_fn(|k| vec![0; room(k)]);
    // Each record writes its (name, index) at names[kept] and keeps it by advancing
    // `kept`: no branch on whether it is named (those alternate unpredictably). A full
    // buffer is moved to the lane's list and refilled.
    let mut names: [Vec<(u32, u32)>; LANES] =
        std::array::from_fn(|_| vec![(0u32, 0u32); NAME_CHUNK + 1]);
    let mut full: [Vec<(u32, u32)>; LANES] = std::array::from_fn(|_| Vec::new());
    let mut off = starts;
    let mut n = [0usize; LANES];
    let mut kept = [0usize; LANES];
    let mut funcs = [0usize; LANES];
    let mut ok = true;
    // Lanes hold different numbers of records: one that is done drops out of the loop
    // and the others go on interleaved (a branch per lane, taken the same way for long).
    // Written out per lane with constant indices, so the state stays in registers.
    loop {
        let mut active = false;
        if off[0] < stops[0] {
            lane_step!(0, t, sizes, stops, off, n, kept, funcs, offsets, names, full, ok);
            active = true;
        }
        if off[1] < stops[1] {
            lane_step!(1, t, sizes, stops, off, n, kept, funcs, offsets, names, full, ok);
            active = true;
        }
        if off[2] < stops[2] {
            lane_step!(2, t, sizes, stops, off, n, kept, funcs, offsets, names, full, ok);
            active = true;
        }
        if off[3] < stops[3] {
            lane_step!(3, t, sizes, stops, off, n, kept, funcs, offsets, names, full, ok);
            active = true;
        }
        if !active {
            break;
        }
    }
    // Each lane must end exactly where the next begins (the last at the section's end):
    // then every cut point was a real boundary and the lanes are one chain.
    if !ok || off != stops {
        return None;
    }
    Some(std::array::from_fn(|k| Lane {
        offsets: {
            let mut o = std::mem::take(&mut offsets[k]);
            o.truncate(n[k]);
            o
        },
        names: {
            let mut all = std::mem::take(&mut full[k]);
            all.extend_from_slice(&names[k][..kept[k]]);
            all
        },
        count: n[k],
        named_funcs: funcs[k],
    }))
}

/// The lanes (in section order) as one walk: checkpoints every [`CHECKPOINT`] records
/// counted from the section's start, names with their type ids.
fn join(lanes: &[Lane], len: usize, start_id: u32) -> Option<Scan> {
    let count: usize = lanes.iter().map(|l| l.count).sum();
    let count = u32::try_from(count)
        .ok()
        .filter(|&c| start_id.checked_add(c).is_some() && c as usize * TYPE_HEADER_LEN <= len)?;
    let mut checkpoints = Vec::with_capacity((count as usize).div_ceil(CHECKPOINT));
    let mut names = Vec::with_capacity(lanes.iter().map(|l| l.names.len()).sum());
    let mut named_funcs = 0;
    let mut base = 0usize;
    for lane in lanes {
        // The section's checkpoints counted from its start, wherever the lane began.
        let first = (CHECKPOINT - base % CHECKPOINT) % CHECKPOINT;
        checkpoints.extend(lane.offsets.iter().skip(first).step_by(CHECKPOINT));
        let id = |local: u32| start_id.wrapping_add((base + local as usize) as u32);
        names.extend(lane.names.iter().map(|&(name, local)| (name, id(local))));
        named_funcs += lane.named_funcs;
        base += lane.count;
    }
    Some(Scan {
        checkpoints,
        count,
        max_ref: 0,
        max_str: 0,
        names,
        named_funcs,
        unknown: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::EXTRA;

    /// The running kernel's type section (little-endian hosts only).
    fn vmlinux_types() -> Vec<u8> {
        let blob = std::fs::read("/sys/kernel/btf/vmlinux").expect("kernel BTF");
        let word = |at: usize| u32::from_le_bytes(blob[at..at + 4].try_into().unwrap()) as usize;
        let (hdr_len, type_off, type_len) = (word(4), word(8), word(12));
        blob[hdr_len + type_off..hdr_len + type_off + type_len].to_vec()
    }

    #[test]
    fn lanes_join_into_the_one_chain_walk() {
        let t = vmlinux_types();
        let packed = crate::scan::PackedSizes::new(&EXTRA).expect("known kinds pack");
        let lanes = walk_lanes::<crate::scan::Le>(&t, &packed, 1).expect("vmlinux walks in lanes");
        let one = crate::scan::walk_one_chain::<crate::scan::Le>(&t, &EXTRA, 1);
        assert_eq!(lanes.count, one.count);
        assert_eq!(lanes.checkpoints, one.checkpoints);
        assert_eq!(lanes.names, one.names);
        assert_eq!(lanes.named_funcs, one.named_funcs);
    }

    #[test]
    fn lanes_on_two_threads_join_into_the_one_chain_walk() {
        let t = vmlinux_types();
        let packed = crate::scan::PackedSizes::new(&EXTRA).expect("known kinds pack");
        let unhashed = |_: &mut [(u32, u32)]| {};
        let two = walk_lanes_on_two_threads::<crate::scan::Le>(&t, &packed, 1, &unhashed)
            .expect("vmlinux walks in lanes");
        let one = crate::scan::walk_one_chain::<crate::scan::Le>(&t, &EXTRA, 1);
        assert_eq!(two.count, one.count);
        assert_eq!(two.checkpoints, one.checkpoints);
        assert_eq!(two.names, one.names);
        assert_eq!(two.named_funcs, one.named_funcs);
        // Each thread hashes its own lanes' names: every one of them, once.
        let marked = |names: &mut [(u32, u32)]| names.iter_mut().for_each(|n| n.0 = !n.0);
        let hashed = walk_lanes_on_two_threads::<crate::scan::Le>(&t, &packed, 1, &marked)
            .expect("vmlinux walks in lanes");
        let flipped: Vec<(u32, u32)> = one.names.iter().map(|&(n, id)| (!n, id)).collect();
        assert_eq!(hashed.names, flipped);
    }

    #[test]
    fn a_bad_record_in_any_group_leaves_the_walk_to_one_chain() {
        let t = vmlinux_types();
        let packed = crate::scan::PackedSizes::new(&EXTRA).expect("known kinds pack");
        let starts = cut_points::<crate::scan::Le, { GROUPS * LANES }>(&t, &packed).expect("cuts");
        let unhashed = |_: &mut [(u32, u32)]| {};
        for g in 0..GROUPS {
            // A kind no kernel has, in the first record of the group's last lane.
            let mut bad = t.clone();
            bad[starts[g * LANES + LANES - 1] + 7] = 0x7f;
            let walked = walk_lanes_on_two_threads::<crate::scan::Le>(&bad, &packed, 1, &unhashed);
            assert!(
                walked.is_none(),
                "group {g}: a bad record must not be walked over"
            );
        }
    }

    #[test]
    fn a_bad_record_in_any_lane_leaves_the_walk_to_one_chain() {
        let t = vmlinux_types();
        let packed = crate::scan::PackedSizes::new(&EXTRA).expect("known kinds pack");
        let starts = cut_points::<crate::scan::Le, LANES>(&t, &packed).expect("cut points");
        for (k, &start) in starts.iter().enumerate() {
            // A kind no kernel has, in the first record of lane k.
            let mut bad = t.clone();
            bad[start + 7] = 0x7f;
            assert!(
                walk_lanes::<crate::scan::Le>(&bad, &packed, 1).is_none(),
                "lane {k}: a bad record must not be walked over"
            );
        }
        // A cut point that is no record boundary: the lane before it does not land on it.
        let mut misaligned = starts;
        misaligned[2] += 4;
        let mut stops = [t.len(); LANES];
        stops[..LANES - 1].copy_from_slice(&misaligned[1..]);
        let walked = walk_interleaved::<crate::scan::Le>(&t, &packed, misaligned, stops);
        assert!(walked.is_none(), "a lane that misses the next one's start");
    }
}
