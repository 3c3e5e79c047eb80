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
//! consumer position is stored with release ordering after each record (so the
//! producer reuses the space only after we are done reading it).
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

use corebpf_sys::mmap::{page_size, MmapRegion};
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

/// A reader of one ring buffer map.
///
/// Records are handed to callbacks as `&[u8]` pointing into the shared mapping (no
/// copy); the space is released to the producer when the callback returns.
#[derive(Debug)]
pub struct RingBuf {
    fd: OwnedFd,
    // Regions own the mappings; the raw pointers below point into them.
    _consumer: MmapRegion,
    _producer: MmapRegion,
    cons_pos: *const AtomicU64,
    prod_pos: *const AtomicU64,
    data: *const u8,
    mask: u64,
    size: usize,
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
        if size == 0 || !size.is_power_of_two() || size % page != 0 {
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
            mask: size as u64 - 1,
            size,
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

    /// The next committed record at `cons`, skipping discarded ones: `Some((record
    /// start offset, length, position after it))`, or `None` if none is ready (empty or
    /// the next record is still busy). Advances the consumer position past discarded
    /// records.
    #[inline(always)]
    fn next_record(
        &self,
        cons: &mut u64,
        prod: u64,
    ) -> Result<Option<(usize, usize, u64)>, MapError> {
        while *cons < prod {
            let off = (*cons & self.mask) as usize;
            // SAFETY: `off < size` and 8-aligned (records are 8-byte aligned), so the
            // header lies inside the first copy of the data; acquire pairs with the
            // producer's release store that clears BUSY, making the record visible.
            let len =
                unsafe { (*(self.data.add(off) as *const AtomicU32)).load(Ordering::Acquire) };
            if len & BPF_RINGBUF_BUSY_BIT != 0 {
                return Ok(None);
            }
            let rec = (len & !(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) as usize;
            if rec + BPF_RINGBUF_HDR_SZ > self.size {
                return Err(MapError::invalid(
                    "ring buffer",
                    format!(
                        "corrupt record header: length {rec} in a {}-byte ring",
                        self.size
                    ),
                ));
            }
            let next = *cons + ((rec + BPF_RINGBUF_HDR_SZ + 7) & !7) as u64;
            if len & BPF_RINGBUF_DISCARD_BIT != 0 {
                *cons = next;
                self.cons().store(next, Ordering::Release);
                continue;
            }
            return Ok(Some((off + BPF_RINGBUF_HDR_SZ, rec, next)));
        }
        Ok(None)
    }

    /// Hands every available record to `f` without waiting and returns how many were
    /// handed over. Stops early (after consuming that record) if `f` asks to (see
    /// [`CallbackResult`]). Works without any wakeup (records sent with
    /// `BPF_RB_NO_WAKEUP` are seen).
    #[inline]
    pub fn consume<F, R>(&mut self, mut f: F) -> Result<usize, MapError>
    where
        F: FnMut(&[u8]) -> R,
        R: CallbackResult,
    {
        let mut n = 0;
        // Only this reader writes the consumer position, so a relaxed load suffices.
        let mut cons = self.cons().load(Ordering::Relaxed);
        loop {
            let prod = self.prod().load(Ordering::Acquire);
            let mut progressed = false;
            while let Some((start, len, next)) = self.next_record(&mut cons, prod)? {
                // SAFETY: `start < size + 8` and `len + 8 <= size`, so the record lies
                // within the double mapping of `2 * size` bytes; the producer does not
                // touch it until the consumer position moves past it, which happens
                // only after `f` returns and the borrow ends.
                let sample = unsafe { std::slice::from_raw_parts(self.data.add(start), len) };
                let stop = f(sample).should_stop();
                cons = next;
                self.cons().store(cons, Ordering::Release);
                n += 1;
                progressed = true;
                if stop {
                    return Ok(n);
                }
            }
            // Records that were busy or committed meanwhile: look again until a pass
            // finds nothing new, as libbpf does.
            if !progressed {
                return Ok(n);
            }
        }
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
        let mut cons = self.cons().load(Ordering::Relaxed);
        let prod = self.prod().load(Ordering::Acquire);
        Ok(self
            .next_record(&mut cons, prod)?
            .map(|(start, len, next)| {
                // SAFETY: as in `consume`; the item borrows `self` mutably, so the consumer
                // position cannot move until it is dropped.
                let data = unsafe { std::slice::from_raw_parts(self.data.add(start), len) };
                RingBufItem {
                    data,
                    cons: self.cons(),
                    next,
                }
            }))
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
