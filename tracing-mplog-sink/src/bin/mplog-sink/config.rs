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
//!
//! The single-valued settings are declared once, in [`crate::settings`];
//! this module reads the file and merges the lists.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use tracing_mplog::Endpoint;
use tracing_mplog_sink::format::LineFormat;
use tracing_mplog_sink::sink::{AlertRule, DEFAULT_PROCESS_KEYS};
use tracing_mplog_sink::{FormatLevel, LevelFormatter, ProcessKey};

use crate::args::{Args, Given};
use crate::error::CliError;
use crate::file_values::{self as file, describe};
pub(crate) use crate::settings::{Config, KEYS};
use crate::values::{self, FormatArg, KeyArg};

#[cfg(test)]
use {
    std::time::Duration,
    time::Time,
    tracing::Level,
    tracing_mplog_sink::rotate::{FileMode, When},
};

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

/// Where the values of a [`Config`] came from: the command line as clap
/// parsed it, and the keys the config file set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    /// The flags clap saw on the command line.
    given: Given,
    /// The levels `--format` gave a template.
    flag_formats: Vec<FormatLevel>,
    /// The config file and the keys it set (`format.info` for a template).
    file: Option<(PathBuf, BTreeSet<String>)>,
}

impl Sources {
    /// The setting `key` (flag spelling, or a builder field name such as
    /// `max_age`), named after where its value came from.
    pub(crate) fn setting(&self, key: &str) -> Setting {
        let key = key.replace('_', "-");
        let from_flag = match key.strip_prefix("format.") {
            Some(level) => self.flag_formats.iter().any(|l| l.to_string() == level),
            None => self.given.contains(&key),
        };
        let known = KEYS.contains(&key.as_str()) || key.starts_with("format.");
        let source = match &self.file {
            _ if from_flag => Source::Flag,
            Some((path, keys)) if keys.contains(&key) => Source::File(path.clone()),
            _ if known => Source::Default,
            _ => Source::Internal,
        };
        Setting { key, source }
    }
}

impl Config {
    /// The setting `key` (flag spelling, or a builder field name such as
    /// `max_age`), named after where its value came from.
    pub(crate) fn setting(&self, key: &str) -> Setting {
        self.sources.setting(key)
    }
}

/// The settings with merge rules of their own, merged.
#[derive(Debug)]
pub(crate) struct Lists {
    /// `--listen`: the flags' list, else the file's.
    pub(crate) listen: Vec<Endpoint>,
    /// `--python-listen`: the flags' list, else the file's.
    pub(crate) python_listen: Vec<Endpoint>,
    /// `--process-key`: the flags' list, else the file's, else the default.
    pub(crate) process_key: Vec<ProcessKey>,
    /// The file's templates, each level `--format` gives replaced.
    pub(crate) formats: Vec<(FormatLevel, String)>,
    /// `--format json|text`, else the file's `format = "json"`, else text.
    pub(crate) line_format: LineFormat,
    /// The file's `[[alert]]` rules.
    pub(crate) alerts: Vec<AlertRule>,
    /// `--forward`: the flags' list, else the file's.
    pub(crate) forward: Vec<tracing_mplog_sink::forward::Destination>,
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

/// The config file being read into an [`Args`].
struct FileReader<'a> {
    path: &'a Path,
    args: Args,
    /// Canonical key → the spelling used, to refuse `max-bytes` and
    /// `max_bytes` in one file.
    seen: BTreeMap<&'static str, String>,
}

impl FileReader<'_> {
    /// Reads one key: a list here, a single value by its table entry.
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
            "listen" => a.listen = file::endpoints(value).map_err(bad)?,
            "python-listen" => a.python_listen = file::endpoints(value).map_err(bad)?,
            "process-key" => a.process_key = file::process_keys(value).map_err(bad)?,
            "format" => a.format = file::formats(value).map_err(bad)?,
            "alert" => a.alerts = crate::alerts::parse(self.path, value)?,
            "forward" => a.forward = crate::forwards::parse(value).map_err(bad)?,
            single => match a.values.read_key(single, value) {
                Some(read) => read.map_err(bad)?,
                None => unreachable!("key `{single}` is in KEYS but not in the table"),
            },
        }
        Ok(())
    }
}

impl Args {
    /// The keys this (config file's) `Args` sets, `format.LEVEL` for each
    /// template.
    fn keys_set(&self) -> BTreeSet<String> {
        let lists = [
            ("listen", !self.listen.is_empty()),
            ("python-listen", !self.python_listen.is_empty()),
            ("process-key", !self.process_key.is_empty()),
            ("format", !self.format.is_empty()),
            ("alert", !self.alerts.is_empty()),
            ("forward", !self.forward.is_empty()),
        ];
        let lists = lists.into_iter().filter(|(_, set)| *set).map(|(k, _)| k);
        let formats = self.format.iter().filter_map(|f| match f {
            FormatArg::Template(level, _) => Some(format_key(*level)),
            FormatArg::Lines(_) => None,
        });
        (lists.chain(self.values.keys_set()).map(str::to_owned))
            .chain(formats)
            .collect()
    }
}

/// Merges the command line over the config file (if any) over the
/// defaults, and checks what can only be checked on the whole: the
/// endpoint is given, the process keys fit together, the templates and the
/// `datefmt` compile.
pub(crate) fn resolve(flags: Args, file: Option<(PathBuf, Args)>) -> Result<Config, CliError> {
    let (file, path) = match file {
        Some((path, args)) => (args, Some(path)),
        None => (Args::default(), None),
    };
    let sources = Sources {
        given: flags.given.clone(),
        flag_formats: (flags.format.iter())
            .filter_map(|f| match f {
                FormatArg::Template(level, _) => Some(*level),
                FormatArg::Lines(_) => None,
            })
            .collect(),
        file: path.map(|path| (path, file.keys_set())),
    };
    let listen = either(flags.listen, file.listen);
    if listen.is_empty() {
        return Err(CliError::MissingListen);
    }
    let process_key = process_keys(&flags.process_key, &file.process_key, &sources)?;
    let lists = Lists {
        listen,
        python_listen: either(flags.python_listen, file.python_listen),
        process_key,
        line_format: line_format(&flags.format, &file.format),
        formats: merge_formats(flags.format, file.format, &sources)?,
        alerts: file.alerts,
        forward: either(flags.forward, file.forward),
    };
    let config = Config::assemble(lists, flags.values, file.values, sources);
    check_formats(&config)?;
    Ok(config)
}

/// A list given on the command line replaces the file's.
fn either<T>(flags: Vec<T>, file: Vec<T>) -> Vec<T> {
    if flags.is_empty() { file } else { flags }
}

/// The flags' `--process-key` list, else the file's, else the default;
/// `none` mixed with keys, or a key twice, is refused.
fn process_keys(
    flags: &[KeyArg],
    file: &[KeyArg],
    sources: &Sources,
) -> Result<Vec<ProcessKey>, CliError> {
    let given = if flags.is_empty() { file } else { flags };
    if given.is_empty() {
        return Ok(DEFAULT_PROCESS_KEYS.to_vec());
    }
    values::resolve_process_keys(given).map_err(|reason| CliError::Invalid {
        setting: sources.setting("process-key"),
        reason,
    })
}

/// How the lines are written: the last `--format json|text`, else the
/// file's, else text.
fn line_format(flags: &[FormatArg], file: &[FormatArg]) -> LineFormat {
    let last = |args: &[FormatArg]| {
        args.iter().rev().find_map(|f| match f {
            FormatArg::Lines(l) => Some(*l),
            FormatArg::Template(..) => None,
        })
    };
    last(flags).or_else(|| last(file)).unwrap_or_default()
}

/// The file's templates, with those `--format` gives replacing the file's
/// of the same level, in level order. A level given twice on the command
/// line is refused (the file reader refuses it in the file).
fn merge_formats(
    flags: Vec<FormatArg>,
    file: Vec<FormatArg>,
    sources: &Sources,
) -> Result<Vec<(FormatLevel, String)>, CliError> {
    let templates = |args: Vec<FormatArg>| {
        args.into_iter().filter_map(|f| match f {
            FormatArg::Template(level, template) => Some((level, template)),
            FormatArg::Lines(_) => None,
        })
    };
    let mut formats: Vec<(FormatLevel, String)> = templates(file).collect();
    let mut from_flags: Vec<FormatLevel> = Vec::new();
    for (level, template) in templates(flags) {
        if from_flags.contains(&level) {
            return Err(CliError::Invalid {
                setting: sources.setting("format"),
                reason: format!("level `{level}` given twice"),
            });
        }
        from_flags.push(level);
        formats.retain(|(l, _)| *l != level);
        formats.push((level, template));
    }
    formats.sort_by_key(|(level, _)| level_order(*level));
    Ok(formats)
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
