//! The running sink: listens for workers, writes their records to files.
//!
//! [`Sink::builder`] configures it, [`Builder::start`] validates everything,
//! binds the socket and starts the threads; the returned [`SinkHandle`]
//! gives the endpoint to workers ([`SinkHandle::configure_command`]), a
//! [`SinkLayer`] for the parent's own events, and [`SinkHandle::shutdown`],
//! which drains every connection and returns a [`SinkReport`].
//!
//! Threads: one accept loop, one reader per connection (small stacks), and
//! one writer that owns every file. The guide, with the file naming and the
//! failure behaviour, is `docs/sink.md`.
//!
//! | module | concern |
//! |---|---|
//! | `builder`, `handle` | [`Builder`] (its `start` in steps: check, bind, assemble, spawn) and [`SinkHandle`] |
//! | `bind` | binding the endpoints, the socket files' guard; the network settings' checks |
//! | `fds` | the descriptor budget per-key files and connections share |
//! | `listener` | accept loop(s), peer uid check, connection limit, waiting in the backlog |
//! | `reader` | one connection: TLS handshake, hello, read, validate, decode, format, batch |
//! | `batch` | `Batcher`: how both readers hand their lines to the writer |
//! | `pyreader` | one Python `SocketHandler` connection: pickles decoded as data, formatted, batched |
//! | `handshake` | the hello's version and token, the version-2 reply |
//! | `lines` | a batch of formatted lines with their levels, seqs and keys (what readers send) |
//! | `view` | a decoded frame with its connection's process, as a `RecordView` |
//! | `tail` | the live tail: a ring of recent lines, the followers with their filters |
//! | `writer` | the one thread owning the files: dedup, thresholds, routing, writing, forwarding |
//! | `output` | one output file: open, parked, kept lines for a retry, health |
//! | `router` | which files a record goes to, file names |
//! | `seen` | acknowledged delivery: the high-water marks and the waiting acks |
//! | `rejects` | [`Rejections`]: refused connections by reason |
//! | `layer` | [`SinkLayer`] |
//! | `report` | [`SinkReport`], [`ProcessReport`] |
//! | `monitor` | live counts, `/metrics`, alert rules and their actions |
//!
//! Readers decode and format; the writer only routes and writes lines.

mod batch;
mod bind;
mod builder;
mod fds;
mod handle;
mod handshake;
mod layer;
mod lines;
mod listener;
mod monitor;
mod output;
#[cfg(feature = "python")]
mod pyreader;
mod reader;
mod rejects;
mod report;
mod router;
mod seen;
#[cfg_attr(
    not(feature = "monitor"),
    allow(
        dead_code,
        reason = "the metrics server of the feature `monitor` serves the tail"
    )
)]
mod tail;
mod writer;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_core::Level;

pub use builder::{
    Builder, DEFAULT_DRAIN_TIMEOUT, DEFAULT_FORWARD_DRAIN, DEFAULT_HELLO_TIMEOUT, DEFAULT_LEVEL,
    DEFAULT_LOGDIR, DEFAULT_MAX_CONNECTIONS, DEFAULT_NAME, DEFAULT_PROCESS_KEYS,
};
pub use fds::DEFAULT_MAX_OPEN_FILES;
pub use handle::SinkHandle;
pub use layer::SinkLayer;
pub use monitor::DEFAULT_METRICS_RETENTION;
#[cfg(feature = "monitor")]
pub use monitor::{AlertError, AlertOn, AlertRule};
pub use rejects::Rejections;
pub use report::{DEFAULT_MAX_ENDED_PROCESSES, ForgottenProcesses, ProcessReport, SinkReport};
pub use router::{ParseProcessKeyError, ProcessKey};

use crate::format::FormatError;
use crate::rotate::RotateError;
use crate::transport::{Closer, Peer};
pub(crate) use seen::FileSpan;
use writer::Msg;
#[cfg(feature = "monitor")]
pub(crate) use writer::SINK_TARGET;

/// Why a sink could not start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// A builder setting is missing or invalid.
    #[error("sink builder: `{field}`: {reason}")]
    Config {
        /// The builder method at fault.
        field: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// A file system or socket operation failed.
    #[error("sink: {context} {path:?}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file, folder or socket concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A `format` template or the `datefmt` is invalid.
    #[error("sink builder: {0}")]
    Format(#[from] FormatError),
    /// A rotation setting is invalid.
    #[error("sink builder: {0}")]
    Rotate(#[source] RotateError),
    /// A thread could not be started.
    #[error("sink: cannot start the {thread} thread: {source}")]
    Thread {
        /// Which thread.
        thread: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The writer thread panicked; what it had not written is lost.
    #[error("sink: the writer thread panicked")]
    WriterPanicked,
}

impl SinkError {
    fn config(field: &'static str, reason: impl Into<String>) -> Self {
        SinkError::Config {
            field,
            reason: reason.into(),
        }
    }

    fn io(context: &'static str, path: &Path, source: io::Error) -> Self {
        SinkError::Io {
            context,
            path: path.to_owned(),
            source,
        }
    }
}

/// The sink; see [`Sink::builder`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Sink;

impl Sink {
    /// A [`Builder`] with the defaults in its table.
    ///
    /// ```
    /// use tracing_mplog_sink::{ProcessKey, Sink};
    /// use tracing_mplog::wire::{OwnedEvent, OwnedFrame, OwnedHello, Goodbye};
    /// use std::io::Write;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let sink = Sink::builder()
    ///     .listen(format!("unix:{}", dir.path().join("run/log.sock").display()).parse()?)
    ///     .logdir(dir.path().join("logs"))
    ///     .name("app")
    ///     .consolidate(true)
    ///     .process_key([ProcessKey::Name])
    ///     .default_format("%(processName)s %(levelname)s %(message)s")
    ///     .start()?;
    ///
    /// // A worker: normally `tracing_mplog::MpLayer`; here, raw frames.
    /// let tracing_mplog::Endpoint::Unix(path) = sink.endpoint() else { unreachable!() };
    /// let mut conn = std::os::unix::net::UnixStream::connect(path)?;
    /// let mut bytes = Vec::new();
    /// OwnedFrame::Hello(OwnedHello {
    ///     version: 1, capabilities: 0, pid: 42, start_time_ns: 1,
    ///     process_name: "worker".into(), host: "h".into(), token: String::new(),
    /// }).encode(&mut bytes);
    /// OwnedFrame::Event(OwnedEvent {
    ///     seq: 1, timestamp_ns: 0, level: tracing::Level::INFO, target: "app".into(),
    ///     module_path: None, file: None, line: None, thread_id: 1, thread_name: None,
    ///     message: Some("hello".into()), fields: vec![], spans: vec![],
    /// }).encode(&mut bytes);
    /// OwnedFrame::Goodbye(Goodbye { last_seq: 1 }).encode(&mut bytes);
    /// conn.write_all(&bytes)?;
    /// drop(conn);
    ///
    /// let report = sink.shutdown()?;
    /// assert_eq!(report.processes[0].received, 1);
    /// assert!(report.processes[0].clean);
    /// assert_eq!(std::fs::read_to_string(dir.path().join("logs/app.log"))?, "worker INFO hello\n");
    /// assert_eq!(std::fs::read_to_string(dir.path().join("logs/worker.log"))?, "worker INFO hello\n");
    /// # Ok(()) }
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }
}

/// What the handle, the listener and the readers share.
#[derive(Debug)]
struct Shared {
    /// Stop accepting.
    stop: AtomicBool,
    /// The drain timeout passed: readers close what is left.
    cut: AtomicBool,
    /// Open connections (handshakes included), to shut them down at
    /// shutdown and to bound their number.
    conns: Mutex<HashMap<u64, Closer>>,
    readers: Mutex<Vec<JoinHandle<()>>>,
    /// Refused connections by reason.
    rejects: rejects::Counters,
    /// The token network peers must present, if any.
    token: Option<String>,
    /// How long a connection may take to complete its hello (and TLS
    /// handshake) before it is cut.
    hello_timeout: Duration,
    max_connections: usize,
    next_conn: AtomicU64,
    tx: flume::Sender<Msg>,
    max_frame_size: usize,
    allowed_uids: Vec<u32>,
    /// How readers turn events into lines.
    lines: lines::LineMaker,
    /// Live counts and alert rules.
    monitor: Arc<monitor::Monitor>,
    /// The descriptors files and connections share.
    fds: Arc<fds::Descriptors>,
}

impl Shared {
    /// Counts and logs (once) a refused connection.
    fn refuse(&self, id: u64, peer: &Peer, reason: rejects::Reason, why: &str) {
        self.rejects.add(reason);
        self.notice(
            Level::WARN,
            format!("refused connection {id} ({peer}): closed before its hello: {why}"),
        );
    }

    /// Hands one of the sink's own messages to the writer without waiting
    /// (for threads that must not: the alert actions); on stderr when the
    /// writer's channel is full or gone.
    #[cfg(feature = "monitor")]
    fn try_notice(&self, level: Level, message: String) {
        if let Err(e) = self.tx.try_send(Msg::Notice { level, message }) {
            if let Msg::Notice { message, .. } = e.into_inner() {
                eprintln!("{}: {message}", writer::SINK_TARGET);
            }
        }
    }

    /// Shuts every served connection down (see `Closer::ask_to_leave`):
    /// each reader then reads what its worker sent to its end.
    fn ask_all_to_leave(&self) {
        for conn in self
            .conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            let _ = conn.ask_to_leave();
        }
    }

    /// Connection `id`'s reader ended: it no longer counts against the
    /// connection limit or the descriptor budget.
    fn ended(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    /// Sends one of the sink's own messages to the writer.
    fn notice(&self, level: Level, message: String) {
        if let Err(flume::SendError(Msg::Notice { message, .. })) =
            self.tx.send(Msg::Notice { level, message })
        {
            eprintln!("{}: {message}", writer::SINK_TARGET);
        }
    }
}
