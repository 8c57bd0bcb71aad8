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
    "echo",
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
    pub(crate) listen: Endpoint,
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
    pub(crate) echo: bool,
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
            "listen" => a.listen = Some(string(value).and_then(args::parse_endpoint).map_err(bad)?),
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
            "echo" => a.echo = Some(boolean(value).map_err(bad)?),
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

    let listen = pick!(listen, "listen").ok_or(CliError::MissingListen)?;
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
    let echo = pick!(echo, "echo").unwrap_or(false);

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
        echo,
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
    let mut builder = LevelFormatter::builder().process_name("mplog-sink");
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
mod tests {
    use super::*;
    use clap::Parser;

    fn flags(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("mplog-sink").chain(args.iter().copied()))
            .expect("valid command line")
    }

    fn file(text: &str) -> Result<Args, CliError> {
        parse_file(Path::new("test.toml"), text)
    }

    fn resolve_with(args: &[&str], text: &str) -> Result<Config, CliError> {
        let file = file(text)?;
        resolve(flags(args), Some((PathBuf::from("test.toml"), file)))
    }

    const FULL: &str = r#"
        listen = "unix:/tmp/from-file.sock"
        logdir = "file-logs"
        name = "fromfile"
        consolidate = true
        process-key = ["pid", "host"]
        file-prefix = "pre-"
        file_suffix = "-suf"
        file-mode = "truncate"
        when = "midnight"
        interval = 2
        at-time = "03:30"
        utc = true
        max-bytes = "10M"
        backup_count = 5
        max-age = "7d"
        compress = true
        datefmt = "%H:%M:%S"
        level = "info"
        echo = true
        [format]
        info = "I %(message)s"
        default = "D %(message)s"
    "#;

    #[test]
    fn defaults_when_nothing_but_listen_is_given() {
        let c = resolve(flags(&["--listen", "unix:/tmp/a.sock"]), None).expect("valid");
        assert_eq!(c.listen, Endpoint::Unix("/tmp/a.sock".into()));
        assert_eq!(c.logdir, PathBuf::from("logs"));
        assert_eq!(c.name, "mplog");
        assert!(!c.consolidate && !c.utc && !c.compress && !c.echo);
        assert_eq!(c.process_key, vec![ProcessKey::Name]);
        assert_eq!((c.file_prefix.as_str(), c.file_suffix.as_str()), ("", ""));
        assert_eq!(c.file_mode, FileMode::Append);
        assert_eq!((c.when, c.interval, c.at_time), (When::Never, 1, None));
        assert_eq!((c.max_bytes, c.backup_count, c.max_age), (0, 0, None));
        assert_eq!((c.datefmt.clone(), c.formats.len()), (None, 0));
        assert_eq!(c.level, Level::TRACE);
        assert_eq!(c.setting("max_bytes").source, Source::Default);
        assert_eq!(c.setting("max_bytes").to_string(), "--max-bytes (default)");
        assert_eq!(c.setting("drain_timeout").source, Source::Internal);
        assert_eq!(
            c.setting("drain_timeout").to_string(),
            "sink setting `drain-timeout`"
        );
    }

    #[test]
    fn the_file_sets_every_key_in_either_spelling() {
        let c = resolve_with(&[], FULL).expect("valid file");
        assert_eq!(c.listen, Endpoint::Unix("/tmp/from-file.sock".into()));
        assert_eq!(c.logdir, PathBuf::from("file-logs"));
        assert_eq!(c.name, "fromfile");
        assert!(c.consolidate && c.utc && c.compress && c.echo);
        assert_eq!(c.process_key, vec![ProcessKey::Pid, ProcessKey::Host]);
        assert_eq!(
            (c.file_prefix.as_str(), c.file_suffix.as_str()),
            ("pre-", "-suf")
        );
        assert_eq!(c.file_mode, FileMode::Truncate);
        assert_eq!((c.when, c.interval), (When::Midnight, 2));
        assert_eq!(c.at_time, Time::from_hms(3, 30, 0).ok());
        assert_eq!((c.max_bytes, c.backup_count), (10 << 20, 5));
        assert_eq!(c.max_age, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(c.datefmt.as_deref(), Some("%H:%M:%S"));
        assert_eq!(
            c.formats,
            vec![
                (FormatLevel::Info, "I %(message)s".to_owned()),
                (FormatLevel::Default, "D %(message)s".to_owned())
            ]
        );
        assert_eq!(c.level, Level::INFO);
        assert_eq!(
            c.setting("backup_count").source,
            Source::File(PathBuf::from("test.toml"))
        );

        // The other spelling of every two-word key.
        let underscored = FULL
            .lines()
            .map(|line| match line.split_once(" = ") {
                Some((k, v)) => format!("{} = {v}", k.replace('-', "_")),
                None => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(underscored.contains("max_bytes") && underscored.contains("file_prefix"));
        let d = resolve_with(&[], &underscored).expect("underscored keys");
        assert_eq!(
            (d.max_bytes, d.backup_count, d.max_age),
            (c.max_bytes, c.backup_count, c.max_age)
        );
        assert_eq!(
            (d.file_prefix, d.file_suffix, d.file_mode),
            (c.file_prefix, c.file_suffix, c.file_mode)
        );
        assert_eq!((d.at_time, d.process_key), (c.at_time, c.process_key));
    }

    #[test]
    fn flags_override_the_file() {
        let c = resolve_with(
            &[
                "--listen=unix:/tmp/flag.sock",
                "--max-bytes=1KiB",
                "--consolidate=false",
                "--process-key=none",
                "--format=info=F %(message)s",
                "--level=error",
            ],
            FULL,
        )
        .expect("valid");
        assert_eq!(c.listen, Endpoint::Unix("/tmp/flag.sock".into()));
        assert_eq!(c.max_bytes, 1024);
        assert!(!c.consolidate);
        assert_eq!(c.process_key, vec![]);
        assert_eq!(c.level, Level::ERROR);
        // --format replaced the file's `info`, kept its `default`.
        assert_eq!(
            c.formats,
            vec![
                (FormatLevel::Info, "F %(message)s".to_owned()),
                (FormatLevel::Default, "D %(message)s".to_owned())
            ]
        );
        // Untouched keys still come from the file.
        assert_eq!(c.name, "fromfile");
        assert_eq!(c.backup_count, 5);
        assert_eq!(c.setting("max-bytes").source, Source::Flag);
        assert_eq!(c.setting("max_bytes").to_string(), "--max-bytes");
        assert_eq!(
            c.setting("backup_count").to_string(),
            "config file test.toml: key `backup-count`"
        );
        assert_eq!(c.setting("format.info").source, Source::Flag);
        assert_eq!(
            c.setting("format.default").source,
            Source::File(PathBuf::from("test.toml"))
        );
    }

    #[test]
    fn a_single_process_key_string_works() {
        let c = resolve_with(&[], "listen = \"unix:/x\"\nprocess-key = \"target\"").expect("valid");
        assert_eq!(c.process_key, vec![ProcessKey::Target]);
        let c = resolve_with(&[], "listen = \"unix:/x\"\nprocess_key = \"none\"").expect("valid");
        assert_eq!(c.process_key, vec![]);
        let c = resolve_with(
            &[],
            "listen = \"unix:/x\"\nat-time = 04:15:00\nwhen = \"W0\"",
        )
        .expect("TOML local time");
        assert_eq!(c.at_time, Time::from_hms(4, 15, 0).ok());
    }

    #[test]
    fn unknown_key_is_named() {
        let err = file("listen = \"unix:/x\"\nmax-byte = 3").expect_err("unknown key");
        assert!(
            matches!(&err, CliError::UnknownKey { key, .. } if key == "max-byte"),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("max-byte") && text.contains("test.toml"),
            "{text}"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn both_spellings_of_one_key_are_refused() {
        let err = file("max-bytes = 1\nmax_bytes = 2").expect_err("duplicate");
        let text = err.to_string();
        assert!(
            text.contains("max-bytes") && text.contains("max_bytes"),
            "{text}"
        );
    }

    #[test]
    fn bad_values_name_the_key_and_the_value() {
        for (text, key, value) in [
            ("max-bytes = \"10X\"", "max-bytes", "\"10X\""),
            ("max_bytes = -5", "max_bytes", "-5"),
            ("max-age = \"3y\"", "max-age", "\"3y\""),
            ("max-age = 0", "max-age", "0"),
            ("interval = 0", "interval", "0"),
            ("at-time = \"25:00\"", "at-time", "\"25:00\""),
            (
                "process-key = [\"pid\", \"none\"]",
                "process-key",
                "an array",
            ),
            ("process-key = \"thread\"", "process-key", "\"thread\""),
            ("consolidate = \"yes\"", "consolidate", "\"yes\""),
            ("level = \"loud\"", "level", "\"loud\""),
            ("when = \"W9\"", "when", "\"W9\""),
            ("file-mode = 1", "file-mode", "1"),
            ("listen = \"tcp://h:1\"", "listen", "\"tcp://h:1\""),
            ("format = \"x\"", "format", "\"x\""),
            ("format = { fatal = \"x\" }", "format", "a table"),
            ("backup-count = 1.5", "backup-count", "1.5"),
        ] {
            let err = file(text).expect_err(text);
            match &err {
                CliError::BadValue {
                    key: k, value: v, ..
                } => {
                    assert_eq!((k.as_str(), v.as_str()), (key, value), "{text}");
                }
                other => panic!("{text}: expected BadValue, got {other:?}"),
            }
            let shown = err.to_string();
            assert!(shown.contains(key) && shown.contains(value), "{shown}");
        }
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let err = file("listen = ").expect_err("syntax");
        assert!(matches!(err, CliError::ConfigSyntax { .. }), "{err:?}");
        assert!(err.to_string().contains("test.toml"));
    }

    #[test]
    fn listen_is_required_somewhere() {
        let err = resolve(flags(&[]), None).expect_err("no listen");
        assert!(matches!(err, CliError::MissingListen));
        assert!(err.to_string().contains("--listen"));
        assert_eq!(err.exit_code(), 2);
        resolve_with(&[], "listen = \"unix:/x\"").expect("listen from the file");
    }

    #[test]
    fn bad_templates_are_named_after_their_source() {
        let err = resolve_with(&["--format", "warn=%(nope)s"], "listen = \"unix:/x\"")
            .expect_err("unknown placeholder");
        let text = err.to_string();
        assert!(
            text.starts_with("--format warn:") && text.contains("nope"),
            "{text}"
        );

        let err = resolve_with(&[], "listen = \"unix:/x\"\n[format]\nerror = \"%(nope)s\"")
            .expect_err("unknown placeholder");
        let text = err.to_string();
        assert!(
            text.contains("key `format.error`") && text.contains("nope"),
            "{text}"
        );

        let err = resolve_with(&["--datefmt", "%Q"], "listen = \"unix:/x\"").expect_err("datefmt");
        assert!(err.to_string().starts_with("--datefmt:"), "{err}");

        let err = resolve_with(
            &["--format", "info=a", "--format", "INFO=b"],
            "listen = \"unix:/x\"",
        )
        .expect_err("twice");
        assert!(err.to_string().contains("twice"), "{err}");
    }
}
