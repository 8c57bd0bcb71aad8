//! The monitor: live counts for `/metrics` and `mplog-sink status`, and
//! alert rules with their actions (see `docs/monitoring.md`).
//!
//! The counts live in one place: the writer's [`Tally`](super::report::Tally)
//! (per process: events by level, drops by reason, last event, open
//! connections; disconnects) and its outputs (per file: lines, bytes,
//! rotations, write errors), plus atomics for connections by transport
//! and the refusals of [`rejects`](super::rejects). The writer adds plain
//! integers per event and publishes a [`Snapshot`] when it flushes; the
//! HTTP thread and the alert thread read that snapshot, never the writer.
//!
//! | module | concern |
//! |---|---|
//! | `rules` | [`AlertRule`], its checks |
//! | `eval` | rules evaluated in the writer (level, match, unclean-disconnect, dropped) |
//! | `actions` | the alert thread: silence, and the actions with their timeouts |
//! | `metrics` | the metrics and their HTTP server |
//! | `follow` | `GET /tail`: one follower of the live tail per request, streamed |
//! | `exposition` | the format a client gets: OpenMetrics or the text format 0.0.4 |
//! | `serve` | the settings, checked; the HTTP and alert threads |
//! | `off` | without the feature `monitor`: counts only, no rules, no server |
//!
//! The writer's side (its counts, the per-event rules fed from its
//! batches, the snapshots) is `sink::writer::watch`: the monitor imports
//! nothing of the readers or the writer.
//!
//! The counts are always kept (the report and the writer use them); the
//! HTTP server, the alert rules and their actions come with the feature
//! `monitor`.

// Without the feature the writer still keeps the counts and publishes
// snapshots, but nothing reads them.
#![cfg_attr(
    not(feature = "monitor"),
    allow(dead_code, reason = "the readers come with the feature `monitor`")
)]

#[cfg(feature = "monitor")]
mod actions;
#[cfg(feature = "monitor")]
mod eval;
#[cfg(feature = "monitor")]
mod exposition;
#[cfg(feature = "monitor")]
mod follow;
#[cfg(feature = "monitor")]
mod metrics;
#[cfg(not(feature = "monitor"))]
mod off;
#[cfg(feature = "monitor")]
mod rules;
#[cfg(feature = "monitor")]
mod serve;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tracing_core::Level;

#[cfg(feature = "monitor")]
pub use rules::{AlertError, AlertOn, AlertRule};

#[cfg(feature = "monitor")]
pub(crate) use eval::{Evaluator, Firing, QUEUE};
#[cfg(not(feature = "monitor"))]
pub(crate) use off::{Compiled, Evaluator, Firing, QUEUE, Running, Settings};
#[cfg(feature = "monitor")]
pub(crate) use rules::Compiled;
#[cfg(feature = "monitor")]
pub(crate) use serve::{Running, Settings};

/// The levels in the order of the count arrays.
pub(crate) const LEVELS: [Level; 5] = [
    Level::TRACE,
    Level::DEBUG,
    Level::INFO,
    Level::WARN,
    Level::ERROR,
];

/// A level's index in [`LEVELS`].
pub(crate) fn level_index(level: Level) -> usize {
    usize::from(tracing_mplog::wire::level_to_u8(level))
}

/// Default [`Builder::metrics_retention`](crate::sink::Builder::metrics_retention):
/// how long a process that ended stays in the series.
pub const DEFAULT_METRICS_RETENTION: Duration = Duration::from_secs(600);

/// Per process counts, kept by the writer in its tally.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcCounts {
    pub(crate) host: String,
    /// Events by level ([`LEVELS`] order), resent duplicates not counted.
    pub(crate) levels: [u64; 5],
    /// Events the worker reported by reason: channel full, oversized
    /// (dropped), truncated (cut to fit, delivered).
    pub(crate) dropped: [u64; 3],
    /// When the writer last took an event of it.
    pub(crate) last_event: Option<SystemTime>,
    /// When its current connection said hello.
    pub(crate) since: Option<SystemTime>,
    /// Connections open now.
    pub(crate) open: u32,
    /// When its last connection closed, while none is open.
    pub(crate) ended: Option<Instant>,
}

/// One process in a [`Snapshot`].
#[derive(Debug, Clone)]
pub(crate) struct ProcSnap {
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) clean: bool,
    pub(crate) counts: ProcCounts,
}

/// One output file in a [`Snapshot`].
#[derive(Debug, Clone, Default)]
pub(crate) struct FileSnap {
    /// The name within the log folder.
    pub(crate) name: String,
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
    pub(crate) rotations: u64,
    pub(crate) write_errors: u64,
}

/// What the writer publishes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) processes: Vec<ProcSnap>,
    pub(crate) files: Vec<FileSnap>,
    /// Disconnects: unclean, clean.
    pub(crate) disconnects: [u64; 2],
    /// Ended processes the writer let go of (see `Tally::forget_ended`).
    pub(crate) forgotten: u64,
}

/// Counters of one alert rule.
#[derive(Debug, Default)]
pub(crate) struct AlertCounts {
    pub(crate) fired: AtomicU64,
    pub(crate) failures: AtomicU64,
}

/// Transports, in the order of [`Monitor::conns`].
pub(crate) const TRANSPORTS: [&str; 3] = ["unix", "tcp", "tls"];

/// What the writer, the readers, the HTTP thread and the alert thread share.
#[derive(Debug)]
pub(crate) struct Monitor {
    /// Per transport: active, total.
    pub(crate) conns: [[AtomicU64; 2]; 3],
    pub(crate) snapshot: Mutex<Snapshot>,
    pub(crate) rules: Arc<[Compiled]>,
    pub(crate) alerts: Vec<AlertCounts>,
    pub(crate) retention: Duration,
    pub(crate) logdir: PathBuf,
    /// The sink is shutting down: the connections it cuts are no crash.
    pub(crate) draining: AtomicBool,
    stop: AtomicBool,
    /// Each forwarding destination's URL and live counts.
    pub(crate) forwards: Vec<(String, Arc<crate::forward::Stats>)>,
}

impl Monitor {
    pub(crate) fn new(
        rules: Vec<Compiled>,
        retention: Duration,
        logdir: PathBuf,
        forwards: Vec<(String, Arc<crate::forward::Stats>)>,
    ) -> Self {
        Monitor {
            conns: Default::default(),
            snapshot: Mutex::new(Snapshot::default()),
            alerts: rules.iter().map(|_| AlertCounts::default()).collect(),
            rules: rules.into(),
            retention,
            logdir,
            draining: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            forwards,
        }
    }

    /// A connection of `transport` (index in [`TRANSPORTS`]) opened; the
    /// guard counts it closed when dropped.
    pub(crate) fn connection(&self, transport: usize) -> ConnGuard<'_> {
        let c = &self.conns[transport.min(2)];
        c[0].fetch_add(1, Ordering::Relaxed);
        c[1].fetch_add(1, Ordering::Relaxed);
        ConnGuard(&c[0])
    }

    pub(crate) fn publish(&self, snapshot: Snapshot) {
        *self.snapshot.lock().unwrap_or_else(PoisonError::into_inner) = snapshot;
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        self.snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether a process that ended is past the retention time.
    pub(crate) fn expired(&self, p: &ProcSnap) -> bool {
        p.counts.open == 0
            && p.counts
                .ended
                .is_some_and(|t| t.elapsed() >= self.retention)
    }
}

/// Counts an open connection closed when dropped.
#[derive(Debug)]
pub(crate) struct ConnGuard<'a>(&'a AtomicU64);

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
