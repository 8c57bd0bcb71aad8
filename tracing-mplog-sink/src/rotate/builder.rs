//! Configuration of a [`RotatingFile`]: the builder, the rotation period
//! ([`When`]), the open mode ([`FileMode`]) and the errors.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use time::{Time, Weekday};

use super::RotatingFile;
use crate::clock::{Clock, SystemClock};
use crate::zone::Zone;

/// When a time-based rotation happens (Python's `when` argument).
///
/// Periods are aligned in civil time of the configured zone (local by
/// default, see [`Builder::zone`]):
///
/// | value | Python | a period starts | `interval` = n means |
/// |---|---|---|---|
/// | [`Seconds`](When::Seconds) | `S` | on a multiple of n seconds since local midnight | n seconds (n·1 s ≤ 1 day) |
/// | [`Minutes`](When::Minutes) | `M` | on a multiple of n minutes since local midnight | n minutes (≤ 1 day) |
/// | [`Hours`](When::Hours) | `H` | on a multiple of n hours since local midnight | n hours (≤ 24) |
/// | [`Days`](When::Days) | `D` | at local midnight | every n days |
/// | [`Midnight`](When::Midnight) | `midnight` | at `at_time` (default 00:00) | every n days |
/// | [`Weekday`](When::Weekday) | `W0`–`W6` | on that weekday at `at_time` | every n weeks |
/// | [`Never`](When::Never) | — | never: size-only rotation | (must be 1) |
///
/// When n units do not divide a day evenly, the last period of each day
/// ends at midnight. Multi-day and multi-week periods are aligned on the
/// day (week) count since 1970-01-01, so they do not depend on when the
/// program started.
///
/// Parsed case-insensitively from Python's spelling:
///
/// ```
/// use tracing_mplog_sink::rotate::When;
///
/// assert_eq!("midnight".parse::<When>().unwrap(), When::Midnight);
/// assert_eq!("h".parse::<When>().unwrap(), When::Hours);
/// // Python's W0 is Monday.
/// assert_eq!("W0".parse::<When>().unwrap(), When::Weekday(time::Weekday::Monday));
/// assert!("W7".parse::<When>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum When {
    /// Every `interval` seconds (`S`).
    Seconds,
    /// Every `interval` minutes (`M`).
    Minutes,
    /// Every `interval` hours (`H`).
    Hours,
    /// Every `interval` days at midnight (`D`).
    Days,
    /// Every `interval` days at `at_time` (`midnight`).
    Midnight,
    /// Every `interval` weeks on this weekday at `at_time` (`W0` = Monday
    /// … `W6` = Sunday).
    Weekday(Weekday),
    /// No time-based rotation: only `max_bytes` rotates. The default.
    #[default]
    Never,
}

impl When {
    /// The length of one unit in seconds for the sub-day periods.
    pub(crate) fn unit_seconds(self) -> Option<i64> {
        match self {
            When::Seconds => Some(1),
            When::Minutes => Some(60),
            When::Hours => Some(3600),
            _ => None,
        }
    }
}

impl fmt::Display for When {
    /// Python's spelling (`S`, `M`, `H`, `D`, `midnight`, `W0`…`W6`), and
    /// `never`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Seconds => f.write_str("S"),
            When::Minutes => f.write_str("M"),
            When::Hours => f.write_str("H"),
            When::Days => f.write_str("D"),
            When::Midnight => f.write_str("midnight"),
            When::Weekday(day) => write!(f, "W{}", day.number_days_from_monday()),
            When::Never => f.write_str("never"),
        }
    }
}

/// A `when` string that is none of `S`, `M`, `H`, `D`, `midnight`,
/// `W0`…`W6`, `never`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `when` value {input:?}: expected S, M, H, D, midnight, W0..W6 or never")]
pub struct ParseWhenError {
    input: String,
}

impl FromStr for When {
    type Err = ParseWhenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let when = match lower.as_str() {
            "s" => When::Seconds,
            "m" => When::Minutes,
            "h" => When::Hours,
            "d" => When::Days,
            "midnight" => When::Midnight,
            "never" => When::Never,
            w if w.len() == 2 && w.starts_with('w') => {
                let day = match &w[1..] {
                    "0" => Weekday::Monday,
                    "1" => Weekday::Tuesday,
                    "2" => Weekday::Wednesday,
                    "3" => Weekday::Thursday,
                    "4" => Weekday::Friday,
                    "5" => Weekday::Saturday,
                    "6" => Weekday::Sunday,
                    _ => {
                        return Err(ParseWhenError {
                            input: s.to_owned(),
                        });
                    }
                };
                When::Weekday(day)
            }
            _ => {
                return Err(ParseWhenError {
                    input: s.to_owned(),
                });
            }
        };
        Ok(when)
    }
}

/// What happens to an existing file when it is opened at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FileMode {
    /// Keep the content and write after it (Python's `'a'`). The default.
    #[default]
    Append,
    /// Empty the file the first time it is opened (Python's `'w'`). Files
    /// opened later (after a rotation, or to retry after an I/O error) are
    /// never truncated.
    Truncate,
}

/// Building a [`RotatingFile`] failed: a setting is invalid or the file
/// system refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// A builder setting is out of range or does not fit the others.
    #[error("invalid rotation setting `{field}`: {reason}")]
    Config {
        /// The builder method at fault (`interval`, `at_time`, …).
        field: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// The log file path cannot name a log file.
    #[error("invalid log file path {path:?}: {reason}")]
    Path {
        /// The path given to [`Builder::build`].
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A file system operation failed.
    #[error("{context} {path:?}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The background thread (compression and retention) could not start.
    #[error("cannot start the rotation background thread: {0}")]
    Thread(#[source] io::Error),
}

impl RotateError {
    fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Config {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(context: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            context,
            path: path.to_owned(),
            source,
        }
    }
}

/// Builds a [`RotatingFile`]; get one with [`RotatingFile::builder`].
///
/// | setting | default | meaning |
/// |---|---|---|
/// | path (argument of [`build`](Builder::build)) | — (required) | the active log file; rotated files go beside it |
/// | [`when`](Builder::when) | [`When::Never`] | time-based rotation period |
/// | [`interval`](Builder::interval) | `1` | number of `when` units per period |
/// | [`at_time`](Builder::at_time) | 00:00 | time of day for `midnight` and `W0`–`W6` (an error with other `when`s) |
/// | [`utc`](Builder::utc) / [`zone`](Builder::zone) | local ([`Zone::default`]) | zone for period boundaries and file names |
/// | [`max_bytes`](Builder::max_bytes) | `0` (no size limit) | rotate before a record would make the file larger |
/// | [`backup_count`](Builder::backup_count) | `0` (keep all) | number of rotated files kept |
/// | [`max_age`](Builder::max_age) | none | delete rotated files whose last record is older |
/// | [`compress`](Builder::compress) | `false` | gzip rotated files on a background thread |
/// | [`file_mode`](Builder::file_mode) | [`FileMode::Append`] | append to or truncate an existing file at start |
/// | [`delay`](Builder::delay) | `false` | open the file at the first write instead of in `build` |
/// | [`permissions`](Builder::permissions) | `0o640` | Unix mode of files created (umask applies) |
/// | [`clock`](Builder::clock) | [`SystemClock`] | where "now" comes from |
/// | [`buffer_capacity`](Builder::buffer_capacity) | `0` (unbuffered) | bytes kept in memory before writing |
///
/// Missing parent folders are always created. `build` takes `&self`, so one
/// builder can make several files with the same policy.
///
/// ```
/// use tracing_mplog_sink::rotate::{RotatingFile, When};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let file = RotatingFile::builder()
///     .when(When::Midnight)
///     .max_bytes(50 * 1024 * 1024)
///     .backup_count(14)
///     .compress(true)
///     .build(dir.path().join("logs/app.log"))?;
/// assert_eq!(file.path(), dir.path().join("logs/app.log"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) when: When,
    pub(crate) interval: u32,
    pub(crate) at_time: Option<Time>,
    pub(crate) zone: Option<Zone>,
    pub(crate) max_bytes: u64,
    pub(crate) backup_count: usize,
    pub(crate) max_age: Result<Option<StdDuration>, String>,
    pub(crate) compress: bool,
    pub(crate) file_mode: FileMode,
    pub(crate) delay: bool,
    pub(crate) permissions: u32,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) buffer_capacity: usize,
    /// One background thread for every file built from this builder
    /// (see [`Builder::shared_housekeeping`]); `None`: a thread per file.
    pub(crate) housekeeper: Option<Arc<super::retention::Housekeeper>>,
}

/// Default [`Builder::interval`]: one `when` unit per period.
pub const DEFAULT_INTERVAL: u32 = 1;

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with the defaults of the table above.
    pub fn new() -> Self {
        Self {
            when: When::Never,
            interval: DEFAULT_INTERVAL,
            at_time: None,
            zone: None,
            max_bytes: 0,
            backup_count: 0,
            max_age: Ok(None),
            compress: false,
            file_mode: FileMode::Append,
            delay: false,
            permissions: 0o640,
            clock: Arc::new(SystemClock),
            buffer_capacity: 0,
            housekeeper: None,
        }
    }

    /// The time-based rotation period. Default: [`When::Never`].
    pub fn when(mut self, when: When) -> Self {
        self.when = when;
        self
    }

    /// How many `when` units make one period (≥ 1). Default: 1.
    ///
    /// For `S`, `M` and `H` a period must fit in a day (at most 86 400
    /// seconds, 1 440 minutes, 24 hours); with [`When::Never`] it must be 1.
    pub fn interval(mut self, interval: u32) -> Self {
        self.interval = interval;
        self
    }

    /// Time of day at which `midnight` and `W0`–`W6` periods start, in the
    /// configured zone. Default: 00:00. Refused with other `when` values.
    pub fn at_time(mut self, at: Time) -> Self {
        self.at_time = Some(at);
        self
    }

    /// `true`: boundaries and names in UTC (Python's `utc=True`); `false`:
    /// the system's local zone. Default: local.
    pub fn utc(mut self, utc: bool) -> Self {
        self.zone = utc.then(Zone::utc);
        self
    }

    /// Boundaries and names in this zone. Default: [`Zone::default`] (the
    /// system's zone, UTC if it cannot be read).
    pub fn zone(mut self, zone: Zone) -> Self {
        self.zone = Some(zone);
        self
    }

    /// Rotate before a record would make the file longer than this many
    /// bytes. A record longer than the limit goes whole into a file of its
    /// own. Default: 0, no size limit.
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Keep at most this many rotated files (the newest). Default: 0, keep
    /// all.
    pub fn backup_count(mut self, count: usize) -> Self {
        self.backup_count = count;
        self
    }

    /// Delete rotated files whose modification time (their last record, or
    /// the rotation instant) is older than `age` by the clock. Accepts
    /// [`std::time::Duration`] and [`time::Duration`]; must be positive.
    /// Default: no age limit.
    pub fn max_age<D: TryInto<StdDuration>>(mut self, age: D) -> Self {
        self.max_age = match age.try_into() {
            Ok(age) if age.is_zero() => Err("must be longer than zero".to_owned()),
            Ok(age) => Ok(Some(age)),
            Err(_) => Err("must not be negative".to_owned()),
        };
        self
    }

    /// Gzip rotated files (`.gz` suffix) on a background thread, never on
    /// the writer's path. Default: `false`.
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Append to or truncate an existing file at start. Default: append.
    pub fn file_mode(mut self, mode: FileMode) -> Self {
        self.file_mode = mode;
        self
    }

    /// Open (create) the file at the first write rather than in `build`.
    /// Default: `false`.
    pub fn delay(mut self, delay: bool) -> Self {
        self.delay = delay;
        self
    }

    /// Unix permission bits of the files this writer creates (the process
    /// umask still applies; existing files keep theirs). Ignored on other
    /// platforms. Default: `0o640`.
    pub fn permissions(mut self, mode: u32) -> Self {
        self.permissions = mode;
        self
    }

    /// Where "now" comes from. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Keep up to this many bytes in memory before writing them. 0 (the
    /// default): every record reaches the file in its own `write` call.
    /// Above 0, records become visible at [`flush`](std::io::Write::flush),
    /// [`sync_all`](RotatingFile::sync_all), rotation or drop.
    pub fn buffer_capacity(mut self, bytes: usize) -> Self {
        self.buffer_capacity = bytes;
        self
    }

    /// Runs the compression and retention of every file built from this
    /// builder (and its clones) on one shared background thread, started
    /// here, instead of a thread per file: what a sink with many per-key
    /// files needs. Does nothing when no background work is configured.
    #[cfg(feature = "sink")]
    pub(crate) fn shared_housekeeping(mut self) -> Result<Self, RotateError> {
        let active = self.compress || self.backup_count > 0 || matches!(self.max_age, Ok(Some(_)));
        if active && self.housekeeper.is_none() {
            self.housekeeper =
                Some(super::retention::Housekeeper::start().map_err(RotateError::Thread)?);
        }
        Ok(self)
    }

    /// Checks the settings, creates missing parent folders, opens the file
    /// (unless [`delay`](Builder::delay)), rotates it first if it was last
    /// written in an earlier period, and starts the background thread when
    /// compression or retention is on.
    ///
    /// # Errors
    ///
    /// [`RotateError::Config`] naming the setting at fault,
    /// [`RotateError::Path`] for a path that cannot be a log file,
    /// [`RotateError::Io`] when the folder or the file cannot be created.
    pub fn build(&self, path: impl AsRef<Path>) -> Result<RotatingFile, RotateError> {
        self.validate()?;
        RotatingFile::from_builder(self, path.as_ref())
    }

    fn validate(&self) -> Result<(), RotateError> {
        if self.interval == 0 {
            return Err(RotateError::config("interval", "must be at least 1"));
        }
        if let Some(unit) = self.when.unit_seconds() {
            if i64::from(self.interval) * unit > 86_400 {
                return Err(RotateError::config(
                    "interval",
                    format!(
                        "{} × {} does not fit in a day; use when=D for longer periods",
                        self.interval, self.when
                    ),
                ));
            }
        }
        if self.when == When::Never && self.interval != 1 {
            return Err(RotateError::config(
                "interval",
                "has no meaning with when=never (size-only rotation); leave it at 1",
            ));
        }
        if self.at_time.is_some() && !matches!(self.when, When::Midnight | When::Weekday(_)) {
            return Err(RotateError::config(
                "at_time",
                format!(
                    "only applies to when=midnight and W0..W6, not when={}",
                    self.when
                ),
            ));
        }
        if let Err(reason) = &self.max_age {
            return Err(RotateError::config("max_age", reason.clone()));
        }
        if self.permissions > 0o7777 {
            return Err(RotateError::config(
                "permissions",
                format!(
                    "{:#o} is not a file mode (at most 0o7777)",
                    self.permissions
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_round_trips_through_its_python_spelling() {
        for s in ["S", "M", "H", "D", "midnight", "W0", "W3", "W6", "never"] {
            let when: When = s.parse().expect("valid when");
            assert_eq!(when.to_string(), s);
        }
        assert_eq!("MIDNIGHT".parse::<When>().expect("case"), When::Midnight);
        assert_eq!(
            "w6".parse::<When>().expect("sunday"),
            When::Weekday(Weekday::Sunday)
        );
        for bad in ["", "W", "W7", "x", "hours", "W-1"] {
            let err = bad.parse::<When>().expect_err("invalid when");
            assert!(err.to_string().contains("`when`"), "{err}");
        }
    }

    fn config_field(builder: Builder) -> &'static str {
        match builder.validate() {
            Err(RotateError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn invalid_settings_name_their_field() {
        let b = Builder::new;
        assert_eq!(config_field(b().when(When::Hours).interval(0)), "interval");
        assert_eq!(config_field(b().when(When::Hours).interval(25)), "interval");
        assert_eq!(
            config_field(b().when(When::Seconds).interval(86_401)),
            "interval"
        );
        assert_eq!(config_field(b().interval(2)), "interval");
        assert_eq!(
            config_field(b().when(When::Seconds).at_time(Time::MIDNIGHT)),
            "at_time"
        );
        assert_eq!(
            config_field(b().when(When::Days).at_time(Time::MIDNIGHT)),
            "at_time"
        );
        assert_eq!(
            config_field(b().max_age(time::Duration::hours(-1))),
            "max_age"
        );
        assert_eq!(config_field(b().max_age(StdDuration::ZERO)), "max_age");
        assert_eq!(config_field(b().permissions(0o10000)), "permissions");
        b().when(When::Seconds)
            .interval(86_400)
            .validate()
            .expect("one day of seconds");
        b().when(When::Weekday(Weekday::Friday))
            .interval(2)
            .at_time(Time::MIDNIGHT)
            .max_age(time::Duration::days(3))
            .validate()
            .expect("valid");
    }
}
