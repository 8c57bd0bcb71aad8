//! Everything that stops `mplog-sink`, with its exit status.

use std::io;
use std::path::PathBuf;

use crate::config::Setting;

/// Exit status of a usage error: bad flag, bad config file, invalid setting
/// (the status clap uses for bad flags).
pub(crate) const EXIT_USAGE: i32 = 2;
/// Exit status of a runtime error: log folder, socket, shutdown.
pub(crate) const EXIT_RUNTIME: i32 = 1;

/// Why `mplog-sink` stopped. Each variant names the flag, config key or
/// path at fault.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The config file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ConfigRead {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The config file is not valid TOML (the message has line and column).
    #[error("config file {} is not valid TOML: {message}", path.display())]
    ConfigSyntax { path: PathBuf, message: String },
    /// A key of the config file is none of the flags.
    #[error(
        "config file {}: unknown key `{key}` (keys are the flag names: {})",
        path.display(),
        crate::config::KEYS.join(", ")
    )]
    UnknownKey { path: PathBuf, key: String },
    /// One key given in both spellings.
    #[error("config file {}: key `{key}` given twice, as `{first}` and `{second}`", path.display())]
    DuplicateKey {
        path: PathBuf,
        key: &'static str,
        first: String,
        second: String,
    },
    /// A key of the config file has a value of the wrong type or shape.
    #[error("config file {}: key `{key}` = {value}: {reason}", path.display())]
    BadValue {
        path: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    /// An `[[alert]]` table of the config file is invalid.
    #[error("config file {}: alert `{rule}`: key `{key}`: {reason}", path.display())]
    Alert {
        path: PathBuf,
        rule: String,
        key: String,
        reason: String,
    },
    /// `mplog-sink status` found no sink answering.
    #[error("no sink answers at {addr}: {reason}")]
    NoSink { addr: String, reason: String },
    /// Neither the command line nor the config file gives the endpoint.
    #[error(
        "no endpoint: give --listen unix:PATH (or tcp://HOST:PORT, tls://HOST:PORT) or `listen` in the config file"
    )]
    MissingListen,
    /// A setting is invalid on its own or together with others.
    #[error("{setting}: {reason}")]
    Invalid { setting: Setting, reason: String },
    /// Local time is asked for (no `--utc`) but `TZ` names no zone.
    #[error("{source} (set TZ to a zone name, a TZif path or a POSIX rule, or pass --utc)")]
    Zone {
        #[source]
        source: tracing_mplog_sink::zone::ZoneError,
    },
    /// SIGTERM/SIGINT could not be caught.
    #[error("cannot catch SIGTERM/SIGINT: {source}")]
    Signals {
        #[source]
        source: io::Error,
    },
    /// The sink could not start (log folder, socket, threads).
    #[error("{source}")]
    Start {
        #[source]
        source: tracing_mplog_sink::SinkError,
    },
    /// The drain at shutdown failed.
    #[error("shutdown: {source}")]
    Shutdown {
        #[source]
        source: tracing_mplog_sink::SinkError,
    },
}

impl CliError {
    /// The process exit status for this error.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            CliError::ConfigRead { .. }
            | CliError::ConfigSyntax { .. }
            | CliError::UnknownKey { .. }
            | CliError::DuplicateKey { .. }
            | CliError::BadValue { .. }
            | CliError::Alert { .. }
            | CliError::MissingListen
            | CliError::Invalid { .. }
            | CliError::Zone { .. } => EXIT_USAGE,
            CliError::Signals { .. }
            | CliError::Start { .. }
            | CliError::Shutdown { .. }
            | CliError::NoSink { .. } => EXIT_RUNTIME,
        }
    }
}
