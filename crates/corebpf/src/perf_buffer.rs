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

use corebpf_sys::mmap::{page_size, MmapRegion};
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
    /// size that lie wholly before the end and before `head` go through a loop in
    /// which the next header's address is `p + stride`, known before the current header
    /// is loaded, so consecutive header loads overlap instead of forming a chain (the
    /// size read from each header is still compared with the stride).
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
            self.dispatch(unsafe { std::slice::from_raw_parts(p, size) }, sample, lost);
            let stride = size;
            let seg_end = *tail + contiguous;
            *tail += stride as u64;
            n += 1;
            // SAFETY: `tail <= seg_end`, so at most at the data area's end.
            p = unsafe { p.add(stride) };
            if stride < HEADER_SIZE + 4 {
                continue;
            }
            while *tail + stride as u64 <= seg_end {
                // SAFETY: a whole `stride` bytes lie before `seg_end` (the loop
                // condition), so the header and record are in bounds and stable.
                let rec = unsafe { std::slice::from_raw_parts(p, stride) };
                // Samples only: the loop calls nothing but `sample`, so the compiler
                // can keep the callback's state in registers.
                if header_size(rec) != stride || header_kind(rec) != PERF_RECORD_SAMPLE {
                    break;
                }
                self.dispatch_sample(rec, sample);
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
