//! Readers of BPF ring buffers (`BPF_MAP_TYPE_RINGBUF`): [`RingBuf`] for one ring,
//! [`RingBufferManager`] for several rings polled together (libbpf's `ring_buffer`),
//! and, with the `async` feature, `AsyncRingBuf` on tokio.
//!
//! The kernel lays a ring buffer out as a consumer page (user space writes the
//! consumer position there), then a producer page (the producer position) and the data
//! pages, mapped twice in a row so that a record wrapping past the end is contiguous in
//! memory. Each record starts with an 8-byte header: a `u32` length with the
//! [`BUSY`](BPF_RINGBUF_BUSY_BIT) bit set while the producer still writes and the
//! [`DISCARD`](BPF_RINGBUF_DISCARD_BIT) bit set for discarded records, then the page
//! offset. Records are 8-byte aligned.
//!
//! Memory ordering follows the kernel's protocol (`Documentation/bpf/ringbuf.rst`):
//! the producer position and each header are loaded with acquire ordering (so the
//! record bytes are visible once the header says the record is committed), and the
//! consumer position is stored with release ordering once the records before it were
//! handed over (so the producer reuses the space only after we are done reading it):
//! in batches, see [`RingBuf`] for when.
//!
//! Records can also be borrowed in a zero-copy batch ([`RingBuf::batch`]) that releases
//! them when dropped.
//!
//! ```no_run
//! use std::time::Duration;
//! use corebpf::ringbuf::RingBuf;
//! # let map: corebpf::map::Map = unimplemented!();
//! let mut rb = RingBuf::new(&map)?;
//! loop {
//!     rb.poll(Duration::from_millis(100), |data: &[u8]| {
//!         println!("{} bytes", data.len());
//!     })?;
//! }
//! # Ok::<(), corebpf::map::MapError>(())
//! ```

use std::ops::{ControlFlow, Deref};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use corebpf_sys::mmap::{page_size, prefetch_next_page, MmapRegion};
use corebpf_sys::MapType;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use crate::map::{pod, Map, MapError, Pod};

/// Set in a record header's length while the producer is still writing the record.
pub const BPF_RINGBUF_BUSY_BIT: u32 = 1 << 31;
/// Set in a record header's length when the record was discarded.
pub const BPF_RINGBUF_DISCARD_BIT: u32 = 1 << 30;
/// Size of a record header.
pub const BPF_RINGBUF_HDR_SZ: usize = 8;

/// What a record callback returns: `()` (always continue), `ControlFlow` (`Break`
/// stops), `i32` (a negative value stops, as in libbpf) or `bool` (`false` stops).
pub trait CallbackResult {
    /// True if the reader should stop after this record.
    fn should_stop(&self) -> bool;
}

impl CallbackResult for () {
    #[inline(always)]
    fn should_stop(&self) -> bool {
        false
    }
}

impl<B, C> CallbackResult for ControlFlow<B, C> {
    #[inline(always)]
    fn should_stop(&self) -> bool {
        self.is_break()
    }
}

impl CallbackResult for i32 {
    #[inline(always)]
    fn should_stop(&self) -> bool {
        *self < 0
    }
}

impl CallbackResult for bool {
    #[inline(always)]
    fn should_stop(&self) -> bool {
        !*self
    }
}

/// Converts a timeout for `epoll_wait`/`poll`: milliseconds rounded up, at most
/// `i32::MAX` (so `Duration::MAX` waits practically forever).
pub(crate) fn epoll_timeout(t: Duration) -> EpollTimeout {
    let ms = t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::MAX)
}

/// [`RingBuf::consume`] publishes the consumer position at least every `size /
/// PUBLISH_FRACTION` bytes consumed (see [`RingBuf`]).
const PUBLISH_FRACTION: u64 = 16;

/// "Never publish before the end": the publishing interval of a [`RingBufBatch`].
const PUBLISH_AT_END: u64 = u64::MAX;

/// The longest record the kernel accepts (`RINGBUF_MAX_RECORD_SZ`, `UINT_MAX / 4`).
const MAX_RECORD_LEN: u32 = (1 << 30) - 1;

/// A reader of one ring buffer map.
///
/// Records are handed out as `&[u8]` pointing into the shared mapping (no copy). A
/// record's space goes back to the producer when the consumer position is published
/// past it:
///
/// - [`consume`](RingBuf::consume) and [`poll`](RingBuf::poll) publish when they return,
///   whenever they have caught up with the producer (before they look for new records),
///   and otherwise at least every `size / 16` bytes consumed. libbpf publishes after
///   every record; publishing in batches saves a store per record and, with a producer
///   on another CPU, the cache-line transfers and wakeup checks that go with it. The
///   cost: while a callback runs, up to 1/16 of the ring may hold records already
///   handled, so a producer that finds the ring full sees 1/16 less space than with
///   libbpf (a record it could not reserve is dropped, as with any full ring).
/// - A [`RingBufBatch`] ([`batch`](RingBuf::batch)) publishes once, when dropped, for the
///   records it handed out: zero-copy records that stay valid for the whole batch.
/// - A [`RingBufItem`] ([`next`](RingBuf::next)) publishes when dropped.
#[derive(Debug)]
pub struct RingBuf {
    fd: OwnedFd,
    // Regions own the mappings; the raw pointers below point into them.
    _consumer: MmapRegion,
    _producer: MmapRegion,
    cons_pos: *const AtomicU64,
    prod_pos: *const AtomicU64,
    data: *const u8,
    /// `data + size`: where the first copy of the data area ends.
    data_end: *const u8,
    mask: u64,
    size: usize,
    /// The longest length a committed, kept record can have: `size - 8`, at most
    /// [`MAX_RECORD_LEN`]. A header length above it is busy, discarded or corrupt,
    /// so one comparison per record checks all three.
    max_len: u32,
    /// Bytes [`consume`](RingBuf::consume) may consume before publishing.
    publish_every: u64,
    /// The map's name, for errors.
    name: String,
}

// SAFETY: the raw pointers point into `consumer`/`producer`, which are Send + Sync and
// owned by this value; `RingBuf` is only used through `&mut self` for consumption.
unsafe impl Send for RingBuf {}

impl RingBuf {
    /// Maps the ring buffer `map` (its fd is duplicated, so `map` may be dropped).
    pub fn new(map: &Map) -> Result<Self, MapError> {
        map.check_type(&[MapType::RingBuf], "RingBuf")?;
        let fd = map
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| MapError::io(format!("dup of ring buffer {}", map.name()), e))?;
        Self::from_fd(fd, map.max_entries() as usize, map.name())
    }

    /// Maps a ring buffer from its fd and data size (`max_entries`, a power-of-2
    /// multiple of the page size); `name` is used in errors.
    pub fn from_fd(fd: OwnedFd, size: usize, name: &str) -> Result<Self, MapError> {
        let page = page_size();
        if size == 0 || !size.is_power_of_two() || size % page != 0 || size > u32::MAX as usize {
            return Err(MapError::invalid(
                name,
                format!("ring buffer size {size} is not a power-of-2 multiple of the page size"),
            ));
        }
        let err = |e| MapError::sys(format!("ring buffer {name}"), e);
        let consumer = MmapRegion::map(fd.as_fd(), page, true, 0).map_err(err)?;
        let producer =
            MmapRegion::map(fd.as_fd(), page + 2 * size, false, page as u64).map_err(err)?;
        let cons_pos = consumer.atomic_u64(0).expect("page-sized mapping") as *const AtomicU64;
        let prod_pos = producer.atomic_u64(0).expect("page-sized mapping") as *const AtomicU64;
        // The data starts one page into the producer mapping and spans 2 * size bytes.
        let data = producer.as_ptr().wrapping_add(page) as *const u8;
        Ok(RingBuf {
            fd,
            _consumer: consumer,
            _producer: producer,
            cons_pos,
            prod_pos,
            data,
            data_end: data.wrapping_add(size),
            mask: size as u64 - 1,
            size,
            max_len: ((size - BPF_RINGBUF_HDR_SZ) as u32).min(MAX_RECORD_LEN),
            publish_every: (size as u64 / PUBLISH_FRACTION).max(BPF_RINGBUF_HDR_SZ as u64),
            name: name.to_string(),
        })
    }

    #[inline(always)]
    fn cons(&self) -> &AtomicU64 {
        // SAFETY: points into `self.consumer`, mapped for the life of `self`, aligned.
        unsafe { &*self.cons_pos }
    }

    #[inline(always)]
    fn prod(&self) -> &AtomicU64 {
        // SAFETY: points into `self.producer`, mapped for the life of `self`, aligned.
        unsafe { &*self.prod_pos }
    }

    /// Data size of the ring in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes produced but not yet consumed.
    pub fn avail_data_size(&self) -> u64 {
        let prod = self.prod().load(Ordering::Acquire);
        let cons = self.cons().load(Ordering::Acquire);
        prod.wrapping_sub(cons)
    }

    /// Hands every available record to `f` without waiting and returns how many were
    /// handed over. Stops early (after consuming that record) if `f` asks to (see
    /// [`CallbackResult`]). Works without any wakeup (records sent with
    /// `BPF_RB_NO_WAKEUP` are seen). Records committed while it runs are handed over
    /// too; it returns when the ring is empty or the next record is still being
    /// written. The consumer position is published as described on [`RingBuf`].
    #[inline]
    pub fn consume<F, R>(&mut self, mut f: F) -> Result<usize, MapError>
    where
        F: FnMut(&[u8]) -> R,
        R: CallbackResult,
    {
        let mut cur = Cursor::new(self, self.publish_every);
        let end = cur.run(self, |rec| f(rec).should_stop());
        cur.publish(self);
        end
    }

    /// A zero-copy batch: iterate it (`for rec in &mut batch`) to get the committed
    /// records as `&[u8]` borrowed from the mapping, which stay valid until the batch
    /// is dropped. Dropping the batch publishes the consumer position past the records
    /// it handed out (and the discarded ones it skipped), so their space goes back to
    /// the producer then, not before: a producer may find the ring full while a large
    /// batch is held.
    ///
    /// Iteration ends when the ring is empty or the next record is still being written
    /// (records committed meanwhile are included); a later iteration of the same batch
    /// continues from there.
    ///
    /// ```no_run
    /// # let mut rb: corebpf::ringbuf::RingBuf = unimplemented!();
    /// let mut batch = rb.batch();
    /// let records: Vec<&[u8]> = batch.iter().collect();
    /// println!("{} records, the first {:?}", records.len(), records.first());
    /// drop(records);
    /// drop(batch); // now the producer may reuse their space
    /// ```
    pub fn batch(&mut self) -> RingBufBatch<'_> {
        RingBufBatch::new(self, PUBLISH_AT_END)
    }

    /// [`consume`](RingBuf::consume) with each record read as a `T` (the event struct the
    /// program submits; any alignment). A record shorter than `T` stops consumption with
    /// an error naming the map, the record's size and the type; a longer one is read from
    /// its start.
    ///
    /// ```no_run
    /// # let mut rb: corebpf::ringbuf::RingBuf = unimplemented!();
    /// #[repr(C)]
    /// #[derive(Clone, Copy)]
    /// struct Event { pid: u32, uid: u32, bytes: u64 }
    /// // SAFETY: `#[repr(C)]`, integers only, no padding.
    /// unsafe impl corebpf::map::Pod for Event {}
    /// rb.consume_typed(|e: Event| println!("{} sent {} bytes", e.pid, e.bytes))?;
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    pub fn consume_typed<T, F, R>(&mut self, mut f: F) -> Result<usize, MapError>
    where
        T: Pod,
        F: FnMut(T) -> R,
        R: CallbackResult,
    {
        let mut short = None;
        let n = self.consume(|b: &[u8]| match pod::read_prefix::<T>(b) {
            Some(v) => !f(v).should_stop(),
            None => {
                short = Some(b.len());
                false
            }
        })?;
        match short {
            None => Ok(n),
            Some(len) => Err(self.short_record::<T>(len)),
        }
    }

    /// [`poll`](RingBuf::poll) with each record read as a `T` (see
    /// [`consume_typed`](RingBuf::consume_typed)).
    pub fn poll_typed<T, F, R>(&mut self, timeout: Duration, f: F) -> Result<usize, MapError>
    where
        T: Pod,
        F: FnMut(T) -> R,
        R: CallbackResult,
    {
        self.wait(timeout)?;
        self.consume_typed(f)
    }

    fn short_record<T>(&self, len: usize) -> MapError {
        MapError::ValueSize {
            name: format!("ring buffer {} (a record)", self.name),
            map: len,
            rust: std::mem::size_of::<T>(),
            ty: std::any::type_name::<T>(),
        }
    }

    /// The next available record, or `None`. The record's space is released to the
    /// producer when the returned item is dropped.
    ///
    /// ```no_run
    /// # let mut rb: corebpf::ringbuf::RingBuf = unimplemented!();
    /// while let Some(rec) = rb.next()? {
    ///     println!("{:?}", &rec[..]);
    /// }
    /// # Ok::<(), corebpf::map::MapError>(())
    /// ```
    #[allow(clippy::should_implement_trait)] // items borrow the reader: not an Iterator
    pub fn next(&mut self) -> Result<Option<RingBufItem<'_>>, MapError> {
        let mut cur = Cursor::new(self, PUBLISH_AT_END);
        let found = cur.next(self);
        // Discarded records passed over are released now if nothing follows them (and
        // with the record otherwise); so is nothing on an error.
        match found {
            Ok(Some(data)) => Ok(Some(RingBufItem {
                data,
                cons: self.cons(),
                next: cur.pos,
            })),
            Ok(None) => {
                cur.publish(self);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Waits up to `timeout` for data (`poll(2)` on the map fd) unless records are
    /// already available, then [`consume`](RingBuf::consume)s. Returns the number of
    /// records handled (0 on timeout or interruption).
    pub fn poll<F, R>(&mut self, timeout: Duration, f: F) -> Result<usize, MapError>
    where
        F: FnMut(&[u8]) -> R,
        R: CallbackResult,
    {
        self.wait(timeout)?;
        self.consume(f)
    }

    /// Waits up to `timeout` for data unless records are already available.
    fn wait(&self, timeout: Duration) -> Result<(), MapError> {
        if self.avail_data_size() == 0 {
            let mut fds = [nix::poll::PollFd::new(
                self.fd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut fds, epoll_timeout(timeout)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(MapError::io("poll on ring buffer", e.into())),
            }
        }
        Ok(())
    }

    fn corrupt(&self, len: u32) -> MapError {
        MapError::invalid(
            format!("ring buffer {}", self.name),
            format!(
                "corrupt record header: length {:#x} in a {}-byte ring",
                len, self.size
            ),
        )
    }
}

impl AsFd for RingBuf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for RingBuf {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A reader's place in the ring.
///
/// The fast path ([`Cursor::next`]) reads records while `pos < seg_end`, with one
/// comparison of the header's length per record; everything else (wrapping back into
/// the first copy of the data, publishing, reading the producer position again) happens
/// at segment ends, in [`Cursor::next_segment`]. The loop-carried chain is then the
/// header load plus the record length rounded and added to `hdr`, which is what bounds
/// the rate when records are small (libbpf's chain also clears the flag bits and masks
/// the position). The out-of-line steps take and return the cursor by value so that,
/// inlined into a loop, its fields stay in registers.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The next record's header, always inside the first copy of the data when read.
    hdr: *const u8,
    /// Consumer position of `hdr` (ahead of the published one until published).
    pos: u64,
    /// Smallest of: the producer position last read, the position where `hdr` leaves
    /// the first copy of the data, and the position where publishing is due.
    seg_end: u64,
    /// The producer position last read.
    prod: u64,
    /// The consumer position last stored in the shared consumer page.
    published: u64,
    /// Publish at least every `every` bytes ([`PUBLISH_AT_END`]: only when asked).
    every: u64,
    /// [`RingBuf::max_len`], kept here so that the loop does not reload it.
    max_len: u32,
    /// Bytes from the last record's header to the next one's (header and length rounded
    /// up to 8).
    stride: usize,
    /// The last record's length ([`NO_RECORD`] before the first): the fast paths take
    /// the next record if its header equals it (a committed record of the same length;
    /// BUSY or DISCARD set, or another length, differ).
    len: u64,
}

/// [`Cursor::len`] before the first record: no header (a `u32`) equals it.
const NO_RECORD: u64 = u64::MAX;

impl Cursor {
    fn new(ring: &RingBuf, every: u64) -> Cursor {
        // Only this reader writes the consumer position, so a relaxed load suffices.
        let pos = ring.cons().load(Ordering::Relaxed);
        Cursor {
            hdr: ring.data.wrapping_add((pos & ring.mask) as usize),
            pos,
            // Empty: the first `next` starts a segment, reading the producer position.
            seg_end: pos,
            prod: pos,
            published: pos,
            every,
            max_len: ring.max_len,
            stride: 0,
            len: NO_RECORD,
        }
    }

    /// The next committed record, past discarded ones; `None` if the ring is empty or
    /// the next record is still being written. The slice stays valid until the
    /// consumer position is published past it: callers tie `'r` to what publishes.
    ///
    /// The fast path takes a record of the last record's length; anything else goes
    /// to [`next_any`](Cursor::next_any).
    #[inline(always)]
    fn next<'r>(&mut self, ring: &RingBuf) -> Result<Option<&'r [u8]>, MapError> {
        if self.pos < self.seg_end {
            let mask = ring.mask as usize;
            prefetch_next_page(ring.data, self.pos as usize & mask, self.stride, mask);
            // SAFETY: `pos < seg_end`, so `hdr` is inside the first copy (see `header_len`).
            let len = unsafe { header_len(self.hdr) };
            if u64::from(len) == self.len {
                // SAFETY: `len` is the last record's, checked `<= max_len` (see `record`);
                // `'r` is tied to publishing.
                let rec = unsafe { record(self.hdr, len) };
                self.hdr = self.hdr.wrapping_add(self.stride);
                self.pos += self.stride as u64;
                return Ok(Some(rec));
            }
        }
        self.next_any(ring)
    }

    /// [`next`](Cursor::next) for any record: starts a segment if needed, skips
    /// discarded records, stops at a busy one, and sets `stride` and `len` to the record's.
    #[inline(never)]
    fn next_any<'r>(&mut self, ring: &RingBuf) -> Result<Option<&'r [u8]>, MapError> {
        self.next_any_inline(ring)
    }

    /// [`next_any`](Cursor::next_any), inlined (into [`run`](Cursor::run)'s loop).
    #[inline(always)]
    fn next_any_inline<'r>(&mut self, ring: &RingBuf) -> Result<Option<&'r [u8]>, MapError> {
        loop {
            if self.pos >= self.seg_end {
                let more;
                (*self, more) = self.next_segment(ring);
                if !more {
                    return Ok(None);
                }
            }
            // SAFETY: `pos < seg_end`, so `hdr` is inside the first copy (see `header_len`).
            let len = unsafe { header_len(self.hdr) };
            if len > self.max_len {
                match unusual(ring, len)? {
                    Some(discarded) => {
                        self.skip(stride_of(discarded));
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            // SAFETY: `len <= max_len` (see `record`); `'r` is tied to publishing.
            let rec = unsafe { record(self.hdr, len) };
            self.stride = stride_of(len);
            self.len = u64::from(len);
            self.skip(self.stride);
            return Ok(Some(rec));
        }
    }

    /// Hands records to `f` until it returns true (stop) or there is none (as
    /// [`next`](Cursor::next) returns `None`); returns how many it handed over.
    ///
    /// One record through [`next_any_inline`](Cursor::next_any_inline), then the records of the same
    /// length in a loop whose state is in locals (registers): the next header's address
    /// is `hdr + stride`, known before the current header is loaded, so the loads of
    /// consecutive headers overlap instead of forming a chain, and one comparison of
    /// each header with that length is the whole check.
    #[inline(always)]
    fn run(&mut self, ring: &RingBuf, mut f: impl FnMut(&[u8]) -> bool) -> Result<usize, MapError> {
        let mut n = 0;
        loop {
            let Some(rec) = self.next_any_inline(ring)? else {
                return Ok(n);
            };
            n += 1;
            if f(rec) {
                return Ok(n);
            }
            let (mut hdr, mut pos) = (self.hdr, self.pos);
            let (stride, seg_end) = (self.stride, self.seg_end);
            // Records of the same length as the one just handed over (see `len`); anything
            // else goes through `next_any_inline`.
            let same = self.len as u32;
            let (data, mask) = (ring.data, ring.mask as usize);
            let stop = loop {
                if pos >= seg_end {
                    break false;
                }
                prefetch_next_page(data, pos as usize & mask, stride, mask);
                // SAFETY: `pos < seg_end` (see `header_len`).
                if unsafe { header_len(hdr) } != same {
                    break false;
                }
                // SAFETY: `same <= max_len`, as checked for `rec` (see `record`); the
                // consumer position is published only after `f` returns.
                let rec = unsafe { record(hdr, same) };
                hdr = hdr.wrapping_add(stride);
                pos += stride as u64;
                n += 1;
                if f(rec) {
                    break true;
                }
            };
            (self.hdr, self.pos) = (hdr, pos);
            if stop {
                return Ok(n);
            }
        }
    }

    /// Moves past `stride` bytes (a record with its header, rounded up).
    #[inline(always)]
    fn skip(&mut self, stride: usize) {
        self.hdr = self.hdr.wrapping_add(stride);
        self.pos += stride as u64;
    }

    /// At a segment's end: wraps `hdr` back into the first copy, publishes if due,
    /// reads the producer position again if caught up with the last one read, and
    /// sets the next segment's end. With false if there is nothing more to read.
    #[inline(never)]
    fn next_segment(mut self, ring: &RingBuf) -> (Cursor, bool) {
        if self.hdr >= ring.data_end {
            self.hdr = self.hdr.wrapping_sub(ring.size);
        }
        if self.pos - self.published >= self.every {
            self.publish(ring);
        }
        if self.pos >= self.prod {
            // Caught up: give the space back before looking again (as libbpf, which
            // has published the last record by then), then look once more.
            if self.every != PUBLISH_AT_END {
                self.publish(ring);
            }
            self.prod = ring.prod().load(Ordering::Acquire);
            if self.pos >= self.prod {
                return (self, false);
            }
        }
        let to_wrap = ring.data_end as u64 - self.hdr as u64;
        self.seg_end = self
            .prod
            .min(self.pos + to_wrap)
            .min(self.published.saturating_add(self.every));
        (self, true)
    }

    /// Stores the consumer position: the producer may reuse the space before it.
    #[inline]
    fn publish(&mut self, ring: &RingBuf) {
        if self.published != self.pos {
            ring.cons().store(self.pos, Ordering::Release);
            self.published = self.pos;
        }
    }
}

/// The length word of the record header at `hdr`, loaded with acquire ordering: it
/// pairs with the producer's release of the header (its `xchg` that clears BUSY), so the
/// record's bytes are visible once BUSY is clear.
///
/// # Safety
/// `hdr` is 8-aligned (records are) and inside the first copy of the data: a cursor's
/// `hdr` while `pos < seg_end` (a segment ends where `hdr` would leave the first copy).
#[inline(always)]
unsafe fn header_len(hdr: *const u8) -> u32 {
    // SAFETY: the 4 bytes are mapped and aligned (the caller's contract).
    unsafe { (*(hdr as *const AtomicU32)).load(Ordering::Acquire) }
}

/// The `len` bytes of the record whose header is at `hdr`.
///
/// # Safety
/// `hdr` is as for [`header_len`] and `len <= max_len <= size - 8`, so the record lies
/// in the double mapping of `2 * size` bytes (a record wrapping past the end is
/// contiguous there). The caller publishes the consumer position past the record only
/// once the borrow `'r` has ended: until then the producer does not write there.
#[inline(always)]
unsafe fn record<'r>(hdr: *const u8, len: u32) -> &'r [u8] {
    // SAFETY: in bounds and stable (the caller's contract).
    unsafe { std::slice::from_raw_parts(hdr.add(BPF_RINGBUF_HDR_SZ), len as usize) }
}

/// Bytes from a header to the next for a record of `len` bytes: header plus record,
/// rounded up to 8.
#[inline(always)]
fn stride_of(len: u32) -> usize {
    (len as usize + BPF_RINGBUF_HDR_SZ + 7) & !7
}

/// A header length above `max_len`: busy (`None`: stop here), discarded (`Some(its
/// length)`, to skip) or corrupt (an error).
#[cold]
fn unusual(ring: &RingBuf, len: u32) -> Result<Option<u32>, MapError> {
    if len & BPF_RINGBUF_BUSY_BIT != 0 {
        return Ok(None);
    }
    let rec = len & !BPF_RINGBUF_DISCARD_BIT;
    if len & BPF_RINGBUF_DISCARD_BIT == 0 || rec > ring.max_len {
        return Err(ring.corrupt(len));
    }
    Ok(Some(rec))
}

/// A zero-copy batch of records from [`RingBuf::batch`]: iterate it to borrow the
/// committed records in order; dropping it releases their space to the producer
/// (publishes the consumer position past the last record handed out).
///
/// ```no_run
/// # let mut rb: corebpf::ringbuf::RingBuf = unimplemented!();
/// let mut batch = rb.batch();
/// for rec in &mut batch {
///     println!("{} bytes", rec.len());
/// }
/// if let Some(e) = batch.error() {
///     eprintln!("{e}");
/// }
/// ```
pub struct RingBufBatch<'a> {
    ring: &'a RingBuf,
    cur: Cursor,
    error: Option<MapError>,
}

impl<'a> RingBufBatch<'a> {
    fn new(ring: &'a mut RingBuf, every: u64) -> Self {
        let cur = Cursor::new(ring, every);
        RingBufBatch {
            ring,
            cur,
            error: None,
        }
    }

    /// The records from where the batch stands, as slices valid while the batch lives.
    pub fn iter(&mut self) -> RingBufIter<'_, 'a> {
        RingBufIter { batch: self }
    }

    /// The records read as `T`s (see [`RingBuf::consume_typed`]): a record shorter than
    /// `T` comes as an error naming the map, its size and the type, and iteration goes
    /// on past it.
    pub fn typed<T: Pod>(&mut self) -> impl Iterator<Item = Result<T, MapError>> + use<'_, 'a, T> {
        let ring = self.ring;
        self.iter().map(move |rec| {
            pod::read_prefix::<T>(rec).ok_or_else(|| ring.short_record::<T>(rec.len()))
        })
    }

    /// Bytes of ring (records, headers and discarded records) the batch has passed
    /// over: what dropping it gives back to the producer.
    pub fn consumed_bytes(&self) -> u64 {
        self.cur.pos - self.cur.published
    }

    /// The error that ended iteration, if any: a corrupt record header (a length too
    /// large for the ring), which the kernel never writes. Iteration stops there.
    pub fn error(&self) -> Option<&MapError> {
        self.error.as_ref()
    }
}

impl Drop for RingBufBatch<'_> {
    fn drop(&mut self) {
        self.cur.publish(self.ring);
    }
}

impl std::fmt::Debug for RingBufBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBufBatch")
            .field("consumed_bytes", &self.consumed_bytes())
            .field("error", &self.error)
            .finish()
    }
}

impl<'b, 'a> IntoIterator for &'b mut RingBufBatch<'a> {
    type Item = &'b [u8];
    type IntoIter = RingBufIter<'b, 'a>;
    fn into_iter(self) -> RingBufIter<'b, 'a> {
        self.iter()
    }
}

/// Iterator over a [`RingBufBatch`]'s records ([`RingBufBatch::iter`]); the slices
/// borrow the batch, so they cannot outlive it.
#[derive(Debug)]
pub struct RingBufIter<'b, 'a> {
    batch: &'b mut RingBufBatch<'a>,
}

impl<'b> Iterator for RingBufIter<'b, '_> {
    type Item = &'b [u8];

    #[inline]
    fn next(&mut self) -> Option<&'b [u8]> {
        // The slice may live for `'b`: the batch stays borrowed (so undropped, and
        // publishing nothing) for that long.
        match self.batch.cur.next(self.batch.ring) {
            Ok(rec) => rec,
            Err(e) => {
                self.batch.error = Some(e);
                None
            }
        }
    }
}

/// A record borrowed from a [`RingBuf`]; dereferences to its bytes and releases its
/// space to the producer on drop.
pub struct RingBufItem<'a> {
    data: &'a [u8],
    cons: &'a AtomicU64,
    next: u64,
}

impl Deref for RingBufItem<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data
    }
}

impl Drop for RingBufItem<'_> {
    fn drop(&mut self) {
        self.cons.store(self.next, Ordering::Release);
    }
}

impl std::fmt::Debug for RingBufItem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBufItem")
            .field("len", &self.data.len())
            .finish()
    }
}

type BoxedCallback = Box<dyn FnMut(&[u8]) -> bool + Send>;

/// Several ring buffers, each with its own callback, waited on together with one epoll
/// instance (libbpf's `struct ring_buffer`).
///
/// ```no_run
/// use std::time::Duration;
/// use corebpf::ringbuf::RingBufferManager;
/// # let (events, errors): (corebpf::map::Map, corebpf::map::Map) = unimplemented!();
/// let mut rbm = RingBufferManager::new()?;
/// rbm.add(&events, |data: &[u8]| println!("event: {data:?}"))?;
/// rbm.add(&errors, |data: &[u8]| eprintln!("error: {data:?}"))?;
/// loop {
///     rbm.poll(Duration::from_millis(100))?;
/// }
/// # Ok::<(), corebpf::map::MapError>(())
/// ```
pub struct RingBufferManager {
    epoll: Epoll,
    rings: Vec<(RingBuf, BoxedCallback)>,
    events: Vec<EpollEvent>,
}

impl std::fmt::Debug for RingBufferManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBufferManager")
            .field("rings", &self.rings.len())
            .finish()
    }
}

impl RingBufferManager {
    /// An empty manager.
    pub fn new() -> Result<Self, MapError> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|e| MapError::io("epoll_create1", e.into()))?;
        Ok(RingBufferManager {
            epoll,
            rings: Vec::new(),
            events: Vec::new(),
        })
    }

    /// Adds the ring buffer `map` with its callback; returns the ring's index.
    pub fn add<F, R>(&mut self, map: &Map, f: F) -> Result<usize, MapError>
    where
        F: FnMut(&[u8]) -> R + Send + 'static,
        R: CallbackResult,
    {
        self.add_ring(RingBuf::new(map)?, f)
    }

    /// Adds an already mapped ring with its callback; returns the ring's index.
    pub fn add_ring<F, R>(&mut self, ring: RingBuf, mut f: F) -> Result<usize, MapError>
    where
        F: FnMut(&[u8]) -> R + Send + 'static,
        R: CallbackResult,
    {
        let idx = self.rings.len();
        self.epoll
            .add(
                ring.as_fd(),
                EpollEvent::new(EpollFlags::EPOLLIN, idx as u64),
            )
            .map_err(|e| MapError::io("epoll_ctl(EPOLL_CTL_ADD) of a ring buffer", e.into()))?;
        self.rings
            .push((ring, Box::new(move |d: &[u8]| !f(d).should_stop())));
        self.events.push(EpollEvent::empty());
        Ok(idx)
    }

    /// Number of rings.
    pub fn len(&self) -> usize {
        self.rings.len()
    }

    /// True if no ring was added.
    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }

    /// Consumes every ring without waiting; returns the number of records handled.
    pub fn consume(&mut self) -> Result<usize, MapError> {
        let mut n = 0;
        for (ring, cb) in &mut self.rings {
            n += ring.consume(&mut *cb)?;
        }
        Ok(n)
    }

    /// Consumes ring `idx` only.
    pub fn consume_ring(&mut self, idx: usize) -> Result<usize, MapError> {
        let (ring, cb) = self
            .rings
            .get_mut(idx)
            .ok_or_else(|| MapError::invalid("ring buffer manager", format!("no ring {idx}")))?;
        ring.consume(&mut *cb)
    }

    /// Waits up to `timeout` for any ring to have data and consumes the rings that do.
    /// Returns the number of records handled (0 on timeout or interruption).
    pub fn poll(&mut self, timeout: Duration) -> Result<usize, MapError> {
        let ready = match self.epoll.wait(&mut self.events, epoll_timeout(timeout)) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => return Ok(0),
            Err(e) => return Err(MapError::io("epoll_wait on ring buffers", e.into())),
        };
        let mut n = 0;
        for i in 0..ready {
            let idx = self.events[i].data() as usize;
            n += self.consume_ring(idx)?;
        }
        Ok(n)
    }

    /// The epoll fd, to wait on from an event loop (readable when some ring has data).
    pub fn epoll_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
}

#[cfg(feature = "async")]
pub use self::async_ringbuf::AsyncRingBuf;

#[cfg(feature = "async")]
mod async_ringbuf {
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    use super::{CallbackResult, RingBuf};
    use crate::map::{Map, MapError, Pod};

    /// A [`RingBuf`] registered with tokio's reactor (feature `async`).
    ///
    /// ```no_run
    /// # async fn f(map: corebpf::map::Map) -> Result<(), corebpf::map::MapError> {
    /// let mut rb = corebpf::ringbuf::AsyncRingBuf::new(&map)?;
    /// loop {
    ///     rb.consume_ready(|data: &[u8]| println!("{data:?}")).await?;
    /// }
    /// # }
    /// ```
    #[derive(Debug)]
    pub struct AsyncRingBuf {
        inner: AsyncFd<RingBuf>,
    }

    impl AsyncRingBuf {
        /// Maps the ring buffer `map` and registers it with the current tokio runtime.
        pub fn new(map: &Map) -> Result<Self, MapError> {
            Self::from_ring(RingBuf::new(map)?)
        }

        /// Registers an already mapped ring.
        pub fn from_ring(ring: RingBuf) -> Result<Self, MapError> {
            // SAFETY: `RingBuf` owns its fd (an `OwnedFd` field that is never replaced), so
            // the fd stays open and `as_raw_fd` returns the same value for as long as the
            // `AsyncFd` owns the ring.
            let inner = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
                .map_err(|e| MapError::io("registering a ring buffer with tokio", e.into()))?;
            Ok(AsyncRingBuf { inner })
        }

        /// Waits until at least one record is available, then consumes all available
        /// records; returns how many were handled (at least 1 unless `f` stopped early
        /// on a record, which also counts).
        pub async fn consume_ready<F, R>(&mut self, mut f: F) -> Result<usize, MapError>
        where
            F: FnMut(&[u8]) -> R,
            R: CallbackResult,
        {
            self.when_ready(|ring| ring.consume(&mut f)).await
        }

        /// [`consume_ready`](AsyncRingBuf::consume_ready) with each record read as a `T`
        /// (see [`RingBuf::consume_typed`]).
        pub async fn consume_ready_typed<T, F, R>(&mut self, mut f: F) -> Result<usize, MapError>
        where
            T: Pod,
            F: FnMut(T) -> R,
            R: CallbackResult,
        {
            self.when_ready(|ring| ring.consume_typed(&mut f)).await
        }

        /// Runs `consume` (one consuming pass) until it handles a record, waiting for a
        /// wakeup between passes that found nothing.
        async fn when_ready(
            &mut self,
            mut consume: impl FnMut(&mut RingBuf) -> Result<usize, MapError>,
        ) -> Result<usize, MapError> {
            loop {
                // Records may be there without a wakeup (BPF_RB_NO_WAKEUP): look first.
                let n = consume(self.inner.get_mut())?;
                if n > 0 {
                    return Ok(n);
                }
                let mut guard = self
                    .inner
                    .readable_mut()
                    .await
                    .map_err(|e| MapError::io("waiting on a ring buffer", e))?;
                let n = consume(guard.get_inner_mut())?;
                if n > 0 {
                    return Ok(n);
                }
                // Nothing after all: forget this readiness and wait for the next wakeup.
                guard.clear_ready();
            }
        }

        /// The ring, for non-waiting use.
        pub fn get_mut(&mut self) -> &mut RingBuf {
            self.inner.get_mut()
        }

        /// Gives the ring back, deregistering it.
        pub fn into_inner(self) -> RingBuf {
            self.inner.into_inner()
        }
    }
}
