//! The background sender thread: one per process and layer.
//!
//! The logging threads append their encoded frames to one pending buffer,
//! each after taking its place in the bounded channel (which so bounds what
//! waits, and applies the backpressure policy). The sender takes the places
//! off the channel, all queued at once, swaps the pending buffer with its
//! empty batch, numbers the frames and writes the batch with as few `send`
//! calls as the socket allows. It connects lazily, reconnects with backoff,
//! and sends hello first on every connection.
//!
//! **What "written" means.** A frame counts as written once the kernel has
//! accepted all of its bytes on the socket. If the connection breaks, every
//! frame not accepted whole (including one cut in the middle) is sent again,
//! whole and with the same sequence number, on the next connection, after a
//! new hello. The sink discards a partial frame at the end of a connection.
//!
//! **Acknowledged delivery.** When the sink agreed to it in its welcome
//! (`docs/wire.md`), a frame the kernel accepted is not yet delivered: it
//! moves into the [`Window`] until the sink acknowledges its `seq` (once
//! its line is handed to the operating system), and only then counts as
//! written. Every new connection starts by resending the window, so a lost
//! connection or a sink killed and restarted loses nothing; the sink drops
//! what it had written already. A full window (8 MiB) stops the sender
//! from taking more events until acknowledgements come, and the channel's
//! backpressure policy applies as with a slow sink.
//!
//! **Graceful sink restarts.** A sink that shuts down gracefully shuts down
//! its write side of every connection and reads on until the worker closes.
//! Between batches (and every 50 ms when idle) the sender looks for that
//! end-of-stream and closes the connection at a frame boundary; the sink has
//! then read every byte, and the next batch goes to the next sink. So `Block`
//! loses nothing across a graceful restart (see `docs/wire.md`).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::state::{Config, Counters, Msg, Pending, lock};
use crate::transport::{self, Conn};
use crate::window::Window;
use crate::wire::buf::patch_event_seq;
use crate::wire::{DropReason, Dropped, Goodbye, OwnedFrame, Reply, capabilities};

/// A batch buffer larger than this after a write is freed (a rare huge
/// event, or a burst after an outage, should not pin its memory).
const KEEP_BATCH: usize = 4 * 1024 * 1024;
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(500);
/// The pause after the sink refused this process (bad token, too many
/// connections): long enough not to flood the sink's log.
const REFUSED_BACKOFF: Duration = Duration::from_secs(2);
/// How often an idle sender looks whether the sink asked it to leave.
const IDLE_CHECK: Duration = Duration::from_millis(50);
/// How often a sender waiting for acknowledgements looks for them: first
/// after [`ACK_POLL`], then twice as long each time none came, up to
/// [`ACK_POLL_MAX`] (a process with a thousand idle connections must not
/// wake a thousand times a millisecond). Where it waits for nothing else
/// (a full window, the acknowledgements after the goodbye) it waits in
/// `poll` on the socket, so an acknowledgement ends the wait at once; while
/// it also waits for events, on the channel.
const ACK_POLL: Duration = Duration::from_millis(1);
const ACK_POLL_MAX: Duration = Duration::from_millis(32);
/// Unacknowledged bytes kept at most; then no more events are taken until
/// acknowledgements come.
const WINDOW_BYTES: usize = 8 * 1024 * 1024;
/// The largest frame a sink sends (an ack is 13 bytes).
const MAX_REPLY: usize = 64 * 1024;
/// After writing a batch of fewer events than this, the sender pauses for
/// [`LINGER`] before it waits on the channel again, so events logged at a
/// high rate queue up into the next batch instead of each one paying for
/// waking the sender (a futex call in the logging thread).
const LINGER_EVENTS: usize = 64;
const LINGER: Duration = Duration::from_micros(200);

/// Whether the sender goes on, or stops because the guard gave up on this
/// process (its flush timeout ran out): nothing more is retried.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    Abandoned,
}

/// How one attempt to connect ended.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// Connected, hello and welcome exchanged, the window resent.
    Connected,
    /// No connection this time (refused, unreachable, or lost while the
    /// window was resent); the backoff was slept where there was one.
    Failed,
    /// The guard gave up: no more attempts.
    Abandoned,
}

/// The end of one frame inside the batch, and its `seq` if it is an event
/// (0 for the other frames).
#[derive(Debug, Clone, Copy)]
struct Mark {
    end: usize,
    seq: u64,
}

#[derive(Debug)]
pub(crate) struct Sender {
    rx: flume::Receiver<Msg>,
    /// The frames the logging threads appended; swapped with `batch`.
    pending: Arc<Mutex<Pending>>,
    /// Places taken off the channel ([`Msg::Frame`]), and frames taken out
    /// of `pending`: a logging thread appends its frame right after it
    /// took its place, so the places may run ahead for a moment.
    places: u64,
    taken: u64,
    counters: Arc<Counters>,
    config: Arc<Config>,
    hello: Vec<u8>,
    conn: Option<Conn>,
    batch: Vec<u8>,
    marks: Vec<Mark>,
    seq: u64,
    waiters: Vec<flume::Sender<()>>,
    shutdown: Option<flume::Sender<()>>,
    finished: bool,
    backoff: Duration,
    /// Whether to pause before the next wait (the last batch was small).
    linger: bool,
    /// Whether the current connection acknowledges events.
    acked: bool,
    /// Whether the current connection's sink takes truncation reports
    /// (`Dropped` reason 3): an older one would close the connection.
    truncation_reports: bool,
    /// Events written in acknowledged mode and not yet acknowledged.
    window: Window,
    /// Bytes the sink sent that do not make a whole frame yet.
    inbox: Vec<u8>,
    /// The current wait between looks for acknowledgements.
    ack_poll: Duration,
}

impl Sender {
    pub(crate) fn new(
        rx: flume::Receiver<Msg>,
        pending: Arc<Mutex<Pending>>,
        counters: Arc<Counters>,
        config: Arc<Config>,
        hello: Vec<u8>,
    ) -> Self {
        Self {
            rx,
            pending,
            places: 0,
            taken: 0,
            counters,
            config,
            hello,
            conn: None,
            batch: Vec::new(),
            marks: Vec::new(),
            seq: 0,
            waiters: Vec::new(),
            shutdown: None,
            finished: false,
            backoff: BACKOFF_MIN,
            linger: false,
            acked: false,
            truncation_reports: false,
            window: Window::default(),
            inbox: Vec::new(),
            ack_poll: ACK_POLL,
        }
    }

    pub(crate) fn run(mut self) {
        loop {
            if self.batch.is_empty() {
                if self.window.frames() == 0 {
                    for w in self.waiters.drain(..) {
                        let _ = w.send(());
                    }
                }
                if self.finished {
                    self.await_acks();
                    self.conn = None;
                    if let Some(ack) = self.shutdown.take() {
                        let _ = ack.send(());
                    }
                    return;
                }
                if self.shutdown.is_none() && std::mem::take(&mut self.linger) {
                    std::thread::sleep(LINGER);
                    continue;
                }
                if self.places > self.taken {
                    // A logging thread took its place and is appending its
                    // frame: take it without waiting on the channel.
                    std::thread::yield_now();
                } else if self.shutdown.is_none() {
                    let wait = if self.window.frames() == 0 {
                        // Idle: nothing waits on the sink, so no outage runs.
                        self.counters.outage.progress(&self.config.endpoint);
                        IDLE_CHECK
                    } else {
                        self.ack_poll
                    };
                    // A flush (the guard's, the exit's, the panic hook's)
                    // waits for acknowledgements alone: wait for them on
                    // the socket, where one ends the wait at once.
                    if let Some(conn) = (self.conn.as_ref())
                        .filter(|_| !self.waiters.is_empty() && self.window.frames() > 0)
                        .filter(|_| self.rx.is_empty())
                    {
                        conn.wait_readable(wait);
                        self.poll_sink();
                        continue;
                    }
                    match self.rx.recv_timeout(wait) {
                        Ok(msg) => self.take(msg),
                        Err(flume::RecvTimeoutError::Timeout) => {
                            self.poll_sink();
                            continue;
                        }
                        // Every layer and guard is gone.
                        Err(flume::RecvTimeoutError::Disconnected) => return,
                    }
                }
            }
            while self.window.bytes() >= WINDOW_BYTES {
                if self.wait_for_acks() == Flow::Abandoned {
                    return;
                }
            }
            self.take_queued();
            self.take_pending();
            self.add_drop_reports();
            if self.shutdown.is_some() && self.rx.is_empty() && self.places <= self.taken {
                let goodbye = OwnedFrame::Goodbye(Goodbye { last_seq: self.seq });
                self.push_control(&goodbye);
                self.finished = true;
            }
            self.poll_sink();
            if self.write_batch() == Flow::Abandoned {
                return;
            }
        }
    }

    /// Reads what the sink sent: acknowledgements release the window. Closes
    /// the connection if the sink shut down its side (a graceful sink
    /// shutdown reads until every worker closes, so everything written on
    /// this connection so far is read; the rest goes to the next sink) or
    /// sent anything but acknowledgements (a version-1 sink sends nothing).
    fn poll_sink(&mut self) {
        let Some(conn) = &mut self.conn else {
            return;
        };
        let closed = conn.read_available(&mut self.inbox);
        let mut at = 0;
        let mut bad = false;
        let mut released = 0;
        while let Some(head) = self.inbox[at..].first_chunk::<4>() {
            let len = u32::from_le_bytes(*head) as usize;
            if len == 0 || len > MAX_REPLY {
                bad = true;
                break;
            }
            let Some(body) = self.inbox.get(at + 4..at + 4 + len) else {
                break;
            };
            match Reply::decode(body) {
                Ok(Reply::Ack(ack)) if self.acked => released += self.window.ack(ack.seq),
                _ => {
                    bad = true;
                    break;
                }
            }
            at += 4 + len;
        }
        self.inbox.drain(..at);
        if released > 0 {
            self.counters.written.fetch_add(released, Ordering::SeqCst);
            self.counters.outage.progress(&self.config.endpoint);
            self.ack_poll = ACK_POLL;
        } else {
            self.ack_poll = (self.ack_poll * 2).min(ACK_POLL_MAX);
        }
        if closed || bad {
            self.conn = None;
            self.inbox.clear();
        }
    }

    /// Waits a moment for acknowledgements, or reconnects (resending the
    /// window) if the connection is gone.
    fn wait_for_acks(&mut self) -> Flow {
        let Some(conn) = &self.conn else {
            return match self.connect() {
                Attempt::Abandoned => Flow::Abandoned,
                Attempt::Connected | Attempt::Failed => Flow::Go,
            };
        };
        conn.wait_readable(self.ack_poll);
        self.poll_sink();
        if self.counters.abandoned.load(Ordering::SeqCst) {
            Flow::Abandoned
        } else {
            Flow::Go
        }
    }

    /// After the goodbye: waits until the sink acknowledged every event, or
    /// the guard gives up. A goodbye lost with its connection is sent again
    /// after the window on the next one.
    fn await_acks(&mut self) {
        while self.window.frames() > 0 {
            if self.counters.abandoned.load(Ordering::SeqCst) {
                return;
            }
            if self.conn.is_none() {
                match self.connect() {
                    Attempt::Abandoned => return,
                    Attempt::Failed => {}
                    Attempt::Connected => {
                        let goodbye = OwnedFrame::Goodbye(Goodbye { last_seq: self.seq });
                        self.push_control(&goodbye);
                        if self.write_batch() == Flow::Abandoned {
                            return;
                        }
                    }
                }
                continue;
            }
            if let Some(conn) = &self.conn {
                conn.wait_readable(self.ack_poll);
            }
            self.poll_sink();
        }
    }

    fn take(&mut self, msg: Msg) {
        take(msg, &mut self.places, &mut self.waiters, &mut self.shutdown);
    }

    /// Takes everything queued on the channel, in one go.
    fn take_queued(&mut self) {
        for msg in self.rx.drain() {
            take(msg, &mut self.places, &mut self.waiters, &mut self.shutdown);
        }
    }

    /// Takes the pending frames into the batch (swapping the buffers when
    /// the batch is empty, as it is between writes), numbers them and marks
    /// where each ends.
    ///
    /// Everything a thread appended before it sent a [`Msg::Flush`] is
    /// taken: the flush was taken off the channel before this.
    fn take_pending(&mut self) {
        let from = self.batch.len();
        {
            let mut pending = lock(&self.pending);
            if from == 0 {
                std::mem::swap(&mut pending.bytes, &mut self.batch);
            } else {
                self.batch.extend_from_slice(&pending.bytes);
                pending.bytes.clear();
            }
            self.taken = pending.appended;
        }
        let mut at = from;
        while let Some(head) = self.batch.get(at..at + 4) {
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let end = at + 4 + len;
            self.seq += 1;
            patch_event_seq(&mut self.batch[at..end], self.seq);
            self.marks.push(Mark { end, seq: self.seq });
            at = end;
        }
    }

    fn push_control(&mut self, frame: &OwnedFrame) {
        frame.encode(&mut self.batch);
        self.marks.push(Mark {
            end: self.batch.len(),
            seq: 0,
        });
    }

    fn add_drop_reports(&mut self) {
        // Truncations are reported only to a sink whose welcome said it
        // knows reason 3 (an older one closes the connection on it); until
        // one does they wait in their counter, and the events carry their
        // markers anyway.
        let truncated = (self.conn.is_some() && self.truncation_reports)
            .then_some((&self.counters.truncated, DropReason::Truncated));
        for (counter, reason) in [
            (&self.counters.dropped_full, DropReason::ChannelFull),
            (&self.counters.dropped_oversized, DropReason::Oversized),
        ]
        .into_iter()
        .chain(truncated)
        {
            let count = counter.swap(0, Ordering::SeqCst);
            if count > 0 {
                let frame = OwnedFrame::Dropped(Dropped { reason, count });
                frame.encode(&mut self.batch);
                self.marks.push(Mark {
                    end: self.batch.len(),
                    seq: 0,
                });
            }
        }
    }

    /// Writes the whole batch, reconnecting as needed, unless the guard
    /// gives up on this process first.
    ///
    /// In acknowledged mode the event frames written are kept in the
    /// window: the batch itself moves there once written (and a fresh
    /// buffer from the window takes its place); only when a connection
    /// breaks halfway are the frames it took copied there first, so that
    /// the next connection resends them.
    fn write_batch(&mut self) -> Flow {
        let mut pos = 0;
        // Marks of the frames accepted whole, and of those already in the
        // window or counted as written.
        let mut done = 0;
        let mut settled = 0;
        while pos < self.batch.len() {
            let Some(conn) = &mut self.conn else {
                self.settle(settled, done, true);
                settled = done;
                if self.connect() == Attempt::Abandoned {
                    return Flow::Abandoned;
                }
                continue;
            };
            match conn.send(&self.batch[pos..]) {
                Ok(n) => {
                    if n > 0 {
                        self.counters.outage.progress(&self.config.endpoint);
                    }
                    pos += n;
                    while done < self.marks.len() && self.marks[done].end <= pos {
                        done += 1;
                    }
                    if !self.acked {
                        self.settle(settled, done, false);
                        settled = done;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // Resend from the first frame not accepted whole.
                    self.conn = None;
                    pos = self.mark_end(done);
                }
            }
        }
        let events = self.marks.iter().filter(|m| m.seq > 0).count();
        self.linger = events > 0 && events < LINGER_EVENTS && self.waiters.is_empty();
        if self.acked && settled < done {
            let start = self.mark_end(settled);
            let frames = self.marks[settled..done]
                .iter()
                .filter(|m| m.seq > 0)
                .map(|m| (m.seq, m.end));
            let spare = self.window.spare();
            let batch = std::mem::replace(&mut self.batch, spare);
            self.window.keep(batch, start, frames);
        } else {
            self.settle(settled, done, false);
        }
        self.batch.clear();
        if self.batch.capacity() > KEEP_BATCH {
            self.batch = Vec::new();
        }
        self.marks.clear();
        Flow::Go
    }

    /// Where the frame of mark `i - 1` ends: the start of mark `i`'s.
    fn mark_end(&self, i: usize) -> usize {
        i.checked_sub(1).map_or(0, |d| self.marks[d].end)
    }

    /// The event frames of marks `from..to`, accepted whole: written, or in
    /// acknowledged mode copied into the window (`copy`: the batch goes on
    /// being written; else nothing is left to keep).
    fn settle(&mut self, from: usize, to: usize, copy: bool) {
        let marks = &self.marks[from..to];
        let events = marks.iter().filter(|m| m.seq > 0);
        if !self.acked {
            let n = events.count() as u64;
            if n > 0 {
                self.counters.written.fetch_add(n, Ordering::SeqCst);
            }
            return;
        }
        if !copy {
            return;
        }
        let start = self.mark_end(from);
        let frames: Vec<(u64, usize)> = events.map(|m| (m.seq, m.end - start)).collect();
        if let Some(&(_, end)) = frames.last() {
            let bytes = self.batch[start..start + end].to_vec();
            self.window.keep(bytes, 0, frames);
        }
    }

    /// Tries once to connect and shake hands; sleeps the backoff (with
    /// jitter) on failure.
    fn connect(&mut self) -> Attempt {
        if self.counters.abandoned.load(Ordering::SeqCst) {
            return Attempt::Abandoned;
        }
        match transport::open(&self.config, &self.hello) {
            Ok((mut conn, agreed)) => {
                self.backoff = BACKOFF_MIN;
                self.acked = agreed & capabilities::ACKED_DELIVERY != 0;
                self.truncation_reports = agreed & capabilities::TRUNCATION_REPORTS != 0;
                self.inbox.clear();
                // What the last connection(s) did not get acknowledged
                // comes first, whole and with its own seq.
                if self.window.frames() > 0 {
                    for part in self.window.unacked() {
                        if conn.send_all(part).is_err() {
                            return Attempt::Failed;
                        }
                    }
                    if !self.acked {
                        // A sink that does not acknowledge: written is all
                        // it will ever say.
                        let frames = self.window.frames() as u64;
                        self.counters.written.fetch_add(frames, Ordering::SeqCst);
                        self.window.clear();
                    }
                }
                self.conn = Some(conn);
                Attempt::Connected
            }
            Err(e) => {
                let pause = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    REFUSED_BACKOFF
                } else {
                    self.backoff
                };
                std::thread::sleep(transport::jitter(pause));
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                Attempt::Failed
            }
        }
    }
}

/// One message off the channel: a frame's place, a flush to acknowledge, or
/// the shutdown.
fn take(
    msg: Msg,
    places: &mut u64,
    waiters: &mut Vec<flume::Sender<()>>,
    shutdown: &mut Option<flume::Sender<()>>,
) {
    match msg {
        Msg::Frame => *places += 1,
        Msg::Flush(ack) => waiters.push(ack),
        Msg::Shutdown(ack) => *shutdown = Some(ack),
    }
}
