//! The sink's single-valued settings, one table entry each: flag (which is
//! also the config key), value parser of the flag and of the file, default,
//! help text, and the `sink::Builder` call that hands the value on.
//!
//! Adding such a setting is one entry in the `settings!` call below (and the
//! library setter it calls). From the table the macro makes:
//! - [`Values`], the clap arguments (`Option` each, so that the config file
//!   can fill what the command line leaves out), with `[default: …]` in
//!   every help line taken from the default value itself;
//! - [`Values::read_key`], which reads the key from the config file;
//! - [`KEYS`], every config key;
//! - the fields of [`Config`] and [`Config::apply`].
//!
//! Settings with merge rules of their own (lists: `listen`, `process-key`,
//! `format`, …) are the hand-written fields of [`Config`], merged in
//! [`crate::config::resolve`].

use std::path::PathBuf;
use std::time::Duration;

use time::Time;
use tracing::Level;
use tracing_mplog::Endpoint;
use tracing_mplog_sink::format::DEFAULT_DATEFMT;
use tracing_mplog_sink::rotate::{DEFAULT_INTERVAL, FileMode, When};
use tracing_mplog_sink::sink::{
    self, Builder, DEFAULT_FORWARD_DRAIN, DEFAULT_LEVEL, DEFAULT_LOGDIR, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_OPEN_FILES, DEFAULT_NAME,
};
use tracing_mplog_sink::{FormatLevel, ProcessKey};

use crate::config::Sources;
use crate::file_values as file;
use crate::values;

/// Declares the single-valued settings; see the module documentation.
macro_rules! settings {
    ($(
        $field:ident {
            help: $help:literal,
            flag: $flag:literal,
            value: $value_name:literal,
            $(arg: ($($extra:tt)*),)?
            ty: $inner:ty => $ty:ty,
            default: $default:expr,
            $(shown: $shown:expr,)?
            parse: $parse:expr,
            file: $file:expr,
            apply: $apply:expr $(,)?
        }
    )*) => {
        /// Every key of the config file, in its canonical (flag) spelling.
        pub(crate) const KEYS: &[&str] = &[
            "listen", "python-listen", $($flag,)* "process-key", "format", "alert", "forward",
        ];

        /// The single-valued settings as the command line (or the config
        /// file) gives them: `None` when not given.
        #[derive(Debug, Default, clap::Args)]
        #[group(skip)]
        pub(crate) struct Values {
            $(
                #[doc = $help]
                #[arg(long = $flag, value_name = $value_name, value_parser = $parse,
                      help = help_line($help, &settings!(@shown $ty, $default $(, $shown)?))
                      $(, $($extra)*)?)]
                pub(crate) $field: Option<$inner>,
            )*
        }

        impl Values {
            /// Sets `key` (canonical spelling) from the config file's
            /// `value`; `None` when `key` is not in the table.
            pub(crate) fn read_key(
                &mut self,
                key: &str,
                value: &toml::Value,
            ) -> Option<Result<(), String>> {
                let read = match key {
                    $($flag => ($file)(value).map(|v| self.$field = Some(v)),)*
                    _ => return None,
                };
                Some(read)
            }

            /// The keys that have a value.
            pub(crate) fn keys_set(&self) -> Vec<&'static str> {
                let mut keys = Vec::new();
                $(if self.$field.is_some() { keys.push($flag); })*
                keys
            }
        }

        /// Every setting of the sink, resolved: command line over file over
        /// defaults (the library's `DEFAULT_*` constants).
        #[derive(Debug, Clone)]
        pub(crate) struct Config {
            /// At least one.
            pub(crate) listen: Vec<Endpoint>,
            /// Endpoints for Python's `SocketHandler` (maybe none).
            pub(crate) python_listen: Vec<Endpoint>,
            /// The per-key file names' attributes (empty: no per-key files).
            pub(crate) process_key: Vec<ProcessKey>,
            /// The templates given, one per level at most, in level order.
            pub(crate) formats: Vec<(FormatLevel, String)>,
            /// Templates or JSON lines.
            pub(crate) line_format: tracing_mplog_sink::format::LineFormat,
            /// The config file's `[[alert]]` rules.
            pub(crate) alerts: Vec<sink::AlertRule>,
            /// Forwarding destinations (`--forward` replaces the file's list).
            pub(crate) forward: Vec<tracing_mplog_sink::forward::Destination>,
            $(
                #[doc = $help]
                pub(crate) $field: $ty,
            )*
            /// Where the values came from, to name a setting in an error.
            pub(crate) sources: Sources,
        }

        impl Config {
            /// The lists as merged, the single values as the flags, then
            /// the file, then the default give them.
            pub(crate) fn assemble(
                lists: crate::config::Lists,
                flags: Values,
                file: Values,
                sources: Sources,
            ) -> Config {
                Config {
                    listen: lists.listen,
                    python_listen: lists.python_listen,
                    process_key: lists.process_key,
                    formats: lists.formats,
                    line_format: lists.line_format,
                    alerts: lists.alerts,
                    forward: lists.forward,
                    $($field: match flags.$field.or(file.$field) {
                        Some(value) => value.into(),
                        None => $default,
                    },)*
                    sources,
                }
            }

            /// `b` with every single-valued setting applied.
            pub(crate) fn apply(&self, b: Builder) -> Builder {
                $(let b = call(b, &self.$field, $apply);)*
                b
            }
        }
    };
    (@shown $ty:ty, $default:expr) => { <$ty as Show>::show(&$default) };
    (@shown $ty:ty, $default:expr, $shown:expr) => { ($shown).to_string() };
}

settings! {
    tls_cert {
        help: "The sink's TLS certificate chain, PEM (required for tls://)",
        flag: "tls-cert", value: "FILE",
        ty: PathBuf => Option<PathBuf>, default: None,
        shown: "",
        parse: clap::value_parser!(PathBuf), file: file::path,
        apply: |b, v| set(b, v, |b, p| b.tls_cert(p)),
    }
    tls_key {
        help: "The private key of --tls-cert, PEM (required for tls://)",
        flag: "tls-key", value: "FILE",
        ty: PathBuf => Option<PathBuf>, default: None,
        shown: "",
        parse: clap::value_parser!(PathBuf), file: file::path,
        apply: |b, v| set(b, v, |b, p| b.tls_key(p)),
    }
    tls_client_ca {
        help: "Require TLS client certificates signed by this CA, PEM (mutual TLS)",
        flag: "tls-client-ca", value: "FILE",
        ty: PathBuf => Option<PathBuf>, default: None,
        parse: clap::value_parser!(PathBuf), file: file::path,
        apply: |b, v| set(b, v, |b, p| b.tls_client_ca(p)),
    }
    token_file {
        help: "File holding the token every TCP/TLS worker must present",
        flag: "token-file", value: "FILE",
        ty: PathBuf => Option<PathBuf>, default: None,
        parse: clap::value_parser!(PathBuf), file: file::path,
        apply: |b, v| set(b, v, |b, p| b.token_file(p)),
    }
    insecure {
        help: "Allow plain tcp:// on a non-loopback address without a token",
        flag: "insecure", value: "BOOL", arg: (num_args = 0..=1, require_equals = true,
        default_missing_value = "true"),
        ty: bool => bool, default: false,
        parse: clap::value_parser!(bool), file: file::boolean,
        apply: |b, v| b.insecure(*v),
    }
    max_connections {
        help: "Connections served at once; more are refused",
        flag: "max-connections", value: "N",
        ty: usize => usize, default: DEFAULT_MAX_CONNECTIONS,
        parse: values::parse_max_connections, file: file::count,
        apply: |b, v| b.max_connections(*v),
    }
    max_open_files {
        help: "Per-key files kept open at once; the least recently written is closed (and reopened when written again)",
        flag: "max-open-files", value: "N",
        ty: usize => Option<usize>, default: None,
        shown: format!("{DEFAULT_MAX_OPEN_FILES}, lowered to fit the descriptor limit"),
        parse: values::parse_max_connections, file: file::count,
        apply: |b, v| set(b, v, Builder::max_open_files),
    }
    logdir {
        help: "Folder of the log files, created if missing",
        flag: "logdir", value: "DIR",
        ty: PathBuf => PathBuf, default: PathBuf::from(DEFAULT_LOGDIR),
        parse: clap::value_parser!(PathBuf), file: file::path,
        apply: |b, v| b.logdir(v.clone()),
    }
    name {
        help: "Base name of the log files (the consolidated file is named after it)",
        flag: "name", value: "NAME",
        ty: String => String, default: DEFAULT_NAME.to_owned(),
        parse: clap::value_parser!(String), file: file::text,
        apply: |b, v| b.name(v.clone()),
    }
    consolidate {
        help: "Also write one file with every process's records",
        flag: "consolidate", value: "BOOL", arg: (num_args = 0..=1, require_equals = true,
        default_missing_value = "true"),
        ty: bool => bool, default: false,
        parse: clap::value_parser!(bool), file: file::boolean,
        apply: |b, v| b.consolidate(*v),
    }
    file_prefix {
        help: "Text put before every file name",
        flag: "file-prefix", value: "TEXT", arg: (allow_hyphen_values = true),
        ty: String => String, default: String::new(),
        parse: clap::value_parser!(String), file: file::text,
        apply: |b, v| b.file_prefix(v.clone()),
    }
    file_suffix {
        help: "Text put after every file name",
        flag: "file-suffix", value: "TEXT", arg: (allow_hyphen_values = true),
        ty: String => String, default: String::new(),
        parse: clap::value_parser!(String), file: file::text,
        apply: |b, v| b.file_suffix(v.clone()),
    }
    file_mode {
        help: "At start, append to existing files or truncate them: append|truncate",
        flag: "file-mode", value: "MODE",
        ty: FileMode => FileMode, default: FileMode::default(),
        parse: values::parse_file_mode, file: |v| file::parsed(v, values::parse_file_mode),
        apply: |b, v| b.file_mode(*v),
    }
    when {
        help: "Time-based rotation: S, M, H, D, midnight, W0..W6 (Monday..Sunday) or never",
        flag: "when", value: "WHEN",
        ty: When => When, default: When::default(),
        parse: values::parse_when, file: |v| file::parsed(v, values::parse_when),
        apply: |b, v| b.when(*v),
    }
    interval {
        help: "Number of `--when` units per rotation period",
        flag: "interval", value: "N",
        ty: u32 => u32, default: DEFAULT_INTERVAL,
        parse: values::parse_interval, file: file::interval,
        apply: |b, v| b.interval(*v),
    }
    at_time {
        help: "Time of day for --when midnight and W0..W6: HH:MM or HH:MM:SS",
        flag: "at-time", value: "HH:MM[:SS]",
        ty: Time => Option<Time>, default: None, shown: "00:00",
        parse: values::parse_at_time, file: file::at_time,
        apply: |b, v| set(b, v, Builder::at_time),
    }
    utc {
        help: "Rotation boundaries, file names and dates in UTC instead of local time",
        flag: "utc", value: "BOOL", arg: (num_args = 0..=1, require_equals = true,
        default_missing_value = "true"),
        ty: bool => bool, default: false,
        parse: clap::value_parser!(bool), file: file::boolean,
        apply: |b, v| b.utc(*v),
    }
    max_bytes {
        help: "Rotate before a record would make a file larger: bytes, or K/M/G (powers of 1024); 0 = no limit",
        flag: "max-bytes", value: "SIZE",
        ty: u64 => u64, default: 0,
        parse: values::parse_size, file: file::size,
        apply: |b, v| b.max_bytes(*v),
    }
    backup_count {
        help: "Keep this many rotated files per log file; 0 = keep all",
        flag: "backup-count", value: "N",
        ty: usize => usize, default: 0,
        parse: values::parse_backup_count, file: file::backup_count,
        apply: |b, v| b.backup_count(*v),
    }
    max_age {
        help: "Delete rotated files older than this: 30s, 15m, 12h, 7d, 2w; plain number = seconds",
        flag: "max-age", value: "DURATION",
        ty: Duration => Option<Duration>, default: None, shown: "no age limit",
        parse: values::parse_duration, file: file::duration,
        apply: |b, v| set(b, v, Builder::max_age),
    }
    compress {
        help: "Gzip rotated files (in the background)",
        flag: "compress", value: "BOOL", arg: (num_args = 0..=1, require_equals = true,
        default_missing_value = "true"),
        ty: bool => bool, default: false,
        parse: clap::value_parser!(bool), file: file::boolean,
        apply: |b, v| b.compress(*v),
    }
    datefmt {
        help: "strftime format of %(asctime)s; %f = microseconds, %3f = milliseconds",
        flag: "datefmt", value: "FMT",
        ty: String => Option<String>, default: None, shown: format!("{DEFAULT_DATEFMT:?}"),
        parse: clap::value_parser!(String), file: file::text,
        apply: |b, v| set(b, v, |b, f| b.datefmt(f)),
    }
    level {
        help: "Write records at this level and above: trace, debug, info, warn, error",
        flag: "level", value: "LEVEL",
        ty: Level => Level, default: DEFAULT_LEVEL,
        parse: values::parse_level, file: |v| file::parsed(v, values::parse_level),
        apply: |b, v| b.level(*v),
    }
    consolidated_level {
        help: "A stricter threshold for the consolidated file only",
        flag: "consolidated-level", value: "LEVEL",
        ty: Level => Option<Level>, default: None, shown: "--level",
        parse: values::parse_level, file: |v| file::parsed(v, values::parse_level),
        apply: |b, v| set(b, v, Builder::consolidated_level),
    }
    per_key_level {
        help: "A stricter threshold for the per-key files only",
        flag: "per-key-level", value: "LEVEL",
        ty: Level => Option<Level>, default: None, shown: "--level",
        parse: values::parse_level, file: |v| file::parsed(v, values::parse_level),
        apply: |b, v| set(b, v, Builder::per_key_level),
    }
    echo_level {
        help: "A stricter threshold for --echo only, e.g. warn",
        flag: "echo-level", value: "LEVEL",
        ty: Level => Option<Level>, default: None, shown: "--level",
        parse: values::parse_level, file: |v| file::parsed(v, values::parse_level),
        apply: |b, v| set(b, v, Builder::echo_level),
    }
    echo {
        help: "Copy every written line to stderr",
        flag: "echo", value: "BOOL", arg: (num_args = 0..=1, require_equals = true,
        default_missing_value = "true"),
        ty: bool => bool, default: false,
        parse: clap::value_parser!(bool), file: file::boolean,
        apply: |b, v| b.echo(*v),
    }
    metrics_listen {
        help: "Serve GET /metrics (Prometheus text) on HOST:PORT; a bare PORT is on 127.0.0.1",
        flag: "metrics-listen", value: "HOST:PORT",
        ty: String => Option<String>, default: None,
        parse: clap::value_parser!(String), file: file::text,
        apply: |b, v| set(b, v, |b, a| b.metrics_listen(a)),
    }
    forward_drain {
        help: "How long shutdown lets forwarding destinations send what they still queue, after the files are written",
        flag: "forward-drain", value: "DURATION",
        ty: Duration => Duration, default: DEFAULT_FORWARD_DRAIN,
        parse: values::parse_duration, file: file::duration,
        apply: |b, v| b.forward_drain(*v),
    }
}

/// A help line with its default: `TEXT [default: SHOWN]`; just `TEXT`
/// when `shown` is empty (a setting whose help says when it is required).
fn help_line(text: &str, shown: &str) -> String {
    if shown.is_empty() {
        text.to_owned()
    } else {
        format!("{text} [default: {shown}]")
    }
}

/// Calls `apply` on the builder and the value (so the table's closures get
/// their argument types from here).
fn call<T>(b: Builder, value: &T, apply: impl FnOnce(Builder, &T) -> Builder) -> Builder {
    apply(b, value)
}

/// `set(b, value)` when the value is given; `b` unchanged otherwise (the
/// library's default applies).
fn set<T: Clone>(
    b: Builder,
    value: &Option<T>,
    set: impl FnOnce(Builder, T) -> Builder,
) -> Builder {
    match value {
        Some(value) => set(b, value.clone()),
        None => b,
    }
}

/// A default as `--help` shows it, in the spelling the flag takes.
trait Show {
    /// The text after `[default: `.
    fn show(&self) -> String;
}

impl Show for bool {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Show for usize {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Show for u32 {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Show for u64 {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Show for String {
    /// Quoted when empty or with spaces, as clap shows such values.
    fn show(&self) -> String {
        if self.is_empty() || self.contains(char::is_whitespace) {
            format!("{self:?}")
        } else {
            self.clone()
        }
    }
}

impl Show for PathBuf {
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl Show for Level {
    fn show(&self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

impl Show for FileMode {
    fn show(&self) -> String {
        match self {
            FileMode::Append => "append".to_owned(),
            FileMode::Truncate => "truncate".to_owned(),
        }
    }
}

impl Show for When {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Show for Duration {
    /// In the largest unit `--max-age` takes that divides it: `5s`, `10m`.
    fn show(&self) -> String {
        let secs = self.as_secs();
        let unit = [(7 * 86_400, "w"), (86_400, "d"), (3600, "h"), (60, "m")]
            .into_iter()
            .find(|(n, _)| secs > 0 && secs % n == 0);
        match unit {
            Some((n, unit)) => format!("{}{unit}", secs / n),
            None => format!("{secs}s"),
        }
    }
}

impl<T: Show> Show for Option<T> {
    /// `none` when absent.
    fn show(&self) -> String {
        match self {
            Some(value) => value.show(),
            None => "none".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_shown_the_way_the_flags_take_them() {
        assert_eq!(Duration::from_secs(5).show(), "5s");
        assert_eq!(Duration::from_secs(600).show(), "10m");
        assert_eq!(Duration::from_secs(14 * 86_400).show(), "2w");
        assert_eq!(Level::TRACE.show(), "trace");
        assert_eq!(String::new().show(), "\"\"");
        assert_eq!(None::<PathBuf>.show(), "none");
        for (text, value) in [("5s", 5), ("10m", 600), ("2w", 14 * 86_400)] {
            assert_eq!(values::parse_duration(text), Ok(Duration::from_secs(value)));
        }
    }

    #[test]
    fn every_key_is_read_from_the_file_or_has_merge_rules_of_its_own() {
        let lists = [
            "listen",
            "python-listen",
            "process-key",
            "format",
            "alert",
            "forward",
        ];
        let mut v = Values::default();
        for key in KEYS {
            let handled = v.read_key(key, &toml::Value::Boolean(true)).is_some();
            assert_eq!(handled, !lists.contains(key), "{key}");
        }
    }
}
