//! [`Builder`]: the sink's settings, checked and put to work by
//! [`Builder::start`].

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use tracing_core::Level;
use tracing_mplog::{Endpoint, wire};

use super::bind::{Net, bind_all};
use super::lines::LineMaker;
use super::listener::Protocol;
use super::monitor::{Evaluator, Monitor, Running, Watch};
use super::router::Router;
use super::seen::SeqStore;
use super::view::Origin;
use super::writer::FILE_BUFFER;
use super::writer::{Config, Msg, Writer};
use super::{ProcessKey, Shared, SinkError, SinkHandle, listener};
use crate::clock::{Clock, SystemClock};
use crate::format::{FormatLevel, LevelFormatter};
use crate::forward::{Forwarders, Notify, StartError};
use crate::rotate::{self, FileMode, When};
use crate::sys;

mod forward;
mod net;

/// Permission bits of created log files (umask applies).
const FILE_PERMISSIONS: u32 = 0o640;
/// Batches that may wait for the writer before readers (and so workers)
/// wait.
const CHANNEL_CAPACITY: usize = 64;
/// The smallest `max_frame_size` accepted (a hello must fit).
const MIN_FRAME_SIZE: usize = 1024;

/// Configures a sink; get one with [`Sink::builder`](super::Sink::builder).
///
/// | setting | default | meaning |
/// |---|---|---|
/// | [`listen`](Self::listen) | — (required) | an endpoint workers connect to (`unix:/path`, `tcp://HOST:PORT`, `tls://HOST:PORT`); call again to listen on several |
/// | [`logdir`](Self::logdir) | `logs` | folder of the log files (created if missing) |
/// | [`name`](Self::name) | `mplog` | name of the consolidated file and of the sink's own records |
/// | [`consolidate`](Self::consolidate) | `false` | one file with every record: `{prefix.}{name}{.suffix}.log` |
/// | [`process_key`](Self::process_key) | `[ProcessKey::Name]` | per-key files `{prefix.}{key}{.suffix}.log`; empty: none (then `consolidate` or `echo` is required) |
/// | [`file_prefix`](Self::file_prefix) / [`file_suffix`](Self::file_suffix) | `""` | parts of every file name |
/// | [`file_mode`](Self::file_mode) | [`FileMode::Append`] | append to or truncate existing files |
/// | [`level`](Self::level) | `TRACE` (everything) | the most verbose level written anywhere |
/// | [`consolidated_level`](Self::consolidated_level), [`per_key_level`](Self::per_key_level), [`echo_level`](Self::echo_level) | `level` | a stricter threshold for one output |
/// | [`format`](Self::format) / [`default_format`](Self::default_format) | the formatter's [`DEFAULT_TEMPLATE`](crate::format::DEFAULT_TEMPLATE) | templates per level |
/// | [`datefmt`](Self::datefmt) | the formatter's [`DEFAULT_DATEFMT`](crate::format::DEFAULT_DATEFMT) | `asctime` format |
/// | [`when`](Self::when), [`interval`](Self::interval), [`at_time`](Self::at_time) | no time rotation, 1, 00:00 | time rotation (see [`rotate`](crate::rotate)) |
/// | [`utc`](Self::utc) | `false` (local time) | rotation boundaries and dates in UTC |
/// | [`max_bytes`](Self::max_bytes) | `0` (no limit) | size rotation |
/// | [`backup_count`](Self::backup_count) / [`max_age`](Self::max_age) | keep all | retention of rotated files |
/// | [`compress`](Self::compress) | `false` | gzip rotated files |
/// | [`echo`](Self::echo) | `false` | copy every line to stderr |
/// | [`socket_dir_mode`](Self::socket_dir_mode) | `0o700` | mode of the socket's folder when the sink creates it |
/// | [`allowed_uids`](Self::allowed_uids) | the sink's own uid and root | peers allowed to connect |
/// | [`max_frame_size`](Self::max_frame_size) | 1 MiB ([`wire::DEFAULT_MAX_FRAME_SIZE`]) | larger frames close their connection |
/// | [`drain_timeout`](Self::drain_timeout) | 10 s | how long shutdown waits for connections to end |
/// | [`tls_cert`](Self::tls_cert), [`tls_key`](Self::tls_key) | — (required for `tls://`) | the sink's certificate chain and key (PEM) |
/// | [`tls_client_ca`](Self::tls_client_ca) | none | require client certificates signed by this CA (mutual TLS) |
/// | [`token`](Self::token) / [`token_file`](Self::token_file) | none | the token TCP/TLS workers must present |
/// | [`insecure`](Self::insecure) | `false` | allow plain `tcp://` on a non-loopback address without a token |
/// | [`python_listen`](Self::python_listen) | none | endpoints for Python's `SocketHandler` (`docs/python.md`) |
/// | [`max_connections`](Self::max_connections) | 1024 | connections served at once; more are refused |
/// | [`hello_timeout`](Self::hello_timeout) | 5 s | a connection without a complete hello (and TLS handshake) by then is cut |
/// | [`clock`](Self::clock) | [`SystemClock`] | time for rotation and the sink's own records |
/// | [`metrics_listen`](Self::metrics_listen), [`metrics_retention`](Self::metrics_retention) | none, 10 min | serve `GET /metrics`; how long ended processes stay in it |
/// | [`alert`](Self::alert) | none | alert rules (see `docs/monitoring.md`) |
/// | [`forward`](Self::forward), [`forward_drain`](Self::forward_drain) | none, 5 s | forward records to syslog or OTLP (see `docs/forwarding.md`); how long shutdown lets them drain |
///
/// Log files are created with mode `0640` and written through a 64 KiB
/// buffer that is flushed whenever the sink is idle.
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    endpoints: Vec<Endpoint>,
    python_endpoints: Vec<Endpoint>,
    net: Net,
    logdir: PathBuf,
    name: String,
    consolidate: bool,
    keys: Vec<ProcessKey>,
    prefix: String,
    suffix: String,
    level: Level,
    outputs: OutputLevels,
    formats: Vec<(FormatLevel, String)>,
    datefmt: Option<String>,
    utc: bool,
    rotation: rotate::Builder,
    echo: bool,
    socket_dir_mode: u32,
    allowed_uids: Option<Vec<u32>>,
    max_frame_size: usize,
    drain_timeout: Duration,
    clock: Arc<dyn Clock>,
    monitor: super::monitor::Settings,
    forwards: Vec<crate::forward::Destination>,
    forward_drain: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with every default (table above).
    pub fn new() -> Self {
        Builder {
            endpoints: Vec::new(),
            python_endpoints: Vec::new(),
            net: Net::default(),
            logdir: PathBuf::from("logs"),
            name: "mplog".to_owned(),
            consolidate: false,
            keys: vec![ProcessKey::Name],
            prefix: String::new(),
            suffix: String::new(),
            level: Level::TRACE,
            outputs: OutputLevels::default(),
            formats: Vec::new(),
            datefmt: None,
            utc: false,
            rotation: rotate::Builder::new(),
            echo: false,
            socket_dir_mode: 0o700,
            allowed_uids: None,
            max_frame_size: wire::DEFAULT_MAX_FRAME_SIZE,
            drain_timeout: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
            monitor: super::monitor::Settings::default(),
            forwards: Vec::new(),
            forward_drain: forward::DEFAULT_FORWARD_DRAIN,
        }
    }

    pub(super) fn monitor_mut(&mut self) -> &mut super::monitor::Settings {
        &mut self.monitor
    }

    /// An endpoint to listen on. Required; call again to listen on
    /// several at once (a Unix socket and TCP/TLS, say). A TCP port 0
    /// lets the system pick one: [`SinkHandle::endpoints`] has it.
    pub fn listen(mut self, endpoint: Endpoint) -> Self {
        self.endpoints.push(endpoint);
        self
    }

    /// The folder of the log files.
    pub fn logdir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.logdir = dir.into();
        self
    }

    /// The sink's name: the consolidated file's, and the process name of the
    /// sink's own records and of [`SinkLayer`](super::SinkLayer) events.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Whether to write one file with every record.
    pub fn consolidate(mut self, on: bool) -> Self {
        self.consolidate = on;
        self
    }

    /// The record attributes whose values name the per-key files, joined
    /// with `.` in this order. Empty: no per-key files.
    pub fn process_key(mut self, keys: impl IntoIterator<Item = ProcessKey>) -> Self {
        self.keys = keys.into_iter().collect();
        self
    }

    /// Text before every file name (followed by a `.` when not empty).
    pub fn file_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Text after every file name's key, before `.log` (preceded by a `.`
    /// when not empty).
    pub fn file_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = suffix.into();
        self
    }

    /// Append to or truncate existing files at start.
    pub fn file_mode(mut self, mode: FileMode) -> Self {
        self.rotation = self.rotation.file_mode(mode);
        self
    }

    /// The most verbose level written (`INFO`: info, warn and error).
    /// Records below it are not even formatted.
    pub fn level(mut self, threshold: Level) -> Self {
        self.level = threshold;
        self
    }

    /// A stricter threshold for the consolidated file only (for example
    /// `INFO` there while the per-process files keep `DEBUG`).
    pub fn consolidated_level(mut self, threshold: Level) -> Self {
        self.outputs.consolidated = Some(threshold);
        self
    }

    /// A stricter threshold for the per-key files only.
    pub fn per_key_level(mut self, threshold: Level) -> Self {
        self.outputs.per_key = Some(threshold);
        self
    }

    /// A stricter threshold for the copy on stderr only (with
    /// [`echo`](Self::echo)), for example `WARN`.
    pub fn echo_level(mut self, threshold: Level) -> Self {
        self.outputs.echo = Some(threshold);
        self
    }

    /// The template for `level` (see [`crate::format`]).
    pub fn format(mut self, level: FormatLevel, template: impl Into<String>) -> Self {
        self.formats.push((level, template.into()));
        self
    }

    /// The template for levels without their own: `format(FormatLevel::Default, ..)`.
    pub fn default_format(self, template: impl Into<String>) -> Self {
        self.format(FormatLevel::Default, template)
    }

    /// The `asctime` format (strftime, `%f` = microseconds).
    pub fn datefmt(mut self, datefmt: impl Into<String>) -> Self {
        self.datefmt = Some(datefmt.into());
        self
    }

    /// The time rotation period's unit.
    pub fn when(mut self, when: When) -> Self {
        self.rotation = self.rotation.when(when);
        self
    }

    /// The number of `when` units per rotation period.
    pub fn interval(mut self, n: u32) -> Self {
        self.rotation = self.rotation.interval(n);
        self
    }

    /// The time of day of `midnight` and weekday rotations.
    pub fn at_time(mut self, t: time::Time) -> Self {
        self.rotation = self.rotation.at_time(t);
        self
    }

    /// Rotation boundaries and shown dates in UTC instead of local time.
    pub fn utc(mut self, utc: bool) -> Self {
        self.utc = utc;
        self.rotation = self.rotation.utc(utc);
        self
    }

    /// Rotate before a record would make a file larger than `n` bytes
    /// (0: no limit).
    pub fn max_bytes(mut self, n: u64) -> Self {
        self.rotation = self.rotation.max_bytes(n);
        self
    }

    /// Rotated files kept per file (0: all).
    pub fn backup_count(mut self, n: usize) -> Self {
        self.rotation = self.rotation.backup_count(n);
        self
    }

    /// Delete rotated files older than this.
    pub fn max_age(mut self, d: Duration) -> Self {
        self.rotation = self.rotation.max_age(d);
        self
    }

    /// Gzip rotated files (on a background thread).
    pub fn compress(mut self, on: bool) -> Self {
        self.rotation = self.rotation.compress(on);
        self
    }

    /// Copy every line to stderr as well.
    pub fn echo(mut self, on: bool) -> Self {
        self.echo = on;
        self
    }

    /// Permission bits of the socket's folder when the sink creates it.
    pub fn socket_dir_mode(mut self, mode: u32) -> Self {
        self.socket_dir_mode = mode;
        self
    }

    /// The user ids allowed to connect (checked with the peer's
    /// credentials); others are refused and counted.
    pub fn allowed_uids(mut self, uids: impl IntoIterator<Item = u32>) -> Self {
        self.allowed_uids = Some(uids.into_iter().collect());
        self
    }

    /// The largest frame body accepted; a larger one closes its connection.
    pub fn max_frame_size(mut self, n: usize) -> Self {
        self.max_frame_size = n;
        self
    }

    /// How long [`SinkHandle::shutdown`] waits for connections to end
    /// before cutting them.
    pub fn drain_timeout(mut self, d: Duration) -> Self {
        self.drain_timeout = d;
        self
    }

    /// Where "now" comes from for rotation and the sink's own records.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        self.rotation = self.rotation.clock(Arc::clone(&clock));
        self.clock = clock;
        self
    }

    /// Validates every setting, checks that the log folder is writable,
    /// binds the socket and starts the threads.
    ///
    /// # Errors
    ///
    /// [`SinkError::Config`] naming the setting, [`SinkError::Format`] /
    /// [`SinkError::Rotate`] for templates and rotation settings,
    /// [`SinkError::Io`] naming the log folder or socket path that failed,
    /// [`SinkError::Thread`].
    pub fn start(self) -> Result<SinkHandle, SinkError> {
        if self.endpoints.is_empty() {
            return Err(SinkError::config("listen", "no endpoint given (required)"));
        }
        let token = self.net.check(&self.endpoints)?;
        self.net.check_python(&self.python_endpoints)?;
        if self.name.is_empty() {
            return Err(SinkError::config("name", "must not be empty"));
        }
        if self.keys.is_empty() && !self.consolidate && !self.echo {
            return Err(SinkError::config(
                "process_key",
                "empty, with consolidate and echo off: records would be written nowhere",
            ));
        }
        if self.max_frame_size < MIN_FRAME_SIZE {
            return Err(SinkError::config(
                "max_frame_size",
                format!(
                    "{} is below the minimum of {MIN_FRAME_SIZE} bytes",
                    self.max_frame_size
                ),
            ));
        }
        if self.socket_dir_mode > 0o7777 {
            return Err(SinkError::config(
                "socket_dir_mode",
                format!("{:o} is not a permission mode", self.socket_dir_mode),
            ));
        }
        let own_uid = sys::current_uid();
        let allowed_uids = self.allowed_uids.clone().unwrap_or_else(|| {
            let mut uids = vec![own_uid];
            if own_uid != 0 {
                uids.push(0);
            }
            uids
        });
        if allowed_uids.is_empty() {
            return Err(SinkError::config(
                "allowed_uids",
                "empty: nobody could connect",
            ));
        }
        let mut format = LevelFormatter::builder()
            .process_name(self.name.clone())
            .clock(Arc::clone(&self.clock));
        for (level, template) in &self.formats {
            format = format.format(*level, template.clone());
        }
        if let Some(datefmt) = &self.datefmt {
            format = format.datefmt(datefmt.clone());
        }
        if self.utc {
            format = format.utc(true);
        }
        let formatter = format.build()?;

        let (rules, metrics_addr) = self.monitor.check()?;
        // Before anything is created: a destination that cannot work (a
        // missing CA file, say) leaves no log folder behind.
        let (tx, rx) = flume::bounded(CHANNEL_CAPACITY);
        let forwarders = start_forwarders(&self.forwards, &tx)?;
        check_logdir(&self.logdir)?;
        let router = Router::new(
            &self.logdir,
            &self.name,
            &self.prefix,
            &self.suffix,
            self.keys.clone(),
            self.consolidate,
        );
        let rotation = self
            .rotation
            .clone()
            .buffer_capacity(FILE_BUFFER)
            .permissions(FILE_PERMISSIONS);
        // Checks the rotation settings without creating a file.
        rotation
            .clone()
            .delay(true)
            .build(router.own_file())
            .map_err(SinkError::Rotate)?;

        let bound = bind_all(&self.endpoints, &self.net, self.socket_dir_mode)?;
        let (listeners, endpoints, mut socket_paths) = bound;
        let py_bound = match bind_all(&self.python_endpoints, &self.net, self.socket_dir_mode) {
            Ok(b) => b,
            Err(e) => {
                for path in &socket_paths {
                    let _ = fs::remove_file(path);
                }
                return Err(e);
            }
        };
        let (py_listeners, python_endpoints, py_paths) = py_bound;
        socket_paths.extend(py_paths);
        let listeners: Vec<_> = listeners
            .into_iter()
            .map(|l| (l, Protocol::Native))
            .chain(py_listeners.into_iter().map(|l| (l, Protocol::Python)))
            .collect();

        let logdir = self.logdir.clone();
        let monitor = Arc::new(Monitor::new(
            rules,
            self.monitor.retention,
            logdir,
            forwarders.stats(),
        ));
        let senders = forwarders.senders();
        let (firing_tx, firings) = flume::bounded(super::monitor::QUEUE);
        let eval =
            (!monitor.rules.is_empty()).then(|| Evaluator::new(Arc::clone(&monitor), firing_tx));
        let files = Arc::new(Mutex::new(Vec::new()));
        let own = Origin {
            conn: 0,
            pid: std::process::id(),
            start_time_ns: 0,
            process_name: self.name.clone(),
            host: tracing_mplog::origin::hostname(),
        };
        let lines = LineMaker {
            formatter: formatter.clone(),
            router: router.clone(),
            level: self.level,
            forward: senders.level().map(|l| l.min(self.level)),
        };
        let writer = Writer::new(Config {
            formatter,
            router,
            rotation,
            level: self.level,
            consolidated_level: self.outputs.consolidated.unwrap_or(self.level),
            per_key_level: self.outputs.per_key.unwrap_or(self.level),
            echo_level: self.outputs.echo.unwrap_or(self.level),
            echo: self.echo,
            own: Arc::new(own),
            clock: Arc::clone(&self.clock),
            files: Arc::clone(&files),
            seq_store: SeqStore::open(&self.logdir, &self.name),
            watch: Watch::new(Arc::clone(&monitor), eval),
            forward: senders,
        });
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            readers: Mutex::new(Vec::new()),
            rejects: super::rejects::Counters::default(),
            token,
            hello_timeout: self.net.hello_timeout,
            max_connections: self.net.max_connections,
            next_conn: AtomicU64::new(0),
            tx,
            max_frame_size: self.max_frame_size,
            allowed_uids,
            lines,
            monitor,
        });
        let remove_sockets = || {
            for path in &socket_paths {
                let _ = fs::remove_file(path);
            }
        };
        let cleanup = |e| {
            remove_sockets();
            SinkError::Thread {
                thread: "writer",
                source: e,
            }
        };
        let writer = thread::Builder::new()
            .name("mplog-writer".into())
            .spawn(move || writer.run(&rx))
            .map_err(cleanup)?;
        let mut running = match Running::start(&shared, metrics_addr, firings) {
            Ok(running) => running,
            Err(e) => {
                let _ = shared.tx.send(Msg::Shutdown);
                let _ = writer.join();
                remove_sockets();
                return Err(e);
            }
        };
        let for_listener = Arc::clone(&shared);
        let listener = match thread::Builder::new()
            .name("mplog-listen".into())
            .spawn(move || listener::run(&for_listener, &listeners))
        {
            Ok(handle) => handle,
            Err(e) => {
                let _ = shared.tx.send(Msg::Shutdown);
                let _ = writer.join();
                running.stop();
                remove_sockets();
                return Err(SinkError::Thread {
                    thread: "listener",
                    source: e,
                });
            }
        };
        Ok(SinkHandle {
            endpoints,
            python_endpoints,
            socket_paths,
            shared,
            files,
            clock: self.clock,
            drain_timeout: self.drain_timeout,
            threads: Some((listener, writer)),
            monitor: Some(running),
            forwarders,
            forward_drain: self.forward_drain,
        })
    }
}

/// Checks every forwarding destination and starts its queue and thread;
/// the threads report through the writer's channel.
fn start_forwarders(
    dests: &[crate::forward::Destination],
    tx: &flume::Sender<Msg>,
) -> Result<Forwarders, SinkError> {
    let tx = tx.clone();
    let notify: Notify = Arc::new(move |level, message| {
        if let Err(flume::SendError(Msg::Notice { message, .. })) =
            tx.send(Msg::Notice { level, message })
        {
            eprintln!("{}: {message}", super::writer::SINK_TARGET);
        }
    });
    Forwarders::start(dests, &notify).map_err(|e| match e {
        StartError::Destination(e) => SinkError::config("forward", e.to_string()),
        StartError::Thread(source) => SinkError::Thread {
            thread: "forward",
            source,
        },
    })
}

/// Stricter thresholds of single outputs (`None`: the sink's `level`).
#[derive(Debug, Clone, Copy, Default)]
struct OutputLevels {
    consolidated: Option<Level>,
    per_key: Option<Level>,
    echo: Option<Level>,
}

/// Creates the log folder and checks that a file can be created in it.
fn check_logdir(dir: &Path) -> Result<(), SinkError> {
    fs::create_dir_all(dir).map_err(|e| SinkError::io("cannot create the log folder", dir, e))?;
    let probe = dir.join(format!(".mplog-write-check-{}", std::process::id()));
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| SinkError::io("the log folder is not writable", dir, e))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}
