//! A reader of `BPF_MAP_TYPE_PERF_EVENT_ARRAY` maps (libbpf's `perf_buffer`): one
//! `PERF_COUNT_SW_BPF_OUTPUT` event per CPU, each with its own mmapped ring, stored in the
//! map at the CPU's index so that `bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU,
//! ...)` writes to the ring of the CPU the program runs on.
//!
//! Each ring is a metadata page (`struct perf_event_mmap_page`, with `data_head` written
//! by the kernel and `data_tail` by us) followed by 2^n data pages. Records are
//! `struct perf_event_header` followed by a body: `PERF_RECORD_SAMPLE` carries a `u32`
//! size and the raw bytes the program sent; `PERF_RECORD_LOST` says how many samples did
//! not fit. `data_head` is loaded with acquire ordering and `data_tail` stored with
//! release ordering, the protocol of `include/uapi/linux/perf_event.h`.
//!
//! ```no_run
//! use std::time::Duration;
//! use corebpf::perf_buffer::PerfBuffer;
//! # let map: corebpf::map::Map = unimplemented!();
//! let mut pb = PerfBuffer::new(
//!     &map,
//!     8,
//!     |cpu, data: &[u8]| println!("cpu {cpu}: {} bytes", data.len()),
//!     |cpu, lost| eprintln!("cpu {cpu}: lost {lost} events"),
//! )?;
//! loop {
//!     pb.poll(Duration::from_millis(100))?;
//! }
//! # Ok::<(), corebpf::map::MapError>(())
//! ```

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use corebpf_sys::mmap::{page_size, prefetch_next_page, MmapRegion};
use corebpf_sys::perf::perf_event_open_bpf_output;
use corebpf_sys::{MapFd, MapType};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};

use crate::map::{Map, MapError, Pod};
use crate::ringbuf::epoll_timeout;

/// `PERF_RECORD_LOST`.
pub const PERF_RECORD_LOST: u32 = 2;
/// `PERF_RECORD_SAMPLE`.
pub const PERF_RECORD_SAMPLE: u32 = 9;

/// Offsets in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;
const DATA_OFFSET: usize = 1040;
const DATA_SIZE: usize = 1048;

/// Size of `struct perf_event_header`.
const HEADER_SIZE: usize = 8;

/// One CPU's event and ring.
#[derive(Debug)]
struct CpuRing {
    cpu: u32,
    fd: OwnedFd,
    region: MmapRegion,
    data_off: usize,
    data_size: usize,
}

impl CpuRing {
    fn open(cpu: u32, page_cnt: usize) -> Result<Option<Self>, MapError> {
        let fd = match perf_event_open_bpf_output(cpu as i32) {
            Ok(fd) => fd,
            // An offline CPU: nothing can run there, so it needs no ring.
            Err(e) if e.raw_errno() == Some(libc::ENODEV) => return Ok(None),
            Err(e) => return Err(MapError::sys(format!("perf buffer CPU {cpu}"), e)),
        };
        let page = page_size();
        let region = MmapRegion::map(fd.as_fd(), page * (page_cnt + 1), true, 0)
            .map_err(|e| MapError::sys(format!("perf buffer CPU {cpu}"), e))?;
        let mut off = [0u8; 8];
        let mut size = [0u8; 8];
        region.read(DATA_OFFSET, &mut off);
        region.read(DATA_SIZE, &mut size);
        // Kernels before 4.1 leave these zero; the data then starts at the next page.
        let (data_off, data_size) = match (u64::from_ne_bytes(off), u64::from_ne_bytes(size)) {
            (0, _) | (_, 0) => (page, page * page_cnt),
            (o, s) => (o as usize, s as usize),
        };
        if data_off + data_size > region.len() || !data_size.is_power_of_two() {
            return Err(MapError::invalid(
                format!("perf buffer CPU {cpu}"),
                format!("unexpected ring layout: data at {data_off}, {data_size} bytes"),
            ));
        }
        Ok(Some(CpuRing {
            cpu,
            fd,
            region,
            data_off,
            data_size,
        }))
    }

    fn head(&self) -> &AtomicU64 {
        self.region.atomic_u64(DATA_HEAD).expect("metadata page")
    }

    fn tail(&self) -> &AtomicU64 {
        self.region.atomic_u64(DATA_TAIL).expect("metadata page")
    }

    /// Reads all records from `tail` to `head`, dispatching them, then stores the new
    /// tail (once, as libbpf: the kernel reuses the space only after that); returns the
    /// count.
    fn read_all<S, L>(
        &self,
        scratch: &mut Vec<u8>,
        sample: &mut S,
        lost: &mut L,
    ) -> Result<usize, MapError>
    where
        S: FnMut(u32, &[u8]),
        L: FnMut(u32, u64),
    {
        let head = self.head().load(Ordering::Acquire);
        // Only we write data_tail.
        let mut tail = self.tail().load(Ordering::Relaxed);
        let read = self.read_to(head, &mut tail, scratch, sample, lost);
        // Also after an error: the records before it were handled.
        self.tail().store(tail, Ordering::Release);
        read
    }

    /// Reads the records from `*tail` to `head`, advancing `*tail`.
    ///
    /// Each record goes through the general path (size checks, a record wrapping past
    /// the end of the data area reassembled in `scratch`), then the records of the same
    /// [shape](SampleShape) that lie wholly before the end and before `head` go through
    /// a loop in which the next header's address is `p + stride`, known before the
    /// current header is loaded, so consecutive header loads overlap instead of forming
    /// a chain (each header is still compared with the first one's).
    #[inline(always)]
    fn read_to<S, L>(
        &self,
        head: u64,
        tail: &mut u64,
        scratch: &mut Vec<u8>,
        sample: &mut S,
        lost: &mut L,
    ) -> Result<usize, MapError>
    where
        S: FnMut(u32, &[u8]),
        L: FnMut(u32, u64),
    {
        let mask = self.data_size as u64 - 1;
        // SAFETY: `data_off + data_size <= region.len()` was checked in `open`.
        let base = unsafe { self.region.as_ptr().add(self.data_off) } as *const u8;
        let mut n = 0;
        while *tail < head {
            let off = (*tail & mask) as usize;
            // Bytes readable in place from `off`: up to `head` and the data area's end.
            let contiguous = (head - *tail).min((self.data_size - off) as u64);
            // SAFETY: `off < data_size`: the pointer is inside the data area.
            let mut p = unsafe { base.add(off) };
            // SAFETY: headers are 8-byte aligned and 8 bytes long, so they never wrap:
            // `off + 8 <= data_size`. The kernel finished everything before `head`
            // (acquire above) and does not touch it until we move the tail.
            let size = header_size(unsafe { std::slice::from_raw_parts(p, HEADER_SIZE) });
            if size < HEADER_SIZE || size as u64 > head - *tail {
                return Err(self.corrupt(size, head - *tail));
            }
            if size as u64 > contiguous {
                self.dispatch(self.reassemble(scratch, base, off, size), sample, lost);
                *tail += size as u64;
                n += 1;
                continue;
            }
            // SAFETY: `size <= contiguous`: in bounds, and stable as for the header.
            let first = unsafe { std::slice::from_raw_parts(p, size) };
            self.dispatch(first, sample, lost);
            let stride = size;
            let seg_end = *tail + contiguous;
            *tail += stride as u64;
            n += 1;
            // SAFETY: `tail <= seg_end`, so at most at the data area's end.
            p = unsafe { p.add(stride) };
            let Some(shape) = SampleShape::of(first) else {
                continue;
            };
            let data_end = HEADER_SIZE + 4 + shape.raw as usize;
            while *tail + stride as u64 <= seg_end {
                prefetch_next_page(base, (*tail & mask) as usize, stride, mask as usize);
                // SAFETY: a whole `stride` bytes lie before `seg_end` (the loop
                // condition), so the header and record are in bounds and stable.
                let rec = unsafe { std::slice::from_raw_parts(p, stride) };
                // Samples of the first one's shape only: the loop calls nothing but
                // `sample`, so the compiler can keep the callback's state in registers.
                if SampleShape::of_same_size(rec) != shape {
                    break;
                }
                sample(self.cpu, &rec[HEADER_SIZE + 4..data_end]);
                // SAFETY: stays at most at `seg_end`, inside or at the end of the area.
                p = unsafe { p.add(stride) };
                *tail += stride as u64;
                n += 1;
            }
        }
        Ok(n)
    }

    /// A record of `size` bytes at `off` that wraps past the end of the data area,
    /// copied into `scratch` in one piece.
    #[cold]
    fn reassemble<'s>(
        &self,
        scratch: &'s mut Vec<u8>,
        base: *const u8,
        off: usize,
        size: usize,
    ) -> &'s [u8] {
        let first = self.data_size - off;
        scratch.clear();
        // SAFETY: both pieces are inside the data area (`size <= data_size`, checked
        // against `head - tail`) and stable until we move the tail.
        unsafe {
            scratch.extend_from_slice(std::slice::from_raw_parts(base.add(off), first));
            scratch.extend_from_slice(std::slice::from_raw_parts(base, size - first));
        }
        scratch
    }

    /// Hands a `PERF_RECORD_SAMPLE` record (header included, at least 12 bytes) to
    /// `sample`.
    #[inline(always)]
    fn dispatch_sample<S: FnMut(u32, &[u8])>(&self, rec: &[u8], sample: &mut S) {
        let raw = u32::from_ne_bytes(rec[8..12].try_into().expect("4 bytes")) as usize;
        let end = (12 + raw).min(rec.len());
        sample(self.cpu, &rec[12..end]);
    }

    /// Hands one record (header included) to the callback of its kind.
    #[inline(always)]
    fn dispatch<S, L>(&self, rec: &[u8], sample: &mut S, lost: &mut L)
    where
        S: FnMut(u32, &[u8]),
        L: FnMut(u32, u64),
    {
        match header_kind(rec) {
            PERF_RECORD_SAMPLE if rec.len() >= HEADER_SIZE + 4 => self.dispatch_sample(rec, sample),
            PERF_RECORD_LOST if rec.len() >= HEADER_SIZE + 16 => {
                let count = u64::from_ne_bytes(rec[16..24].try_into().expect("8 bytes"));
                lost(self.cpu, count);
            }
            _ => {} // other record types are not produced by BPF output events
        }
    }

    #[cold]
    fn corrupt(&self, size: usize, avail: u64) -> MapError {
        MapError::invalid(
            format!("perf buffer CPU {}", self.cpu),
            format!("corrupt record: size {size} with {avail} bytes available"),
        )
    }
}

/// What the fast loop of [`CpuRing::read_to`] compares between consecutive samples: the
/// header's `type` and `size` (one load; `misc` masked out, since it may change from
/// one sample to the next) and the raw data's size. Records equal in this are samples
/// whose data lies at the same place, so the loop hands them over without further
/// checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SampleShape {
    header: u64,
    raw: u32,
}

impl SampleShape {
    /// `misc` (bytes 4 and 5 of the header) cleared, whatever the byte order.
    const MISC_CLEARED: u64 = u64::from_ne_bytes([0xff, 0xff, 0xff, 0xff, 0, 0, 0xff, 0xff]);

    /// The shape of `rec`, a whole record (its length the header's size), if it is a
    /// sample whose raw data fits in it.
    fn of(rec: &[u8]) -> Option<Self> {
        let shape = Self::of_same_size(rec.get(..HEADER_SIZE + 4)?);
        let fits = HEADER_SIZE + 4 + shape.raw as usize <= rec.len();
        (header_kind(rec) == PERF_RECORD_SAMPLE && fits).then_some(shape)
    }

    /// The shape of the record starting `rec` (at least 12 bytes), unchecked.
    #[inline(always)]
    fn of_same_size(rec: &[u8]) -> Self {
        let header = u64::from_ne_bytes(rec[..8].try_into().expect("8 bytes"));
        SampleShape {
            header: header & Self::MISC_CLEARED,
            raw: u32::from_ne_bytes(rec[8..12].try_into().expect("4 bytes")),
        }
    }
}

/// The `type` field of the `struct perf_event_header` starting `rec`.
#[inline(always)]
fn header_kind(rec: &[u8]) -> u32 {
    u32::from_ne_bytes(rec[0..4].try_into().expect("4 bytes"))
}

/// The `size` field of the `struct perf_event_header` starting `rec`.
#[inline(always)]
fn header_size(rec: &[u8]) -> usize {
    u16::from_ne_bytes(rec[6..8].try_into().expect("2 bytes")) as usize
}

/// A perf buffer: one ring per CPU for a `BPF_MAP_TYPE_PERF_EVENT_ARRAY`, with a sample
/// callback `S(cpu, data)` and a lost-events callback `L(cpu, count)`.
///
/// As with libbpf, `data` is the raw sample as the kernel stored it: the kernel pads it
/// so that its `u32` size field plus the data is a multiple of 8 bytes, so `data` may be
/// up to 7 bytes longer than what the program sent.
///
/// On drop the rings are unmapped, the events closed, and their map slots cleared.
pub struct PerfBuffer<S, L> {
    map: MapFd,
    epoll: Epoll,
    rings: Vec<CpuRing>,
    events: Vec<EpollEvent>,
    scratch: Vec<u8>,
    sample: S,
    lost: L,
}

/// A sample callback for [`PerfBuffer::new`] that reads each sample as a `T` (from its
/// start: samples carry up to 7 bytes of padding) and hands `f` the CPU and the value.
/// A sample shorter than `T` is skipped with a warning naming the type and sizes.
///
/// ```no_run
/// # let map: corebpf::map::Map = unimplemented!();
/// use corebpf::perf_buffer::{typed_sample, PerfBuffer};
/// let mut pb = PerfBuffer::new(&map, 8, typed_sample(|cpu, pid: u32| println!("{cpu}: {pid}")), |_, _| {})?;
/// # Ok::<(), corebpf::map::MapError>(())
/// ```
pub fn typed_sample<T: Pod>(mut f: impl FnMut(u32, T)) -> impl FnMut(u32, &[u8]) {
    move |cpu, data| match crate::map::pod::read_prefix::<T>(data) {
        Some(v) => f(cpu, v),
        None => log::warn!(
            "perf buffer: a {}-byte sample on CPU {cpu} is shorter than {} ({} bytes): skipped",
            data.len(),
            std::any::type_name::<T>(),
            std::mem::size_of::<T>()
        ),
    }
}

impl<S, L> std::fmt::Debug for PerfBuffer<S, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfBuffer")
            .field("rings", &self.rings)
            .finish()
    }
}

impl<S, L> PerfBuffer<S, L>
where
    S: FnMut(u32, &[u8]),
    L: FnMut(u32, u64),
{
    /// Opens a `PERF_COUNT_SW_BPF_OUTPUT` event with a ring of `page_cnt` data pages (a
    /// power of two) on every possible CPU (up to the map's `max_entries`), and stores
    /// each event's fd in `map` at the CPU's index (libbpf's `perf_buffer__new`).
    pub fn new(map: &Map, page_cnt: usize, sample: S, lost: L) -> Result<Self, MapError> {
        map.check_type(&[MapType::PerfEventArray], "PerfBuffer")?;
        if page_cnt == 0 || !page_cnt.is_power_of_two() {
            return Err(MapError::invalid(
                map.name(),
                format!("perf buffer page count {page_cnt} is not a power of 2"),
            ));
        }
        let dup = map
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| MapError::io(format!("dup of {}", map.name()), e))?;
        let map_fd = MapFd::new(dup).map_err(|e| map.err(e))?;
        let cpus = corebpf_sys::possible_cpus().map_err(|e| MapError::sys("possible CPUs", e))?;
        let cpus = cpus.min(map.max_entries() as usize);
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|e| MapError::io("epoll_create1", e.into()))?;
        let mut pb = PerfBuffer {
            map: map_fd,
            epoll,
            rings: Vec::with_capacity(cpus),
            events: Vec::new(),
            scratch: Vec::new(),
            sample,
            lost,
        };
        for cpu in 0..cpus as u32 {
            let Some(ring) = CpuRing::open(cpu, page_cnt)? else {
                continue;
            };
            // From here on, Drop clears the slot if a later step fails.
            let fd = std::os::fd::AsRawFd::as_raw_fd(&ring.fd) as u32;
            pb.rings.push(ring);
            corebpf_sys::map_update_elem(&pb.map, &cpu.to_ne_bytes(), &fd.to_ne_bytes(), 0)
                .map_err(|e| map.err(e))?;
            let idx = pb.rings.len() - 1;
            pb.epoll
                .add(
                    pb.rings[idx].fd.as_fd(),
                    EpollEvent::new(EpollFlags::EPOLLIN, idx as u64),
                )
                .map_err(|e| MapError::io("epoll_ctl(EPOLL_CTL_ADD) of a perf event", e.into()))?;
        }
        if pb.rings.is_empty() {
            return Err(MapError::invalid(
                map.name(),
                "no online CPU to open perf events on",
            ));
        }
        pb.events = vec![EpollEvent::empty(); pb.rings.len()];
        Ok(pb)
    }

    /// Waits up to `timeout` for records on any CPU's ring, then reads the rings that
    /// have some. Returns the number of records (samples and lost notices) handled; 0 on
    /// timeout or interruption.
    pub fn poll(&mut self, timeout: Duration) -> Result<usize, MapError> {
        let ready = match self.epoll.wait(&mut self.events, epoll_timeout(timeout)) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => return Ok(0),
            Err(e) => return Err(MapError::io("epoll_wait on perf buffers", e.into())),
        };
        let mut n = 0;
        for i in 0..ready {
            let idx = self.events[i].data() as usize;
            n += self.consume_buffer(idx)?;
        }
        Ok(n)
    }

    /// Reads every CPU's ring without waiting; returns the number of records handled.
    pub fn consume(&mut self) -> Result<usize, MapError> {
        let mut n = 0;
        for idx in 0..self.rings.len() {
            n += self.consume_buffer(idx)?;
        }
        Ok(n)
    }

    /// Reads ring `idx` (see [`PerfBuffer::buffer_cpu`]) without waiting.
    pub fn consume_buffer(&mut self, idx: usize) -> Result<usize, MapError> {
        let Self {
            rings,
            scratch,
            sample,
            lost,
            ..
        } = self;
        let ring = rings
            .get(idx)
            .ok_or_else(|| MapError::invalid("perf buffer", format!("no ring {idx}")))?;
        ring.read_all(scratch, sample, lost)
    }

    /// Number of rings (CPUs).
    pub fn buffer_cnt(&self) -> usize {
        self.rings.len()
    }

    /// The CPU of ring `idx`.
    pub fn buffer_cpu(&self, idx: usize) -> Option<u32> {
        self.rings.get(idx).map(|r| r.cpu)
    }

    /// The perf event fd of ring `idx`.
    pub fn buffer_fd(&self, idx: usize) -> Option<BorrowedFd<'_>> {
        self.rings.get(idx).map(|r| r.fd.as_fd())
    }

    /// The epoll fd, to wait on from an event loop.
    pub fn epoll_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
}

impl<S, L> Drop for PerfBuffer<S, L> {
    fn drop(&mut self) {
        // The map holds its own reference to each event: clear our slots so events and
        // rings are freed with us (libbpf does the same).
        for ring in &self.rings {
            let _ = corebpf_sys::map_delete_elem(&self.map, &ring.cpu.to_ne_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 4096;
    /// Data pages of the synthetic ring.
    const DATA_PAGES: usize = 2;

    /// A ring over a memfd (no perf event): the reader only sees the mapping.
    fn synthetic_ring() -> CpuRing {
        let fd = nix::sys::memfd::memfd_create(c"perf_ring", nix::sys::memfd::MFdFlags::empty())
            .expect("memfd_create");
        nix::unistd::ftruncate(&fd, (PAGE * (DATA_PAGES + 1)) as i64).expect("ftruncate");
        let region = MmapRegion::map(fd.as_fd(), PAGE * (DATA_PAGES + 1), true, 0).expect("mmap");
        CpuRing {
            cpu: 3,
            fd,
            region,
            data_off: PAGE,
            data_size: PAGE * DATA_PAGES,
        }
    }

    fn header(kind: u32, misc: u16, size: usize) -> Vec<u8> {
        let mut h = kind.to_ne_bytes().to_vec();
        h.extend(misc.to_ne_bytes());
        h.extend((size as u16).to_ne_bytes());
        h
    }

    /// A sample record of `size` bytes whose raw size field says `raw`, its data bytes
    /// all `fill`.
    fn sample_rec(misc: u16, size: usize, raw: u32, fill: u8) -> Vec<u8> {
        let mut r = header(PERF_RECORD_SAMPLE, misc, size);
        r.extend(raw.to_ne_bytes());
        r.resize(size, fill);
        r
    }

    fn lost_rec(count: u64) -> Vec<u8> {
        let mut r = header(PERF_RECORD_LOST, 0, 24);
        r.extend(0u64.to_ne_bytes());
        r.extend(count.to_ne_bytes());
        r
    }

    /// Writes `records` from position `tail` (wrapping at the data area's end) and
    /// publishes them as the kernel would; returns the new head.
    fn produce(ring: &CpuRing, tail: u64, records: &[Vec<u8>]) -> u64 {
        let mut pos = tail;
        for byte in records.iter().flatten() {
            let off = ring.data_off + (pos as usize % ring.data_size);
            ring.region.write(off, &[*byte]);
            pos += 1;
        }
        ring.tail().store(tail, Ordering::Relaxed);
        ring.head().store(pos, Ordering::Release);
        pos
    }

    /// What the callbacks saw: (cpu, data length, first data byte) or lost counts.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Sample(u32, usize, u8),
        Lost(u32, u64),
    }

    fn drain(ring: &CpuRing) -> (usize, Vec<Seen>) {
        let seen = std::cell::RefCell::new(Vec::new());
        let mut sample = |cpu, d: &[u8]| seen.borrow_mut().push(Seen::Sample(cpu, d.len(), d[0]));
        let mut lost = |cpu, n| seen.borrow_mut().push(Seen::Lost(cpu, n));
        let n = ring
            .read_all(&mut Vec::new(), &mut sample, &mut lost)
            .expect("read");
        (n, seen.into_inner())
    }

    /// Samples of one shape (whatever their `misc`) and everything that leaves the fast
    /// loop (another raw size in a record of the same size, another size, a lost notice,
    /// a record wrapping past the end) come out in order, each with its own data.
    #[test]
    fn the_fast_loop_keeps_to_samples_of_one_shape() {
        let ring = synthetic_ring();
        // Start 3 records of 80 bytes before the data area's end, so that the fourth
        // (of 32 bytes) ends exactly there and a later one wraps.
        let tail = (ring.data_size - 3 * 80 - 32) as u64 + 8 * ring.data_size as u64;
        let mut recs = vec![
            sample_rec(1, 80, 68, 1),
            sample_rec(2, 80, 68, 2), // misc differs: same shape
            sample_rec(1, 80, 60, 3), // same size, less raw data
            sample_rec(1, 32, 20, 4),
            sample_rec(1, 80, 68, 5), // wraps past the end
            sample_rec(1, 80, 68, 6),
            lost_rec(7),
            sample_rec(1, 80, 68, 8),
        ];
        recs.extend((9..40).map(|i| sample_rec(1, 80, 68, i)));
        let head = produce(&ring, tail, &recs);
        let (n, seen) = drain(&ring);
        let mut want = vec![
            Seen::Sample(3, 68, 1),
            Seen::Sample(3, 68, 2),
            Seen::Sample(3, 60, 3),
            Seen::Sample(3, 20, 4),
            Seen::Sample(3, 68, 5),
            Seen::Sample(3, 68, 6),
            Seen::Lost(3, 7),
        ];
        want.extend((8..40).map(|i| Seen::Sample(3, 68, i)));
        assert_eq!(seen, want);
        assert_eq!(n, recs.len());
        assert_eq!(ring.tail().load(Ordering::Relaxed), head);
    }

    /// A raw size larger than its record hands over what the record holds, in the fast
    /// loop as on the general path.
    #[test]
    fn an_oversized_raw_size_is_cut_to_the_record() {
        let ring = synthetic_ring();
        let recs = vec![
            sample_rec(0, 32, 20, 1),
            sample_rec(0, 32, 200, 2),
            sample_rec(0, 32, 20, 3),
        ];
        produce(&ring, 0, &recs);
        let (_, seen) = drain(&ring);
        let want = vec![
            Seen::Sample(3, 20, 1),
            Seen::Sample(3, 20, 2),
            Seen::Sample(3, 20, 3),
        ];
        assert_eq!(seen, want);
    }
}
