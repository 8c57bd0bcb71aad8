//! Per-process state: the channel, its sender thread and the counters, and
//! how a `fork()`ed child gets its own without touching the parent's.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::layer::Backpressure;
use crate::outage::Outage;
use crate::sender::Sender;
use crate::sys;

/// The name of every sender thread.
pub(crate) const SENDER_THREAD: &str = "tracing-mplog";

/// What the builder settled; shared by every process state of a layer.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) endpoint: Endpoint,
    pub(crate) process_name: String,
    pub(crate) host: String,
    pub(crate) capacity: usize,
    pub(crate) backpressure: Backpressure,
    /// How long the sink may take nothing before `BlockWithGrace` drops.
    pub(crate) outage_grace: Duration,
    pub(crate) flush_timeout: Duration,
    pub(crate) max_frame_size: usize,
    /// TCP/TLS settings, the token and the handshake (see `transport`).
    pub(crate) net: crate::transport::Net,
}

/// What travels from the layer and the guard to the sender thread.
#[derive(Debug)]
pub(crate) enum Msg {
    /// One event frame's place in the channel: its logging thread sends
    /// this first, then appends the frame to [`Pending`]. The bounded
    /// channel so bounds what waits for the sender, in events, and applies
    /// the backpressure policy, without the frame's bytes travelling
    /// through it.
    Frame,
    /// Acknowledge once everything before this message is written.
    Flush(flume::Sender<()>),
    /// Write everything queued, then goodbye, close and acknowledge.
    Shutdown(flume::Sender<()>),
}

/// Event frames the logging threads encoded, in the order they were
/// appended, waiting for the sender thread to swap them out (it takes the
/// whole buffer and leaves its own, emptied, in its place): no buffer per
/// event to get and give back, no copy into the sender's batch.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Whole event frames, length prefix included, seq not yet set.
    pub(crate) bytes: Vec<u8>,
    /// How many frames were ever appended (the sender compares it with the
    /// places it took off the channel).
    pub(crate) appended: u64,
}

/// Locks `pending`. Nothing panics while holding it, so a poisoned lock
/// (impossible) is used as it is.
pub(crate) fn lock(pending: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counters shared by the layer, the guard and the sender thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Event frames handed to the channel.
    pub(crate) queued: AtomicU64,
    /// Event frames written whole to a socket.
    pub(crate) written: AtomicU64,
    /// Drops not yet reported to the sink, by reason.
    pub(crate) dropped_full: AtomicU64,
    pub(crate) dropped_oversized: AtomicU64,
    /// Events cut to fit the frame limit (delivered, not dropped) and not
    /// yet reported to the sink.
    pub(crate) truncated: AtomicU64,
    /// The guard shut this state down: new events are discarded.
    pub(crate) closed: AtomicBool,
    /// The guard gave up waiting: the sender thread should stop retrying.
    pub(crate) abandoned: AtomicBool,
    /// Whether the sink is in an outage (see [`Outage`]).
    pub(crate) outage: Outage,
    warned_closed: AtomicBool,
}

impl Counters {
    pub(crate) fn undelivered(&self) -> u64 {
        let queued = self.queued.load(Ordering::SeqCst);
        queued.saturating_sub(self.written.load(Ordering::SeqCst))
    }

    pub(crate) fn unreported_drops(&self) -> u64 {
        self.dropped_full.load(Ordering::SeqCst) + self.dropped_oversized.load(Ordering::SeqCst)
    }
}

/// One process's logging machinery.
#[derive(Debug)]
pub(crate) struct ProcState {
    generation: u64,
    pub(crate) pid: u32,
    config: Arc<Config>,
    /// The name in this process's hello (a forked child inherits it unless
    /// it takes another with `fork::after_fork_guard_named`).
    process_name: String,
    tx: flume::Sender<Msg>,
    pending: Arc<Mutex<Pending>>,
    pub(crate) counters: Arc<Counters>,
}

/// Now, in ns since the Unix epoch (see [`sys::realtime_ns`]).
pub(crate) fn now_ns() -> i64 {
    sys::realtime_ns()
}

impl ProcState {
    fn start(config: &Arc<Config>, generation: u64, process_name: String) -> io::Result<Self> {
        let (tx, rx) = flume::bounded(config.capacity);
        let pending = Arc::new(Mutex::new(Pending::default()));
        let counters = Arc::new(Counters::default());
        let pid = std::process::id();
        let mut hello = Vec::new();
        crate::transport::hello(config, &process_name, pid, now_ns()).encode(&mut hello);
        let sender = Sender::new(
            rx,
            Arc::clone(&pending),
            Arc::clone(&counters),
            Arc::clone(config),
            hello,
        );
        std::thread::Builder::new()
            .name(SENDER_THREAD.into())
            .spawn(move || sender.run())?;
        Ok(Self {
            generation,
            pid,
            config: Arc::clone(config),
            process_name,
            tx,
            pending,
            counters,
        })
    }

    /// Hands an encoded frame (length prefix included, seq not yet set) to
    /// the sender under the configured policy: takes its place in the
    /// channel, then appends it to the pending frames.
    #[inline]
    pub(crate) fn submit(&self, frame: &[u8]) {
        let c = &self.counters;
        if c.closed.load(Ordering::Acquire) {
            self.warn_closed();
            return;
        }
        // Counted before sending, so `written` never overtakes `queued`.
        c.queued.fetch_add(1, Ordering::SeqCst);
        let result = match self.tx.try_send(Msg::Frame) {
            Ok(()) => Handed::Taken,
            Err(flume::TrySendError::Disconnected(_)) => Handed::SenderGone,
            // No room: the policy decides. Waiting holds no lock a forked
            // child could need, so it is done outside the fork gate: a
            // `fork()` need not wait for it (see `fork::ForkSafe`).
            Err(flume::TrySendError::Full(msg)) => {
                crate::fork::gate::unguarded(|| self.wait_for_room(msg))
            }
        };
        match result {
            Handed::Taken => self.append(frame),
            Handed::Dropped => {
                c.queued.fetch_sub(1, Ordering::SeqCst);
                c.dropped_full.fetch_add(1, Ordering::SeqCst);
            }
            Handed::SenderGone => {
                c.queued.fetch_sub(1, Ordering::SeqCst);
                self.warn_closed();
            }
        }
    }

    /// Appends a frame whose place in the channel was taken.
    #[inline]
    fn append(&self, frame: &[u8]) {
        let mut pending = lock(&self.pending);
        pending.bytes.extend_from_slice(frame);
        pending.appended += 1;
    }

    /// The channel is full: what the backpressure policy does with `msg`.
    fn wait_for_room(&self, msg: Msg) -> Handed {
        match self.config.backpressure {
            Backpressure::BlockWithGrace => self.send_within_grace(msg),
            Backpressure::Block => match self.tx.send(msg) {
                Ok(()) => Handed::Taken,
                Err(_) => Handed::SenderGone,
            },
            Backpressure::DropNewest => Handed::Dropped,
            Backpressure::BlockFor(wait) => match self.tx.send_timeout(msg, wait) {
                Ok(()) => Handed::Taken,
                Err(flume::SendTimeoutError::Timeout(_)) => Handed::Dropped,
                Err(flume::SendTimeoutError::Disconnected(_)) => Handed::SenderGone,
            },
        }
    }

    /// `BlockWithGrace`: waits for room while the sender makes progress,
    /// declares an outage once it has made none for the grace, and does not
    /// wait at all during one.
    fn send_within_grace(&self, mut msg: Msg) -> Handed {
        let outage = &self.counters.outage;
        let grace = self.config.outage_grace;
        let dropped = || {
            outage.count_drop();
            Handed::Dropped
        };
        if outage.dropping() {
            return dropped();
        }
        loop {
            match self.tx.send_deadline(msg, outage.deadline(grace)) {
                Ok(()) => return Handed::Taken,
                Err(flume::SendTimeoutError::Disconnected(_)) => return Handed::SenderGone,
                Err(flume::SendTimeoutError::Timeout(m)) => msg = m,
            }
            // Another thread may have declared it while this one waited;
            // otherwise wait on only if the sender made progress meanwhile.
            if outage.dropping() {
                return dropped();
            }
            if outage.stalled_for(grace) {
                outage.declare(&self.config.endpoint, grace);
                return dropped();
            }
        }
    }

    /// Hands an encoded frame to the sender, waiting for room until
    /// `deadline` at most whatever the backpressure policy (the panic hook
    /// and the exit flush must not outwait the flush timeout). `false` if
    /// it was not taken.
    pub(crate) fn submit_by(&self, frame: &[u8], deadline: std::time::Instant) -> bool {
        let c = &self.counters;
        if c.closed.load(Ordering::Acquire) {
            return false;
        }
        c.queued.fetch_add(1, Ordering::SeqCst);
        let sent = self.send_deadline(Msg::Frame, deadline);
        if sent {
            self.append(frame);
        } else {
            c.queued.fetch_sub(1, Ordering::SeqCst);
        }
        sent
    }

    pub(crate) fn send_deadline(&self, msg: Msg, deadline: std::time::Instant) -> bool {
        self.tx.send_deadline(msg, deadline).is_ok()
    }

    fn warn_closed(&self) {
        if !self.counters.warned_closed.swap(true, Ordering::SeqCst) {
            eprintln!(
                "tracing-mplog: events logged by process {} after its FlushGuard was dropped are discarded",
                self.pid
            );
        }
    }
}

/// What became of an event handed to the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handed {
    /// It has its place in the channel.
    Taken,
    /// The channel stayed full: dropped and counted, as the backpressure
    /// policy says.
    Dropped,
    /// The sender is gone (the guard was dropped).
    SenderGone,
}

/// The layer's state, shared with its guards.
///
/// `slot` always points to a `ProcState` from `Box::into_raw`. After a
/// `fork()`, the child finds the parent's state there (its generation is
/// older) and swaps in a fresh one; the parent's copy is leaked in the
/// child, never touched again: its channel lock may have been held by a
/// parent thread at the fork, and its sender thread does not exist here.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Arc<Config>,
    slot: AtomicPtr<ProcState>,
}

impl Shared {
    pub(crate) fn new(config: Config) -> io::Result<Arc<Self>> {
        sys::install_fork_hook()?;
        // Without it, `process::exit` (or a guard never dropped) loses what
        // is still queued; logging works anyway, so a refusal only costs that.
        if let Err(e) = sys::install_exit_hook(crate::last_words::flush_at_exit) {
            eprintln!("tracing-mplog: no flush at exit: {e}");
        }
        let config = Arc::new(config);
        let name = config.process_name.clone();
        let state = ProcState::start(&config, sys::fork_generation(), name)?;
        let shared = Arc::new(Self {
            config,
            slot: AtomicPtr::new(Box::into_raw(Box::new(state))),
        });
        crate::fork::register(&shared);
        Ok(shared)
    }

    fn load(&self) -> &ProcState {
        // SAFETY: the slot always holds a pointer from `Box::into_raw` that
        // is freed only in `Drop for Shared`, which needs `&mut self`, so it
        // outlives this borrow of `self`.
        unsafe { &*self.slot.load(Ordering::Acquire) }
    }

    /// This process's state, created on first use after a `fork()`. `None`
    /// only if the child could not start its sender thread.
    pub(crate) fn current(&self) -> Option<&ProcState> {
        let generation = sys::fork_generation();
        let state = self.load();
        if state.generation == generation {
            return Some(state);
        }
        // The inherited state is only read (its name), never used.
        let name = state.process_name.clone();
        let fresh = Box::into_raw(Box::new(
            ProcState::start(&self.config, generation, name).ok()?,
        ));
        let old = std::ptr::from_ref(state).cast_mut();
        if let Err(_winner) =
            self.slot
                .compare_exchange(old, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // Another thread of this child installed its state first; ours
            // was never shared (its sender thread exits when it is dropped).
            // SAFETY: `fresh` came from `Box::into_raw` above and was not
            // published.
            drop(unsafe { Box::from_raw(fresh) });
        }
        let state = self.load();
        (state.generation == generation).then_some(state)
    }

    /// Starts a fresh state for this process under `process_name` and
    /// installs it. Returns the state it replaced if that one was this
    /// process's own (the caller shuts it down); it is leaked, not freed,
    /// as another thread may still hold it (it then discards new events).
    pub(crate) fn restart_named(&self, process_name: String) -> io::Result<Option<&ProcState>> {
        let generation = sys::fork_generation();
        let fresh = Box::into_raw(Box::new(ProcState::start(
            &self.config,
            generation,
            process_name,
        )?));
        let old = self.slot.swap(fresh, Ordering::AcqRel);
        // SAFETY: from `Box::into_raw` and never freed from here on (only
        // the slot's current pointer is freed, in `Drop for Shared`).
        let old = unsafe { &*old };
        Ok((old.generation == generation).then_some(old))
    }

    /// This process's state if it has one; never creates one (a guard in a
    /// child that never logged has nothing to flush).
    pub(crate) fn existing(&self) -> Option<&ProcState> {
        let state = self.load();
        (state.generation == sys::fork_generation()).then_some(state)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let ptr = *self.slot.get_mut();
        // SAFETY: see `load`; we are the last owner.
        let ours = unsafe { &*ptr }.generation == sys::fork_generation();
        if ours {
            // SAFETY: from `Box::into_raw`, freed once, here.
            drop(unsafe { Box::from_raw(ptr) });
        }
        // Otherwise it is the parent's state inherited by a child: leak it.
    }
}
