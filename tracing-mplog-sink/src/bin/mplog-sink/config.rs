//! The TOML config file, and merging it with the command line into one
//! resolved [`Config`].
//!
//! The file has the same keys as the flags (`max-bytes` or `max_bytes`);
//! `format` is a table level → template; `process-key` a string or a list.
//! Precedence: a flag given on the command line, then the file, then the
//! default. `--format` overrides the file's template of the same level and
//! keeps the others; `--process-key` replaces the file's whole list.
//! Relative paths in the file are relative to the working directory, as on
//! the command line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::Time;
use tracing::Level;
use tracing_mplog::Endpoint;
use tracing_mplog_sink::rotate::{FileMode, When};
use tracing_mplog_sink::{FormatLevel, LevelFormatter};

use crate::args::{self, Args};
use crate::error::CliError;
use crate::values::{self, KeyArg};
use tracing_mplog_sink::ProcessKey;

/// Every key of the file, in its canonical (flag) spelling.
pub(crate) const KEYS: &[&str] = &[
    "listen",
    "python-listen",
    "logdir",
    "name",
    "consolidate",
    "process-key",
    "file-prefix",
    "file-suffix",
    "file-mode",
    "when",
    "interval",
    "at-time",
    "utc",
    "max-bytes",
    "backup-count",
    "max-age",
    "compress",
    "datefmt",
    "format",
    "level",
    "consolidated-level",
    "per-key-level",
    "echo-level",
    "echo",
    "tls-cert",
    "tls-key",
    "tls-client-ca",
    "token-file",
    "insecure",
    "max-connections",
    "max-open-files",
    "metrics-listen",
    "alert",
    "forward",
    "forward-drain",
];

/// Where a setting's value came from, to name it in an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// The command line (`--key`).
    Flag,
    /// The config file at this path (key `key`).
    File(PathBuf),
    /// Nobody set it: the default.
    Default,
    /// A setting of the sink that has no flag.
    Internal,
}

/// A setting named the way its source spells it: `--max-bytes`, or key
/// `max-bytes` of config file `x.toml`, or the default of `--max-bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The key, in its flag spelling (`max-bytes`, `format.info`).
    pub(crate) key: String,
    /// Where its value came from.
    pub(crate) source: Source,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Flag => write!(f, "--{}", self.key.replace('.', " ")),
            Source::File(path) => {
                write!(f, "config file {}: key `{}`", path.display(), self.key)
            }
            Source::Default => write!(f, "--{} (default)", self.key),
            Source::Internal => write!(f, "sink setting `{}`", self.key),
        }
    }
}

/// Every setting of the sink, resolved: command line over file over
/// defaults. The defaults are those of `Sink::builder()`.
#[derive(Debug, Clone)]
#[allow(
    dead_code,
    reason = "read by the sink wiring, which lands with the sink library"
)]
pub(crate) struct Config {
    /// At least one.
    pub(crate) listen: Vec<Endpoint>,
    /// Endpoints for Python's `SocketHandler` (maybe none).
    pub(crate) python_listen: Vec<Endpoint>,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    pub(crate) tls_client_ca: Option<PathBuf>,
    pub(crate) token_file: Option<PathBuf>,
    pub(crate) insecure: bool,
    pub(crate) max_connections: usize,
    /// `None`: the sink's default (fitted to the descriptor limit).
    pub(crate) max_open_files: Option<usize>,
    pub(crate) logdir: PathBuf,
    pub(crate) name: String,
    pub(crate) consolidate: bool,
    pub(crate) process_key: Vec<ProcessKey>,
    pub(crate) file_prefix: String,
    pub(crate) file_suffix: String,
    pub(crate) file_mode: FileMode,
    pub(crate) when: When,
    pub(crate) interval: u32,
    pub(crate) at_time: Option<Time>,
    pub(crate) utc: bool,
    pub(crate) max_bytes: u64,
    pub(crate) backup_count: usize,
    pub(crate) max_age: Option<Duration>,
    pub(crate) compress: bool,
    pub(crate) datefmt: Option<String>,
    /// The templates given, one per level at most, in level order.
    pub(crate) formats: Vec<(FormatLevel, String)>,
    pub(crate) level: Level,
    /// Stricter thresholds of single outputs, if given.
    pub(crate) consolidated_level: Option<Level>,
    pub(crate) per_key_level: Option<Level>,
    pub(crate) echo_level: Option<Level>,
    pub(crate) echo: bool,
    /// `GET /metrics` on this address, if given.
    pub(crate) metrics_listen: Option<String>,
    /// The config file's `[[alert]]` rules.
    pub(crate) alerts: Vec<tracing_mplog_sink::sink::AlertRule>,
    /// Forwarding destinations (`--forward` replaces the file's list).
    pub(crate) forward: Vec<tracing_mplog_sink::forward::Destination>,
    pub(crate) forward_drain: Option<Duration>,
    /// Where each key's value came from (keys absent: the default).
    sources: BTreeMap<String, Source>,
}

impl Config {
    /// The setting `key` (flag spelling, or a builder field name such as
    /// `max_age`), named after where its value came from.
    pub(crate) fn setting(&self, key: &str) -> Setting {
        let key = key.replace('_', "-");
        let known = KEYS.contains(&key.as_str()) || key.starts_with("format.");
        let source = match self.sources.get(&key) {
            Some(source) => source.clone(),
            None if known => Source::Default,
            None => Source::Internal,
        };
        Setting { key, source }
    }
}

/// Reads the config file at `path` into the same shape as the command line.
pub(crate) fn load_file(path: &Path) -> Result<Args, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::ConfigRead {
        path: path.to_owned(),
        source,
    })?;
    parse_file(path, &text)
}

/// Parses config file text (`path` only names it in errors).
pub(crate) fn parse_file(path: &Path, text: &str) -> Result<Args, CliError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| CliError::ConfigSyntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
    let mut file = FileReader {
        path,
        args: Args::default(),
        seen: BTreeMap::new(),
    };
    for (key, value) in &table {
        file.set(key, value)?;
    }
    Ok(file.args)
}

struct FileReader<'a> {
    path: &'a Path,
    args: Args,
    /// Canonical key → the spelling used, to refuse `max-bytes` and
    /// `max_bytes` in one file.
    seen: BTreeMap<&'static str, String>,
}

impl FileReader<'_> {
    fn set(&mut self, raw_key: &str, value: &toml::Value) -> Result<(), CliError> {
        let canonical = raw_key.replace('_', "-");
        let Some(&key) = KEYS.iter().find(|k| **k == canonical) else {
            return Err(CliError::UnknownKey {
                path: self.path.to_owned(),
                key: raw_key.to_owned(),
            });
        };
        if let Some(first) = self.seen.insert(key, raw_key.to_owned()) {
            return Err(CliError::DuplicateKey {
                path: self.path.to_owned(),
                key,
                first,
                second: raw_key.to_owned(),
            });
        }
        let bad = |reason: String| CliError::BadValue {
            path: self.path.to_owned(),
            key: raw_key.to_owned(),
            value: describe(value),
            reason,
        };
        let a = &mut self.args;
        match key {
            "listen" => a.listen = endpoints(value).map_err(bad)?,
            "python-listen" => a.python_listen = endpoints(value).map_err(bad)?,
            "tls-cert" => a.tls_cert = Some(string(value).map(PathBuf::from).map_err(bad)?),
            "tls-key" => a.tls_key = Some(string(value).map(PathBuf::from).map_err(bad)?),
            "tls-client-ca" => {
                a.tls_client_ca = Some(string(value).map(PathBuf::from).map_err(bad)?);
            }
            "token-file" => a.token_file = Some(string(value).map(PathBuf::from).map_err(bad)?),
            "insecure" => a.insecure = Some(boolean(value).map_err(bad)?),
            "max-connections" => a.max_connections = Some(max_connections(value).map_err(bad)?),
            "max-open-files" => a.max_open_files = Some(max_connections(value).map_err(bad)?),
            "logdir" => a.logdir = Some(string(value).map(PathBuf::from).map_err(bad)?),
            "name" => a.name = Some(string(value).map_err(bad)?.to_owned()),
            "consolidate" => a.consolidate = Some(boolean(value).map_err(bad)?),
            "process-key" => a.process_key = process_keys(value).map_err(bad)?,
            "file-prefix" => a.file_prefix = Some(string(value).map_err(bad)?.to_owned()),
            "file-suffix" => a.file_suffix = Some(string(value).map_err(bad)?.to_owned()),
            "file-mode" => {
                a.file_mode = Some(
                    string(value)
                        .and_then(values::parse_file_mode)
                        .map_err(bad)?,
                );
            }
            "when" => a.when = Some(string(value).and_then(values::parse_when).map_err(bad)?),
            "interval" => a.interval = Some(interval(value).map_err(bad)?),
            "at-time" => a.at_time = Some(at_time(value).map_err(bad)?),
            "utc" => a.utc = Some(boolean(value).map_err(bad)?),
            "max-bytes" => a.max_bytes = Some(max_bytes(value).map_err(bad)?),
            "backup-count" => a.backup_count = Some(backup_count(value).map_err(bad)?),
            "max-age" => a.max_age = Some(max_age(value).map_err(bad)?),
            "compress" => a.compress = Some(boolean(value).map_err(bad)?),
            "datefmt" => a.datefmt = Some(string(value).map_err(bad)?.to_owned()),
            "format" => a.format = formats(value).map_err(bad)?,
            "level" => a.level = Some(string(value).and_then(values::parse_level).map_err(bad)?),
            "consolidated-level" => {
                a.consolidated_level =
                    Some(string(value).and_then(values::parse_level).map_err(bad)?);
            }
            "per-key-level" => {
                a.per_key_level = Some(string(value).and_then(values::parse_level).map_err(bad)?);
            }
            "echo-level" => {
                a.echo_level = Some(string(value).and_then(values::parse_level).map_err(bad)?);
            }
            "echo" => a.echo = Some(boolean(value).map_err(bad)?),
            "metrics-listen" => a.metrics_listen = Some(string(value).map_err(bad)?.to_owned()),
            "alert" => a.alerts = crate::alerts::parse(self.path, value)?,
            "forward" => a.forward = crate::forwards::parse(value).map_err(bad)?,
            "forward-drain" => a.forward_drain = Some(max_age(value).map_err(bad)?),
            other => unreachable!("key `{other}` is in KEYS but not handled"),
        }
        Ok(())
    }
}

/// A value as it would be written in the file, for error messages.
fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) => "an array".to_owned(),
        toml::Value::Table(_) => "a table".to_owned(),
    }
}

fn string(value: &toml::Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, found {}", value.type_str()))
}

fn boolean(value: &toml::Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("expected true or false, found {}", value.type_str()))
}

fn interval(value: &toml::Value) -> Result<u32, String> {
    match value {
        toml::Value::Integer(n) => values::check_interval(*n),
        toml::Value::String(s) => values::parse_interval(s),
        other => Err(format!(
            "expected a whole number ≥ 1, found {}",
            other.type_str()
        )),
    }
}

fn backup_count(value: &toml::Value) -> Result<usize, String> {
    match value {
        toml::Value::Integer(n) => {
            usize::try_from(*n).map_err(|_| "must not be negative".to_owned())
        }
        other => Err(format!(
            "expected a whole number ≥ 0, found {}",
            other.type_str()
        )),
    }
}

fn max_bytes(value: &toml::Value) -> Result<u64, String> {
    match value {
        toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| "must not be negative".to_owned()),
        toml::Value::String(s) => values::parse_size(s),
        other => Err(format!(
            "expected a number of bytes or a string such as \"10M\", found {}",
            other.type_str()
        )),
    }
}

fn max_age(value: &toml::Value) -> Result<Duration, String> {
    match value {
        toml::Value::Integer(n) => values::parse_duration(&n.to_string()),
        toml::Value::String(s) => values::parse_duration(s),
        other => Err(format!(
            "expected seconds or a string such as \"7d\", found {}",
            other.type_str()
        )),
    }
}

/// `"03:30"` or a TOML local time `03:30:00`.
fn at_time(value: &toml::Value) -> Result<Time, String> {
    match value {
        toml::Value::String(s) => values::parse_at_time(s),
        toml::Value::Datetime(d) if d.date.is_none() && d.offset.is_none() => {
            values::parse_at_time(&d.to_string())
        }
        other => Err(format!(
            "expected \"HH:MM[:SS]\", found {}",
            other.type_str()
        )),
    }
}

/// A string (one endpoint) or a list of endpoints.
fn endpoints(value: &toml::Value) -> Result<Vec<Endpoint>, String> {
    match value {
        toml::Value::String(s) => Ok(vec![args::parse_endpoint(s)?]),
        toml::Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| string(item).and_then(args::parse_endpoint))
            .collect(),
        other => Err(format!(
            "expected an endpoint or a non-empty list of endpoints, found {}",
            other.type_str()
        )),
    }
}

fn max_connections(value: &toml::Value) -> Result<usize, String> {
    match value {
        toml::Value::Integer(n) => match usize::try_from(*n) {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err("expected a whole number ≥ 1".to_owned()),
        },
        other => Err(format!(
            "expected a whole number ≥ 1, found {}",
            other.type_str()
        )),
    }
}

/// A string (one key or `none`) or a list of keys.
fn process_keys(value: &toml::Value) -> Result<Vec<KeyArg>, String> {
    let keys = match value {
        toml::Value::String(s) => vec![values::parse_process_key(s)?],
        toml::Value::Array(items) => items
            .iter()
            .map(|item| string(item).and_then(values::parse_process_key))
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "expected a string or a list of strings, found {}",
                other.type_str()
            ));
        }
    };
    values::resolve_process_keys(&keys)?;
    Ok(keys)
}

/// A table level → template.
fn formats(value: &toml::Value) -> Result<Vec<(FormatLevel, String)>, String> {
    let toml::Value::Table(table) = value else {
        return Err(format!(
            "expected a table such as {{ info = \"%(message)s\" }}, found {}",
            value.type_str()
        ));
    };
    let mut out: Vec<(FormatLevel, String)> = Vec::with_capacity(table.len());
    for (level_text, template) in table {
        let level = values::parse_format_level(level_text)?;
        let template = string(template).map_err(|e| format!("level `{level_text}`: {e}"))?;
        if out.iter().any(|(l, _)| *l == level) {
            return Err(format!("level `{level}` given twice"));
        }
        out.push((level, template.to_owned()));
    }
    Ok(out)
}

/// Merges the command line over the config file (if any) over the
/// defaults, and checks what can only be checked on the whole: the
/// endpoint is given, the process keys fit together, the templates and the
/// `datefmt` compile.
pub(crate) fn resolve(flags: Args, file: Option<(PathBuf, Args)>) -> Result<Config, CliError> {
    let (file_path, file) = match file {
        Some((path, args)) => (Some(path), args),
        None => (None, Args::default()),
    };
    let mut sources = BTreeMap::new();
    let file_source = || {
        file_path
            .clone()
            .map(Source::File)
            .unwrap_or(Source::Default)
    };
    macro_rules! pick {
        ($field:ident, $key:literal) => {{
            match (flags.$field, file.$field) {
                (Some(v), _) => {
                    sources.insert($key.to_owned(), Source::Flag);
                    Some(v)
                }
                (None, Some(v)) => {
                    sources.insert($key.to_owned(), file_source());
                    Some(v)
                }
                (None, None) => None,
            }
        }};
    }

    let listen = if !flags.listen.is_empty() {
        sources.insert("listen".to_owned(), Source::Flag);
        flags.listen
    } else if !file.listen.is_empty() {
        sources.insert("listen".to_owned(), file_source());
        file.listen
    } else {
        return Err(CliError::MissingListen);
    };
    let python_listen = if !flags.python_listen.is_empty() {
        sources.insert("python-listen".to_owned(), Source::Flag);
        flags.python_listen
    } else {
        if !file.python_listen.is_empty() {
            sources.insert("python-listen".to_owned(), file_source());
        }
        file.python_listen
    };
    let tls_cert = pick!(tls_cert, "tls-cert");
    let tls_key = pick!(tls_key, "tls-key");
    let tls_client_ca = pick!(tls_client_ca, "tls-client-ca");
    let token_file = pick!(token_file, "token-file");
    let insecure = pick!(insecure, "insecure").unwrap_or(false);
    let max_connections = pick!(max_connections, "max-connections").unwrap_or(1024);
    let max_open_files = pick!(max_open_files, "max-open-files");
    let logdir = pick!(logdir, "logdir").unwrap_or_else(|| PathBuf::from("logs"));
    let name = pick!(name, "name").unwrap_or_else(|| "mplog".to_owned());
    let consolidate = pick!(consolidate, "consolidate").unwrap_or(false);
    let file_prefix = pick!(file_prefix, "file-prefix").unwrap_or_default();
    let file_suffix = pick!(file_suffix, "file-suffix").unwrap_or_default();
    let file_mode = pick!(file_mode, "file-mode").unwrap_or_default();
    let when = pick!(when, "when").unwrap_or_default();
    let interval = pick!(interval, "interval").unwrap_or(1);
    let at_time = pick!(at_time, "at-time");
    let utc = pick!(utc, "utc").unwrap_or(false);
    let max_bytes = pick!(max_bytes, "max-bytes").unwrap_or(0);
    let backup_count = pick!(backup_count, "backup-count").unwrap_or(0);
    let max_age = pick!(max_age, "max-age");
    let compress = pick!(compress, "compress").unwrap_or(false);
    let datefmt = pick!(datefmt, "datefmt");
    let level = pick!(level, "level").unwrap_or(Level::TRACE);
    let consolidated_level = pick!(consolidated_level, "consolidated-level");
    let per_key_level = pick!(per_key_level, "per-key-level");
    let echo_level = pick!(echo_level, "echo-level");
    let echo = pick!(echo, "echo").unwrap_or(false);
    let metrics_listen = pick!(metrics_listen, "metrics-listen");
    let alerts = file.alerts;
    let forward = if !flags.forward.is_empty() {
        sources.insert("forward".to_owned(), Source::Flag);
        flags.forward
    } else {
        if !file.forward.is_empty() {
            sources.insert("forward".to_owned(), file_source());
        }
        file.forward
    };
    let forward_drain = pick!(forward_drain, "forward-drain");

    let process_key = if !flags.process_key.is_empty() {
        sources.insert("process-key".to_owned(), Source::Flag);
        values::resolve_process_keys(&flags.process_key).map_err(|reason| CliError::Invalid {
            setting: Setting {
                key: "process-key".to_owned(),
                source: Source::Flag,
            },
            reason,
        })?
    } else if !file.process_key.is_empty() {
        sources.insert("process-key".to_owned(), file_source());
        // Checked when the file was read.
        values::resolve_process_keys(&file.process_key).map_err(|reason| CliError::Invalid {
            setting: Setting {
                key: "process-key".to_owned(),
                source: file_source(),
            },
            reason,
        })?
    } else {
        vec![ProcessKey::Name]
    };

    let mut formats: Vec<(FormatLevel, String)> = Vec::new();
    for (level, template) in file.format {
        sources.insert(format_key(level), file_source());
        formats.push((level, template));
    }
    let mut from_flags: Vec<FormatLevel> = Vec::new();
    for (level, template) in flags.format {
        if from_flags.contains(&level) {
            return Err(CliError::Invalid {
                setting: Setting {
                    key: "format".to_owned(),
                    source: Source::Flag,
                },
                reason: format!("level `{level}` given twice"),
            });
        }
        from_flags.push(level);
        sources.insert(format_key(level), Source::Flag);
        formats.retain(|(l, _)| *l != level);
        formats.push((level, template));
    }
    formats.sort_by_key(|(level, _)| level_order(*level));

    let config = Config {
        listen,
        python_listen,
        tls_cert,
        tls_key,
        tls_client_ca,
        token_file,
        insecure,
        max_connections,
        max_open_files,
        logdir,
        name,
        consolidate,
        process_key,
        file_prefix,
        file_suffix,
        file_mode,
        when,
        interval,
        at_time,
        utc,
        max_bytes,
        backup_count,
        max_age,
        compress,
        datefmt,
        formats,
        level,
        consolidated_level,
        per_key_level,
        echo_level,
        echo,
        metrics_listen,
        alerts,
        forward,
        forward_drain,
        sources,
    };
    check_formats(&config)?;
    Ok(config)
}

/// The key of one level's template: `format.info`.
fn format_key(level: FormatLevel) -> String {
    format!("format.{level}")
}

fn level_order(level: FormatLevel) -> u8 {
    match level {
        FormatLevel::Trace => 0,
        FormatLevel::Debug => 1,
        FormatLevel::Info => 2,
        FormatLevel::Warn => 3,
        FormatLevel::Error => 4,
        FormatLevel::Default => 5,
    }
}

/// Compiles the templates and the `datefmt` once, so a mistake is reported
/// against the flag or key that holds it.
fn check_formats(config: &Config) -> Result<(), CliError> {
    // UTC: only the templates are checked here; the zone is checked (and
    // reported against `TZ`) when the sink starts.
    let mut builder = LevelFormatter::builder()
        .process_name("mplog-sink")
        .utc(true);
    for (level, template) in &config.formats {
        builder = builder.format(*level, template.clone());
    }
    if let Some(datefmt) = &config.datefmt {
        builder = builder.datefmt(datefmt.clone());
    }
    match builder.build() {
        Ok(_) => Ok(()),
        Err(error) => {
            let key = match &error {
                tracing_mplog_sink::FormatError::Template { level, .. } => format_key(*level),
                tracing_mplog_sink::FormatError::Datefmt { .. } => "datefmt".to_owned(),
                _ => "format".to_owned(),
            };
            Err(CliError::Invalid {
                setting: config.setting(&key),
                reason: error.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests;
