//! [`SinkHandle`]: the running sink, and its shutdown.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tracing_mplog::{ENDPOINT_ENV, Endpoint};

use super::report::Tally;
use super::writer::{self, Msg};
use super::{Shared, SinkError, SinkLayer, SinkReport};
use crate::clock::Clock;

/// A running sink. Dropping it without [`shutdown`](Self::shutdown) shuts
/// it down the same way, best-effort: errors are printed on stderr and the
/// report is lost.
#[derive(Debug)]
pub struct SinkHandle {
    pub(super) endpoints: Vec<Endpoint>,
    pub(super) python_endpoints: Vec<Endpoint>,
    pub(super) socket_paths: super::bind::SocketFiles,
    pub(super) shared: Arc<Shared>,
    pub(super) files: Arc<Mutex<Vec<PathBuf>>>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) drain_timeout: Duration,
    pub(super) threads: Option<(JoinHandle<()>, JoinHandle<Tally>)>,
    pub(super) monitor: Option<super::monitor::Running>,
    pub(super) forwarders: crate::forward::Forwarders,
    pub(super) forward_drain: Duration,
}

impl SinkHandle {
    /// Where the sink listens: the first endpoint given (see
    /// [`endpoints`](Self::endpoints)).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoints[0]
    }

    /// Every endpoint the sink listens on, in the order given, with the
    /// port the system picked for a TCP port 0.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The endpoints for Python's `SocketHandler`
    /// ([`Builder::python_listen`](super::Builder::python_listen)), as
    /// bound (TCP port 0 replaced by the real port).
    pub fn python_endpoints(&self) -> &[Endpoint] {
        &self.python_endpoints
    }

    /// Connections refused so far, by reason.
    pub fn rejections(&self) -> super::Rejections {
        self.shared.rejects.snapshot()
    }

    /// Where `GET /metrics` is served, if
    /// [`metrics_listen`](super::Builder::metrics_listen) was given (with
    /// the port the system picked for port 0).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.monitor.as_ref().and_then(|m| m.metrics_addr)
    }

    /// A layer writing this process's own events through the sink.
    pub fn layer(&self) -> SinkLayer {
        SinkLayer {
            tx: self.shared.tx.clone(),
            clock: Arc::clone(&self.clock),
        }
    }

    /// Sets [`TRACING_MPLOG_ENDPOINT`](tracing_mplog::ENDPOINT_ENV) on `cmd`
    /// (not on this process), so a worker calling
    /// [`tracing_mplog::worker::init`] finds the sink.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let sink = tracing_mplog_sink::Sink::builder()
    ///     .listen(format!("unix:{}", dir.path().join("log.sock").display()).parse()?)
    ///     .logdir(dir.path())
    ///     .start()?;
    /// let mut cmd = std::process::Command::new("true");
    /// sink.configure_command(&mut cmd);
    /// let set = cmd.get_envs().any(|(k, _)| k == "TRACING_MPLOG_ENDPOINT");
    /// assert!(set && std::env::var_os("TRACING_MPLOG_ENDPOINT").is_none());
    /// # Ok(()) }
    /// ```
    pub fn configure_command<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env(ENDPOINT_ENV, self.endpoint().to_string())
    }

    /// The output files opened so far, less the per-key files the sink let
    /// go of since (closed, not written for long: see
    /// [`max_open_files`](super::Builder::max_open_files)).
    pub fn files(&self) -> Vec<PathBuf> {
        self.files
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops accepting, shuts every connection down (workers resend what
    /// the kernel did not accept to the next sink), reads each to its end
    /// for up to the drain timeout (then cuts it: an unclean end), writes
    /// everything, flushes and syncs every file, joins the threads.
    ///
    /// # Errors
    ///
    /// [`SinkError::WriterPanicked`] if the writer thread panicked.
    pub fn shutdown(mut self) -> Result<SinkReport, SinkError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<SinkReport, SinkError> {
        let Some((listener, writer)) = self.threads.take() else {
            return Ok(SinkReport::default());
        };
        let shared = &self.shared;
        shared.stop.store(true, Ordering::Release);
        shared.monitor.draining.store(true, Ordering::Release);
        if listener.join().is_err() {
            eprintln!("{}: the accept loop panicked", writer::SINK_TARGET);
        }
        self.socket_paths.remove();
        shared.ask_all_to_leave();
        let readers = std::mem::take(
            &mut *shared
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let deadline = Instant::now() + self.drain_timeout;
        while readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        shared.cut.store(true, Ordering::Release);
        for reader in readers {
            if reader.join().is_err() {
                eprintln!("{}: a connection reader panicked", writer::SINK_TARGET);
            }
        }
        let _ = shared.tx.send(Msg::Shutdown);
        let tally = writer.join().map_err(|_| SinkError::WriterPanicked);
        // Every record is in the destinations' queues now.
        let forwards = self.forwarders.shutdown(self.forward_drain);
        if let Some(mut monitor) = self.monitor.take() {
            monitor.stop();
        }
        let mut report = tally?.into_report(shared.rejects.snapshot());
        report.forwards = forwards;
        Ok(report)
    }
}

impl Drop for SinkHandle {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("{}: shutdown at drop: {e}", writer::SINK_TARGET);
        }
    }
}
