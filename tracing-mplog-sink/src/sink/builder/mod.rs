//! [`Builder`]: the sink's settings, checked and put to work by
//! [`Builder::start`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tracing_core::Level;
use tracing_mplog::{Endpoint, wire};

use super::ProcessKey;
use super::bind::Net;
use crate::clock::{Clock, SystemClock};
use crate::format::FormatLevel;
use crate::rotate::{self, FileMode, When};

mod forward;
mod net;
mod start;

/// Permission bits of created log files (umask applies).
const FILE_PERMISSIONS: u32 = 0o640;
/// Batches that may wait for the writer before readers (and so workers)
/// wait.
const CHANNEL_CAPACITY: usize = 64;
/// The smallest `max_frame_size` accepted (a hello must fit).
const MIN_FRAME_SIZE: usize = 1024;

/// Default [`Builder::logdir`]: `logs`, relative to the working directory.
pub const DEFAULT_LOGDIR: &str = "logs";
/// Default [`Builder::name`]: the consolidated file is `mplog.log`.
pub const DEFAULT_NAME: &str = "mplog";
/// Default [`Builder::process_key`]: one file per process name.
pub const DEFAULT_PROCESS_KEYS: &[ProcessKey] = &[ProcessKey::Name];
/// Default [`Builder::level`]: every record is written.
pub const DEFAULT_LEVEL: Level = Level::TRACE;
/// Default [`Builder::max_connections`]: connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default [`Builder::hello_timeout`].
pub const DEFAULT_HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`Builder::drain_timeout`]: how long shutdown waits for
/// connections to end.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
pub use forward::DEFAULT_FORWARD_DRAIN;

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
/// | [`formatter`](Self::formatter) | [`LevelFormatter::builder()`](crate::format::LevelFormatter::builder) | the whole formatter (templates, `datefmt`, zone, clock); the setters below are shorthands |
/// | [`rotation`](Self::rotation) | [`RotatingFile::builder()`](crate::rotate::RotatingFile::builder) | the whole rotation policy; `when` … `compress` and `file_mode` below are shorthands |
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
/// | [`python_listen`](Self::python_listen) | none | endpoints for Python's `SocketHandler` (`docs/python.md`; feature `python`) |
/// | [`max_connections`](Self::max_connections) | 1024 | connections served at once; more are refused |
/// | [`max_open_files`](Self::max_open_files) | 256, lowered to fit the descriptor limit | per-key files open at once; the least recently written is closed to open another |
/// | [`max_ended_processes`](Self::max_ended_processes) | 10 000 ([`DEFAULT_MAX_ENDED_PROCESSES`](super::DEFAULT_MAX_ENDED_PROCESSES)) | ended processes the report keeps one by one; older ones are summed |
/// | [`hello_timeout`](Self::hello_timeout) | 5 s | a connection without a complete hello (and TLS handshake) by then is cut |
/// | [`clock`](Self::clock) | [`SystemClock`] | time for rotation and the sink's own records |
/// | [`metrics_listen`](Self::metrics_listen), [`metrics_retention`](Self::metrics_retention) | none, 10 min | serve `GET /metrics`; how long ended processes stay in it (feature `monitor`) |
/// | [`alert`](Self::alert) | none | alert rules (see `docs/monitoring.md`; feature `monitor`) |
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
    /// The formatter's settings (the sink adds its name at start).
    format: crate::format::Builder,
    line_format: crate::format::LineFormat,
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
    max_open_files: Option<usize>,
    max_ended_processes: usize,
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
            logdir: PathBuf::from(DEFAULT_LOGDIR),
            name: DEFAULT_NAME.to_owned(),
            consolidate: false,
            keys: DEFAULT_PROCESS_KEYS.to_vec(),
            prefix: String::new(),
            suffix: String::new(),
            level: DEFAULT_LEVEL,
            outputs: OutputLevels::default(),
            format: crate::format::LevelFormatter::builder(),
            line_format: crate::format::LineFormat::Text,
            rotation: rotate::Builder::new(),
            echo: false,
            socket_dir_mode: 0o700,
            allowed_uids: None,
            max_frame_size: wire::DEFAULT_MAX_FRAME_SIZE,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            clock: Arc::new(SystemClock),
            monitor: super::monitor::Settings::default(),
            forwards: Vec::new(),
            forward_drain: DEFAULT_FORWARD_DRAIN,
            max_open_files: None,
            max_ended_processes: super::DEFAULT_MAX_ENDED_PROCESSES,
        }
    }

    #[cfg(feature = "monitor")]
    pub(super) fn monitor_mut(&mut self) -> &mut super::monitor::Settings {
        &mut self.monitor
    }

    /// An endpoint to listen on. Required; call again to listen on
    /// several at once (a Unix socket and TCP/TLS, say). A TCP port 0
    /// lets the system pick one: [`SinkHandle::endpoints`](super::SinkHandle::endpoints) has it.
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

    /// The formatter's settings as a whole: templates per level, `datefmt`,
    /// zone, clock (as a [`LevelFormatter::builder`](crate::LevelFormatter::builder) takes them), replacing
    /// those set so far. Setters called after it change it:
    /// [`format`](Self::format), [`datefmt`](Self::datefmt),
    /// [`utc`](Self::utc) and [`clock`](Self::clock) are shorthands for it.
    /// The sink's [`name`](Self::name) is the formatter's process name
    /// unless the formatter has one.
    pub fn formatter(mut self, format: crate::format::Builder) -> Self {
        self.format = format;
        self
    }

    /// How every file's lines are written: the per-level templates
    /// ([`LineFormat::Text`](crate::format::LineFormat::Text), the default)
    /// or one JSON object per line in the shape of
    /// `tracing_subscriber::fmt().json()` ([`LineFormat::Json`](crate::format::LineFormat::Json),
    /// see [`JsonFormatter`](crate::format::JsonFormatter); the templates
    /// and `datefmt` are then unused). The sink's own records follow it.
    pub fn line_format(mut self, format: crate::format::LineFormat) -> Self {
        self.line_format = format;
        self
    }

    /// The template for `level` (see [`crate::format`]).
    pub fn format(mut self, level: FormatLevel, template: impl Into<String>) -> Self {
        self.format = self.format.format(level, template);
        self
    }

    /// The template for levels without their own: `format(FormatLevel::Default, ..)`.
    pub fn default_format(self, template: impl Into<String>) -> Self {
        self.format(FormatLevel::Default, template)
    }

    /// The `asctime` format (strftime, `%f` = microseconds).
    pub fn datefmt(mut self, datefmt: impl Into<String>) -> Self {
        self.format = self.format.datefmt(datefmt);
        self
    }

    /// The rotation settings as a whole (as [`RotatingFile::builder`]
    /// takes them: time and size rotation, retention, compression, file
    /// mode, clock), replacing those set so far. Setters called after it
    /// change it: [`when`](Self::when), [`interval`](Self::interval),
    /// [`at_time`](Self::at_time), [`max_bytes`](Self::max_bytes),
    /// [`backup_count`](Self::backup_count), [`max_age`](Self::max_age),
    /// [`compress`](Self::compress), [`file_mode`](Self::file_mode),
    /// [`utc`](Self::utc) and [`clock`](Self::clock) are shorthands for it.
    /// The sink sets the buffer (64 KiB) and the files' mode (`0640`).
    ///
    /// [`RotatingFile::builder`]: crate::rotate::RotatingFile::builder
    pub fn rotation(mut self, rotation: rotate::Builder) -> Self {
        self.rotation = rotation;
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
        self.format = self.format.utc(utc);
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

    /// The most per-key files kept open at once; to write another, the
    /// least recently written is closed (and reopened in append mode, its
    /// rotation state intact, when its key writes again). Default: 256,
    /// lowered to fit the descriptor limit (half of what is free at start).
    ///
    /// Of the closed ones the sink remembers 4 times as many; beyond that
    /// it lets go of the least recently written (a sink keyed by pid makes
    /// a file for every worker it ever served). A key whose file was let
    /// go of gets it back from the disk when it writes again, appended to,
    /// its rotation state read from the file as after a restart.
    pub fn max_open_files(mut self, n: usize) -> Self {
        self.max_open_files = Some(n);
        self
    }

    /// How many of the processes that ended the sink remembers one by one,
    /// for [`SinkReport::processes`](super::SinkReport::processes) (and the
    /// metrics, which keep an ended process for
    /// [`metrics_retention`](Self::metrics_retention) first); older ones
    /// are summed in [`SinkReport::forgotten`](super::SinkReport::forgotten).
    /// Processes still connected are always listed. A sink serving
    /// thousands of short-lived workers for months so keeps its memory and
    /// its per-flush work bounded. Default: 10 000.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let sink = tracing_mplog_sink::Sink::builder()
    ///     .listen(format!("unix:{}", dir.path().join("log.sock").display()).parse()?)
    ///     .logdir(dir.path())
    ///     .max_ended_processes(100)
    ///     .start()?;
    /// let report = sink.shutdown()?;
    /// assert_eq!(report.forgotten.processes, 0);
    /// # Ok(()) }
    /// ```
    pub fn max_ended_processes(mut self, n: usize) -> Self {
        self.max_ended_processes = n;
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

    /// How long [`SinkHandle::shutdown`](super::SinkHandle::shutdown) waits for connections to end
    /// before cutting them.
    pub fn drain_timeout(mut self, d: Duration) -> Self {
        self.drain_timeout = d;
        self
    }

    /// Where "now" comes from for rotation and the sink's own records.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        self.rotation = self.rotation.clock(Arc::clone(&clock));
        self.format = self.format.clock(Arc::clone(&clock));
        self.clock = clock;
        self
    }
}

/// Stricter thresholds of single outputs (`None`: the sink's `level`).
#[derive(Debug, Clone, Copy, Default)]
struct OutputLevels {
    consolidated: Option<Level>,
    per_key: Option<Level>,
    echo: Option<Level>,
}
