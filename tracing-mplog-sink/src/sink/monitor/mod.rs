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
//! | `metrics` | the Prometheus text and its HTTP server |

mod actions;
mod eval;
mod metrics;
mod rules;
mod watch;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use tracing_core::Level;

pub use rules::{AlertError, AlertOn, AlertRule};

pub(crate) use eval::{Evaluator, QUEUE};
pub(crate) use rules::Compiled;
pub(crate) use watch::Watch;

use super::{Shared, SinkError};

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
    match level {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        _ => 4,
    }
}

/// The default time a process that ended stays in the series.
pub(crate) const DEFAULT_RETENTION: Duration = Duration::from_secs(600);

/// The monitor's builder settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) listen: Option<String>,
    pub(crate) retention: Duration,
    pub(crate) rules: Vec<AlertRule>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: None,
            retention: DEFAULT_RETENTION,
            rules: Vec::new(),
        }
    }
}

impl Settings {
    /// Checks the rules and the address; binds nothing.
    pub(crate) fn check(&self) -> Result<(Vec<Compiled>, Option<SocketAddr>), SinkError> {
        let mut compiled = Vec::new();
        for rule in &self.rules {
            let c = Compiled::new(rule).map_err(|e| SinkError::config("alert", e.to_string()))?;
            if compiled.iter().any(|o: &Compiled| o.rule.name == rule.name) {
                return Err(SinkError::config(
                    "alert",
                    format!("two rules are named `{}`", rule.name),
                ));
            }
            compiled.push(c);
        }
        let addr = match &self.listen {
            Some(text) => {
                Some(metrics_addr(text).map_err(|r| SinkError::config("metrics_listen", r))?)
            }
            None => None,
        };
        Ok((compiled, addr))
    }
}

/// `HOST:PORT`, or a bare `PORT` / `:PORT` on loopback.
fn metrics_addr(text: &str) -> Result<SocketAddr, String> {
    let port = text.strip_prefix(':').unwrap_or(text);
    if let Ok(port) = port.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.to_socket_addrs()
        .map_err(|e| format!("{text:?}: {e} (expected HOST:PORT)"))?
        .next()
        .ok_or_else(|| format!("{text:?}: resolves to no address"))
}

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

/// The monitor's threads, stopped at shutdown.
#[derive(Debug)]
pub(crate) struct Running {
    monitor: Arc<Monitor>,
    http: Option<JoinHandle<()>>,
    server: Option<metrics::Unblock>,
    alerts: Option<JoinHandle<()>>,
    /// Where `/metrics` is served.
    pub(crate) metrics_addr: Option<SocketAddr>,
}

impl Running {
    /// Starts the HTTP server (if an address is given) and the alert
    /// thread (if there are rules). `firings` is the receiving end of the
    /// writer's [`Evaluator`].
    pub(crate) fn start(
        shared: &Arc<Shared>,
        addr: Option<SocketAddr>,
        firings: flume::Receiver<eval::Firing>,
    ) -> Result<Running, SinkError> {
        let monitor = Arc::clone(&shared.monitor);
        let (http, metrics_addr, server) = match addr {
            Some(addr) => {
                let (h, a, s) = metrics::serve(shared, addr)?;
                (Some(h), Some(a), Some(s))
            }
            None => (None, None, None),
        };
        let alerts = if monitor.rules.is_empty() {
            None
        } else {
            let for_thread = Arc::clone(shared);
            Some(
                thread::Builder::new()
                    .name("mplog-alerts".into())
                    .spawn(move || actions::run(&for_thread, &firings))
                    .map_err(|source| SinkError::Thread {
                        thread: "alerts",
                        source,
                    })?,
            )
        };
        Ok(Running {
            monitor,
            http,
            server,
            alerts,
            metrics_addr,
        })
    }

    /// Stops the HTTP server at once; the alert thread runs the firings
    /// still queued (the writer has ended: its sender is gone) and ends.
    pub(crate) fn stop(&mut self) {
        self.monitor.stop.store(true, Ordering::Release);
        if let Some(server) = &self.server {
            server.unblock();
        }
        for h in [self.http.take(), self.alerts.take()].into_iter().flatten() {
            if h.join().is_err() {
                eprintln!("{}: a monitor thread panicked", super::writer::SINK_TARGET);
            }
        }
    }
}

impl super::Builder {
    /// Serves `GET /metrics` (Prometheus text format) on `addr`:
    /// `HOST:PORT`, or a bare `PORT` on loopback (127.0.0.1). Port 0 picks
    /// a free port: see [`SinkHandle::metrics_addr`](super::SinkHandle::metrics_addr).
    /// Default: no metrics endpoint.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let sink = tracing_mplog_sink::Sink::builder()
    ///     .listen(format!("unix:{}", dir.path().join("log.sock").display()).parse()?)
    ///     .logdir(dir.path())
    ///     .metrics_listen("127.0.0.1:0")
    ///     .start()?;
    /// let addr = sink.metrics_addr().expect("serving");
    /// assert!(addr.ip().is_loopback() && addr.port() != 0);
    /// # Ok(()) }
    /// ```
    pub fn metrics_listen(mut self, addr: impl Into<String>) -> Self {
        self.monitor_mut().listen = Some(addr.into());
        self
    }

    /// How long a process that ended stays in the metrics. Default: 10 min.
    pub fn metrics_retention(mut self, retention: Duration) -> Self {
        self.monitor_mut().retention = retention;
        self
    }

    /// Adds an alert rule (checked by [`start`](Self::start)).
    pub fn alert(mut self, rule: AlertRule) -> Self {
        self.monitor_mut().rules.push(rule);
        self
    }
}
