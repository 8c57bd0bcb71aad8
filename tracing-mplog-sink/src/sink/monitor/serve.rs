//! The monitor's settings, checked, and its threads: the HTTP server of
//! `/metrics` and the alert thread (feature `monitor`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{AlertRule, Compiled, DEFAULT_METRICS_RETENTION, Monitor, actions, eval, metrics};
use crate::sink::{Shared, SinkError};

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
            retention: DEFAULT_METRICS_RETENTION,
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
    /// writer's [`Evaluator`](super::Evaluator).
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
                eprintln!("{}: a monitor thread panicked", crate::sink::SINK_TARGET);
            }
        }
    }
}

impl crate::sink::Builder {
    /// Serves `GET /metrics` (Prometheus text format) on `addr`:
    /// `HOST:PORT`, or a bare `PORT` on loopback (127.0.0.1). Port 0 picks
    /// a free port: see [`SinkHandle::metrics_addr`](crate::sink::SinkHandle::metrics_addr).
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
