//! The one thread that owns every output file: it takes the readers'
//! batches of formatted lines, drops resent duplicates, and writes each line
//! to the consolidated file and its per-key file; it keeps the per-process
//! counts. (The readers decode and format: see [`super::lines`].)
//!
//! Every file is a [`RotatingFile`](crate::rotate::RotatingFile) with a
//! write buffer (see [`super::output`]). Each file takes its lines of a batch
//! in runs of consecutive lines: as many as fit go into its buffer at once,
//! with no lock, clock or size check per line, and no copy: the buffer keeps
//! the run where it is, in the batch's text, and the flush writes every run
//! with one vectored write (see `flush`; the kernel's copy into the page
//! cache is the only one). The writer flushes
//! the buffers once its channel has stayed empty for [`FLUSH_AFTER`], so a
//! quiet sink shows every line within milliseconds and a busy one writes in
//! large batches; a line never waits longer than [`FLUSH_EVERY`].
//!
//! A failed write is reported on stderr (and as a sink record), counted in
//! `write_errors`, and the line is kept to be retried, in order, before the
//! next line for that file; lines beyond [`MAX_PENDING`] per file are counted
//! as `unwritten`, as are lines still failing at shutdown, and the lines
//! a file's buffer took since its last successful flush when that file
//! cannot be flushed at shutdown (an upper bound: a buffer that overflowed
//! wrote some of them).
//!
//! `runs` puts a batch's lines into its files' buffers; `flush` hands the
//! buffers to the OS (the two copies of a line on two threads) and syncs
//! at shutdown; `notice` writes the sink's own records; `forward` hands
//! each batch's records to the forwarding destinations' queues; `watch`
//! keeps the monitor's counts and publishes its snapshots; `idle` lets go
//! of per-key files nobody writes any more.

mod flush;
mod forward;
mod idle;
mod notice;
mod runs;
mod watch;

pub(crate) use watch::Watch;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flume::{Receiver, RecvTimeoutError, TryRecvError};
use tracing_core::Level;
use tracing_mplog::wire::{DropReason, EventView, Frame};

use super::fds::Descriptors;
use super::lines::Lines;
use super::output::{Health, Outputs};
use super::report::Tally;
use super::router::Router;
use super::seen::{Ledger, SeqStore};
use crate::clock::Clock;
use crate::forward::{Record, Senders};
use crate::record::{Client, WireRecord};
use crate::rotate::{self, SharedText};
use crate::sys;
use runs::Targets;

/// The target of the sink's own records.
pub(crate) const SINK_TARGET: &str = "tracing_mplog_sink";

/// Lines kept per failing file for a retry.
pub(crate) const MAX_PENDING: usize = 100_000;

/// How long the writer's channel must stay empty before the files'
/// buffers are flushed: a busy sink writes large buffers, a quiet one shows
/// every line within this time.
pub(crate) const FLUSH_AFTER: Duration = Duration::from_millis(2);

/// The longest a written line waits in a file's buffer while the sink is
/// busy (its channel never quiet for [`FLUSH_AFTER`]).
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Write buffer of every output file (its capacity); the writer flushes
/// it whenever it has nothing else to do, and before it would overflow:
/// lines reach the OS only in the writer's flushes (see `Writer::lines`).
/// While acknowledgements wait, a buffer fills up to this before a flush
/// is forced (each flush of acknowledged lines saves the high-water marks
/// first, which costs: at 64 KiB per flush it halved the throughput); the
/// timed flushes ([`FLUSH_ACKED`]) usually come first.
pub(crate) const FILE_BUFFER: usize = 1024 * 1024;

/// Without acknowledgements waiting, a buffer is flushed once it would
/// hold more than this: what a SIGKILLed sink loses of workers that do not
/// acknowledge stays what it was.
const PLAIN_BUFFER: usize = 64 * 1024;

/// The longest an event of a connection in acknowledged mode waits in a
/// file's buffer: its worker holds it until acknowledged.
pub(crate) const FLUSH_ACKED: Duration = Duration::from_millis(5);

/// How long a failing file must write without failure to count as
/// recovered.
pub(crate) const QUIET: Duration = Duration::from_secs(1);

/// What the readers, the listener and [`SinkLayer`](super::SinkLayer) send
/// to the writer.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A connection said hello.
    Opened(Arc<Client>),
    /// Formatted lines of one connection (shared with the files' buffers
    /// until they are written).
    Lines(Arc<Lines>),
    /// A connection's worker reported events it dropped.
    Dropped {
        origin: Arc<Client>,
        reason: DropReason,
        count: u64,
    },
    /// A connection that said hello ended.
    Closed {
        origin: Arc<Client>,
        goodbye: bool,
        error: Option<String>,
    },
    /// One event frame body of the parent process.
    Local(Vec<u8>),
    /// A message of the sink itself.
    Notice { level: Level, message: String },
    /// Write what came before, flush, sync and stop.
    Shutdown,
}

/// Everything the writer needs, fixed at start.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) formatter: crate::format::Lines,
    pub(crate) router: Router,
    pub(crate) rotation: rotate::Builder,
    pub(crate) level: Level,
    /// Thresholds of the single outputs (each at most as verbose as `level`).
    pub(crate) consolidated_level: Level,
    pub(crate) per_key_level: Level,
    pub(crate) echo_level: Level,
    pub(crate) echo: bool,
    /// The parent process, for its own events and the sink's messages.
    pub(crate) own: Arc<Client>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Active output files, for [`SinkHandle::files`](super::SinkHandle::files).
    pub(crate) files: Arc<Mutex<Vec<PathBuf>>>,
    /// The high-water marks of processes in acknowledged mode, and why the
    /// saved ones could not be read, if so.
    pub(crate) seq_store: (SeqStore, Option<String>),
    /// Live counts and per-event alert rules.
    pub(crate) watch: Watch,
    /// The forwarding destinations' queues.
    pub(crate) forward: Senders,
    /// The descriptor budget (the cap on open per-key files).
    pub(crate) fds: Arc<Descriptors>,
    /// The live tail, while the metrics server runs.
    pub(crate) tail: Option<Arc<super::tail::Tail>>,
    /// Ended processes the tally keeps one by one.
    pub(crate) max_ended_processes: usize,
}

/// The writer thread's state.
#[derive(Debug)]
pub(crate) struct Writer {
    cfg: Config,
    outputs: Outputs,
    tally: Tally,
    line: String,
    /// Output of each per-key file key seen (`None`: it is the consolidated
    /// file, written once).
    key_files: HashMap<String, Option<usize>>,
    /// Health changes met while writing a batch, reported after it.
    changes: Vec<(usize, Health)>,
    /// Reporting a write failure as a record must not report its own.
    reporting: bool,
    /// Per item of the batch being written: not a resent duplicate.
    fresh: Vec<bool>,
    /// The line ends of the run being written.
    ends: Vec<usize>,
    /// Acknowledged delivery: high-water marks and waiting acks.
    ledger: Ledger,
    /// Reused for the records of a batch to forward.
    forwarding: Vec<Arc<Record>>,
    /// Open per-key files by when they were last written (oldest first).
    lru: BTreeMap<u64, usize>,
    /// Advances at every write to a per-key file.
    tick: u64,
    /// Which key writes to each per-key file (two keys never share one).
    claims: HashMap<PathBuf, String>,
    /// The batches written since the last flush: the files' buffers keep
    /// their lines where they are, in the batches' text, until written.
    held: Vec<Arc<Lines>>,
    /// The second thread of the flushes (see `flush`).
    helper: flush::Helper,
    /// A batch that ends its connection came: flush once the channel is
    /// empty (see [`Lines::last`]).
    flush_now: bool,
}

impl Writer {
    pub(crate) fn new(mut cfg: Config) -> Self {
        let (seen, warning) = std::mem::replace(&mut cfg.seq_store, (SeqStore::empty(), None));
        let max_ended = cfg.max_ended_processes;
        let mut writer = Writer {
            cfg,
            outputs: Outputs::default(),
            tally: Tally::new(max_ended),
            line: String::with_capacity(512),
            key_files: HashMap::new(),
            changes: Vec::new(),
            reporting: false,
            fresh: Vec::new(),
            ends: Vec::new(),
            ledger: Ledger::new(seen),
            forwarding: Vec::new(),
            lru: BTreeMap::new(),
            tick: 0,
            claims: HashMap::new(),
            held: Vec::new(),
            helper: flush::Helper::default(),
            flush_now: false,
        };
        if let Some(why) = warning {
            writer.notice(
                Level::WARN,
                &format!("high-water marks: {why}; resent events may be written twice"),
            );
        }
        writer
    }

    /// Runs until [`Msg::Shutdown`] (or every sender is gone), then flushes
    /// and syncs every file and returns the counts.
    pub(crate) fn run(mut self, rx: &Receiver<Msg>) -> Tally {
        let mut flushed = Instant::now();
        loop {
            let msg = match rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Empty) => match rx.recv_timeout(FLUSH_AFTER) {
                    Ok(msg) => msg,
                    Err(RecvTimeoutError::Timeout) => {
                        self.flush_all();
                        flushed = Instant::now();
                        match self.idle_recv(rx) {
                            Some(msg) => msg,
                            None => break,
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                Err(TryRecvError::Disconnected) => break,
            };
            if matches!(msg, Msg::Shutdown) {
                break;
            }
            self.handle(msg);
            if self.flush_now && rx.is_empty() {
                // A worker waits for its last lines to exit.
                self.flush_now = false;
                self.flush_all();
                flushed = Instant::now();
            }
            // A steady trickle never leaves the channel quiet for long:
            // flush at least this often anyway.
            let every = if self.ledger.is_waiting() {
                FLUSH_ACKED
            } else {
                FLUSH_EVERY
            };
            if flushed.elapsed() >= every {
                self.flush_all();
                flushed = Instant::now();
            }
        }
        self.finish()
    }

    /// The next message, waited for with nothing left to write; the
    /// monitor's snapshot of the last changes is published when due (the
    /// more processes and files it shows, the longer after the one before).
    fn idle_recv(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        while let Some(wait) = self.cfg.watch.publish_due() {
            match rx.recv_timeout(wait) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Timeout) => {
                    self.cfg.watch.publish(&mut self.tally, &self.outputs);
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
        rx.recv().ok()
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Opened(origin) => {
                let p = self.tally.process(&origin);
                p.report.connections += 1;
                self.cfg.watch.opened(&mut self.tally, &origin);
            }
            Msg::Lines(lines) => {
                self.flush_now |= lines.last;
                self.lines(&lines);
                // Its buffers go back to the readers after the flush.
                self.held.push(lines);
            }
            Msg::Dropped {
                origin,
                reason,
                count,
            } => {
                let p = self.tally.process(&origin);
                // A truncated event was cut to fit and delivered: counted
                // apart, and never called dropped.
                let (what, why) = match reason {
                    DropReason::ChannelFull => ("dropped", "channel full"),
                    DropReason::Oversized => ("dropped", "larger than the maximum frame size"),
                    DropReason::Truncated => (
                        "truncated",
                        "larger than the maximum frame size; cut to fit, with a marker",
                    ),
                    _ => ("dropped", "unknown reason"),
                };
                if reason == DropReason::Truncated {
                    p.report.truncated_by_worker += count;
                } else {
                    p.report.dropped_by_worker += count;
                }
                let watch = &mut self.cfg.watch;
                watch.dropped(&mut self.tally, &origin, reason, why, count);
                self.notice(
                    Level::WARN,
                    &format!(
                        "worker {}[{}] {what} {count} events ({why})",
                        origin.process_name, origin.pid
                    ),
                );
            }
            Msg::Closed {
                origin,
                goodbye,
                error,
            } => {
                let p = self.tally.process(&origin);
                p.report.clean = goodbye;
                if goodbye {
                    self.ledger.ended(&origin);
                }
                if let Some(reason) = error {
                    p.report.error = Some(reason.clone());
                    self.notice(
                        Level::WARN,
                        &format!(
                            "closed the connection of {}[{}]: {reason}",
                            origin.process_name, origin.pid
                        ),
                    );
                }
                self.cfg.watch.closed(&mut self.tally, &origin, goodbye);
            }
            Msg::Local(body) => {
                if let Ok(Frame::Event(event)) = Frame::decode(&body) {
                    let own = Arc::clone(&self.cfg.own);
                    self.event(&event, &own);
                    self.forward_local(&event);
                }
            }
            Msg::Notice { level, message } => self.notice(level, &message),
            Msg::Shutdown => {}
        }
    }

    /// The output of a per-key file key (`None`: the consolidated file).
    fn key_output(&mut self, key: &str) -> Option<usize> {
        if let Some(&out) = self.key_files.get(key) {
            return out;
        }
        let claims = &self.claims;
        let path = self
            .cfg
            .router
            .key_file_for(key, |p| claims.get(p).is_some_and(|owner| owner != key));
        let out = path.map(|path| {
            self.claims.insert(path.clone(), key.to_owned());
            let out = self.outputs.at(&path);
            if let Some(o) = self.outputs.files.get_mut(out) {
                o.per_key = true;
            }
            out
        });
        self.key_files.insert(key.to_owned(), out);
        out
    }

    /// Readies per-key output `out` for a write: first in the
    /// least-recently-written order and open, after closing the least
    /// recently written files beyond `max_open_files` (or while the system
    /// refuses a descriptor). The consolidated file is always open.
    fn touch(&mut self, out: usize) {
        let Some(o) = self.outputs.files.get_mut(out).filter(|o| o.per_key) else {
            return;
        };
        self.tick += 1;
        o.written = self.tick;
        if let Some(old) = o.lru {
            // Open already: it only moves to the end of the order.
            o.lru = Some(self.tick);
            self.lru.remove(&old);
            self.lru.insert(self.tick, out);
            return;
        }
        while self.lru.len() >= self.cfg.fds.max_open_files && self.park_oldest() {}
        loop {
            let Some(o) = self.outputs.files.get_mut(out) else {
                return;
            };
            match o.open(&self.cfg) {
                Ok(reopened) => {
                    if reopened {
                        self.cfg.fds.reopens.fetch_add(1, Ordering::Relaxed);
                    }
                    o.lru = Some(self.tick);
                    self.lru.insert(self.tick, out);
                    break;
                }
                Err(e) if sys::out_of_descriptors(&e) => {
                    if let Some((level, warning)) = self.cfg.fds.refused("opening a log file", &e) {
                        self.notice(level, &warning);
                    }
                    if !self.park_oldest() {
                        // Nothing left to close: the write fails, keeps
                        // its line and is retried.
                        break;
                    }
                }
                // The write reports it (and keeps the line).
                Err(_) => break,
            }
        }
        self.cfg
            .fds
            .open_files
            .store(self.lru.len() as u64, Ordering::Relaxed);
    }

    /// Closes the least recently written open per-key file; `false` when
    /// none is open.
    fn park_oldest(&mut self) -> bool {
        let Some((_, out)) = self.lru.pop_first() else {
            return false;
        };
        if self.outputs.files.get(out).is_some_and(|o| o.unflushed > 0) {
            // Its lines reach the OS in a flush, after the marks that
            // claim them are saved, like every other line.
            self.flush_all();
        }
        if let Some(o) = self.outputs.files.get_mut(out) {
            o.lru = None;
            if let Err(e) = o.park() {
                // Its buffer could not be written: it stays open (outside
                // the count) and its next write reports and retries.
                let h = o.health(Err(e.to_string()));
                self.changes.push((out, h));
            }
        }
        true
    }

    /// Writes a reader's batch: each line once, unless it was resent. Each
    /// output takes its lines of the batch in order, in runs of consecutive
    /// lines (see [`write_run`](Self::write_run)).
    ///
    /// Lines reach the OS only in [`flush_all`](Self::flush_all), which
    /// saves the high-water marks right after. A buffer that overflowed
    /// mid-batch would hand lines to the OS that the saved marks do not
    /// claim yet: a sink SIGKILLed then writes them again after its restart
    /// (the workers resend them, the marks say "not written"). So when a
    /// file might not take the batch, every file is flushed first, and a
    /// batch larger than a buffer goes in parts that fit one, its marks
    /// noted and the files flushed after each part.
    fn lines(&mut self, batch: &Arc<Lines>) {
        let cap = if self.ledger.is_waiting() || batch.ack.is_some() {
            FILE_BUFFER
        } else {
            PLAIN_BUFFER
        };
        let origin = &batch.origin;
        let mut last_seq = self.tally.process(origin).last_seq;
        if batch.ack.is_some() {
            // Written by an earlier run of the sink, not yet acknowledged.
            last_seq = last_seq.max(self.ledger.written_before(origin));
        }
        let consolidated = self
            .cfg
            .router
            .consolidated()
            .map(Path::to_path_buf)
            .map(|p| self.outputs.at(&p));
        let keys: Vec<Option<usize>> = batch.keys.iter().map(|k| self.key_output(k)).collect();
        let mut fresh = std::mem::take(&mut self.fresh);
        fresh.clear();
        // The mark after each item: what a part ending there may claim.
        let mut marks = Vec::with_capacity(batch.items.len());
        let mut received = 0;
        for (i, item) in batch.items.iter().enumerate() {
            // Resent after a reconnect: written already.
            let new = !batch.resent_check || item.seq > last_seq;
            fresh.push(new);
            if new {
                last_seq = last_seq.max(item.seq);
                received += 1;
                if self.cfg.echo && item.level <= self.cfg.echo_level {
                    let _ = std::io::stderr().write_all(batch.line(i).as_bytes());
                }
            }
            marks.push(last_seq);
        }
        let targets = Targets {
            consolidated,
            keys,
            cap,
            text: Arc::clone(batch) as SharedText,
        };
        self.write_parts(batch, &targets, &fresh, &marks);
        self.cfg.watch.batch(&mut self.tally, batch, &fresh);
        if let Some(tail) = &self.cfg.tail {
            tail.batch(batch, &fresh);
        }
        if !batch.records.is_empty() {
            self.forward_fresh(batch, &fresh);
        }
        self.fresh = fresh;
        let p = self.tally.process(origin);
        p.last_seq = last_seq;
        p.report.received += received;
        self.report_changes();
    }

    /// Writes one line to an output, noting a change of its health.
    fn write_out(&mut self, out: usize, line: &str) {
        self.touch(out);
        let Some(output) = self.outputs.files.get_mut(out) else {
            return;
        };
        match output.write(line, &self.cfg, &mut self.tally) {
            Health::Same => {}
            h => self.changes.push((out, h)),
        }
    }

    fn report_changes(&mut self) {
        for (out, health) in std::mem::take(&mut self.changes) {
            if let Some(path) = self.outputs.files.get(out).map(|o| o.path.clone()) {
                self.report_health(&path, health);
            }
        }
    }

    /// Formats and writes one event of the parent process (or the sink).
    fn event(&mut self, event: &EventView<'_>, origin: &Client) {
        if event.level() > self.cfg.level {
            return;
        }
        let rec = WireRecord { event, origin };
        self.line.clear();
        // Only the record's own writes could fail, and they write to a String.
        let _ = self.cfg.formatter.format_record(&rec, &mut self.line);
        let level = event.level();
        if self.cfg.echo && level <= self.cfg.echo_level {
            let _ = std::io::stderr().write_all(self.line.as_bytes());
        }
        let line = std::mem::take(&mut self.line);
        if let Some(path) = self.cfg.router.consolidated().map(Path::to_path_buf) {
            if level <= self.cfg.consolidated_level {
                let out = self.outputs.at(&path);
                self.write_out(out, &line);
            }
        }
        let mut key = String::new();
        if level <= self.cfg.per_key_level && self.cfg.router.key(&rec, &mut key) {
            if let Some(out) = self.key_output(&key) {
                self.write_out(out, &line);
            }
        }
        self.line = line;
        self.report_changes();
    }

    /// Writes `self.line` to `path`.
    fn write_to(&mut self, path: &Path) {
        let out = self.outputs.at(path);
        let line = std::mem::take(&mut self.line);
        self.write_out(out, &line);
        self.line = line;
        self.report_changes();
    }
}
