//! The command line: every flag, its value parser and its help text.
//!
//! Every field is optional here (no clap defaults), so that the config file
//! can fill what the command line leaves out; the defaults are applied in
//! [`crate::config::resolve`] and named in each flag's help.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};
use time::Time;
use tracing::Level;
use tracing_mplog::Endpoint;
use tracing_mplog_sink::FormatLevel;
use tracing_mplog_sink::rotate::{FileMode, When};

use crate::values::{self, KeyArg};

/// Text after the flag list of `--help`.
const AFTER_HELP: &str = "\
Sizes: plain bytes or K/M/G (also KB/KiB, any case); all are powers of 1024, \
like logrotate's `size 100k`: 10M == 10MiB == 10485760.
Durations: a whole number with s, m, h, d or w (30s, 15m, 12h, 7d, 2w); a plain number is seconds.
Boolean flags take an optional value, so the command line can undo the config file: --compress=false.

Config file (--config): TOML with the same keys as the flags, `max-bytes` or `max_bytes`; \
`format` is a table level -> template; `process-key` a string or a list. Flags override the file.

Prints `listening on <endpoint>` to stderr once it accepts connections. SIGTERM or SIGINT: \
stop accepting, drain every connection, flush, print the report to stderr, exit 0 (a second \
signal exits at once with status 1).
Exit status: 0 after a clean shutdown, 1 for a runtime error (log folder, socket, shutdown), \
2 for a usage error (bad flag, bad config file, invalid setting).";

/// `mplog-sink`: the log daemon of tracing-mplog.
///
/// Listens on a Unix socket for processes using `tracing_mplog::MpLayer`,
/// formats their events with one template per level and writes them to
/// rotating files: one consolidated file and/or one file per process key.
#[derive(Debug, Default, Parser)]
#[command(name = "mplog-sink", version, after_help = AFTER_HELP)]
pub(crate) struct Args {
    /// Where to listen: unix:PATH, tcp://HOST:PORT or tls://HOST:PORT;
    /// repeat to listen on several [required unless the config file sets `listen`]
    ///
    /// A Unix socket's folder is created with mode 0700 if missing; only
    /// the sink's own user (and root) may connect. HOST is a DNS name, an
    /// IPv4 address or `[IPv6]`. See docs/cluster.md.
    #[arg(long, value_name = "ENDPOINT", action = ArgAction::Append, value_parser = parse_endpoint)]
    pub(crate) listen: Vec<Endpoint>,

    /// Where Python processes log through logging.handlers.SocketHandler:
    /// unix:PATH or tcp://HOST:PORT; repeat for several [default: none]
    ///
    /// Records land in the same files, with the same templates, as the
    /// workers'. A tcp:// one must be on loopback unless --insecure; Unix
    /// peers are checked by uid. See docs/python.md.
    #[arg(long = "python-listen", value_name = "ENDPOINT", action = ArgAction::Append,
          value_parser = parse_endpoint)]
    pub(crate) python_listen: Vec<Endpoint>,

    /// The sink's TLS certificate chain, PEM (required for tls://)
    #[arg(long = "tls-cert", value_name = "FILE")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, PEM (required for tls://)
    #[arg(long = "tls-key", value_name = "FILE")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Require TLS client certificates signed by this CA, PEM (mutual TLS) [default: none]
    #[arg(long = "tls-client-ca", value_name = "FILE")]
    pub(crate) tls_client_ca: Option<PathBuf>,

    /// File holding the token every TCP/TLS worker must present [default: none]
    #[arg(long = "token-file", value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,

    /// Allow plain tcp:// on a non-loopback address without a token [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub(crate) insecure: Option<bool>,

    /// Connections served at once; more are refused [default: 1024]
    #[arg(long = "max-connections", value_name = "N", value_parser = values::parse_max_connections)]
    pub(crate) max_connections: Option<usize>,

    /// Per-key files kept open at once; the least recently written is closed (and reopened when written again) [default: 256, lowered to fit the descriptor limit]
    #[arg(long = "max-open-files", value_name = "N", value_parser = values::parse_max_connections)]
    pub(crate) max_open_files: Option<usize>,

    /// Folder of the log files, created if missing [default: logs]
    #[arg(long, value_name = "DIR")]
    pub(crate) logdir: Option<PathBuf>,

    /// Base name of the log files (the consolidated file is named after it) [default: mplog]
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// Also write one file with every process's records [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub(crate) consolidate: Option<bool>,

    /// Per-key files by this record attribute: name, pid, target or host;
    /// repeat for several; `none`: no per-key files [default: name]
    #[arg(long = "process-key", value_name = "KEY", action = ArgAction::Append,
          value_parser = values::parse_process_key)]
    pub(crate) process_key: Vec<KeyArg>,

    /// Text put before every file name [default: ""]
    #[arg(long = "file-prefix", value_name = "TEXT", allow_hyphen_values = true)]
    pub(crate) file_prefix: Option<String>,

    /// Text put after every file name [default: ""]
    #[arg(long = "file-suffix", value_name = "TEXT", allow_hyphen_values = true)]
    pub(crate) file_suffix: Option<String>,

    /// At start, append to existing files or truncate them: append|truncate [default: append]
    #[arg(long = "file-mode", value_name = "MODE", value_parser = values::parse_file_mode)]
    pub(crate) file_mode: Option<FileMode>,

    /// Time-based rotation: S, M, H, D, midnight, W0..W6 (Monday..Sunday) or never [default: never]
    #[arg(long, value_name = "WHEN", value_parser = values::parse_when)]
    pub(crate) when: Option<When>,

    /// Number of `--when` units per rotation period [default: 1]
    #[arg(long, value_name = "N", value_parser = values::parse_interval)]
    pub(crate) interval: Option<u32>,

    /// Time of day for --when midnight and W0..W6: HH:MM or HH:MM:SS [default: 00:00]
    #[arg(long = "at-time", value_name = "HH:MM[:SS]", value_parser = values::parse_at_time)]
    pub(crate) at_time: Option<Time>,

    /// Rotation boundaries, file names and dates in UTC instead of local time [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub(crate) utc: Option<bool>,

    /// Rotate before a record would make a file larger: bytes, or K/M/G (powers of 1024); 0 = no limit [default: 0]
    #[arg(long = "max-bytes", value_name = "SIZE", value_parser = values::parse_size)]
    pub(crate) max_bytes: Option<u64>,

    /// Keep this many rotated files per log file; 0 = keep all [default: 0]
    #[arg(long = "backup-count", value_name = "N", value_parser = values::parse_backup_count)]
    pub(crate) backup_count: Option<usize>,

    /// Delete rotated files older than this: 30s, 15m, 12h, 7d, 2w; plain number = seconds [default: no age limit]
    #[arg(long = "max-age", value_name = "DURATION", value_parser = values::parse_duration)]
    pub(crate) max_age: Option<Duration>,

    /// Gzip rotated files (in the background) [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub(crate) compress: Option<bool>,

    /// strftime format of %(asctime)s; %f = microseconds, %3f = milliseconds [default: "%Y-%m-%d %H:%M:%S,%3f"]
    #[arg(long, value_name = "FMT")]
    pub(crate) datefmt: Option<String>,

    /// Template for one level: LEVEL=TEMPLATE, LEVEL is trace, debug, info,
    /// warn, error or default (levels without their own); repeatable
    /// [default: the formatter's default template]
    ///
    /// Python `%(name)s` and native `{name}` placeholders, see docs/formatter.md.
    #[arg(long, value_name = "LEVEL=TEMPLATE", action = ArgAction::Append,
          value_parser = values::parse_format)]
    pub(crate) format: Vec<(FormatLevel, String)>,

    /// Write records at this level and above: trace, debug, info, warn, error [default: trace]
    #[arg(long, value_name = "LEVEL", value_parser = values::parse_level)]
    pub(crate) level: Option<Level>,

    /// A stricter threshold for the consolidated file only [default: --level]
    #[arg(long = "consolidated-level", value_name = "LEVEL", value_parser = values::parse_level)]
    pub(crate) consolidated_level: Option<Level>,

    /// A stricter threshold for the per-key files only [default: --level]
    #[arg(long = "per-key-level", value_name = "LEVEL", value_parser = values::parse_level)]
    pub(crate) per_key_level: Option<Level>,

    /// A stricter threshold for --echo only, e.g. warn [default: --level]
    #[arg(long = "echo-level", value_name = "LEVEL", value_parser = values::parse_level)]
    pub(crate) echo_level: Option<Level>,

    /// Copy every written line to stderr [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub(crate) echo: Option<bool>,

    /// Read settings from this TOML file; flags given on the command line override it
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Serve GET /metrics (Prometheus text) on HOST:PORT; a bare PORT is on 127.0.0.1 [default: none]
    #[arg(long = "metrics-listen", value_name = "HOST:PORT")]
    pub(crate) metrics_listen: Option<String>,

    /// Forward every record to a log engine too: syslog+tcp://HOST:PORT,
    /// syslog+tls://…, syslog+udp://…, otlp+http://…, otlp+grpc://…;
    /// repeat for several [default: none]
    ///
    /// Each destination has its own bounded queue (100 000 records) and
    /// thread; while one is down its records wait, then the oldest are
    /// dropped and counted. Per-destination options (level, queue, tls-ca,
    /// …) go in the config file's `[[forward]]` tables. See docs/forwarding.md.
    #[arg(long, value_name = "URL", action = ArgAction::Append,
          value_parser = crate::forwards::parse_url)]
    pub(crate) forward: Vec<tracing_mplog_sink::forward::Destination>,

    /// How long shutdown lets forwarding destinations send what they still
    /// queue, after the files are written [default: 5s]
    #[arg(long = "forward-drain", value_name = "DURATION", value_parser = crate::values::parse_duration)]
    pub(crate) forward_drain: Option<std::time::Duration>,

    /// `[[alert]]` rules: config file only.
    #[arg(skip)]
    pub(crate) alerts: Vec<tracing_mplog_sink::sink::AlertRule>,

    /// A subcommand instead of running the sink.
    #[command(subcommand)]
    pub(crate) command: Option<crate::status::Command>,
}

/// `unix:PATH`, `tcp://HOST:PORT`, `tls://HOST:PORT` (the library's parser;
/// its message names the text).
pub(crate) fn parse_endpoint(text: &str) -> Result<Endpoint, String> {
    text.parse::<Endpoint>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("mplog-sink").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn every_flag_is_parsed() {
        let args = parse(&[
            "--listen=unix:/tmp/s.sock",
            "--logdir",
            "/var/log/app",
            "--name",
            "app",
            "--consolidate",
            "--process-key",
            "pid",
            "--process-key",
            "host",
            "--file-prefix",
            "p-",
            "--file-suffix",
            "-s",
            "--file-mode",
            "truncate",
            "--when",
            "W2",
            "--interval",
            "3",
            "--at-time",
            "04:05",
            "--utc",
            "--max-bytes",
            "2KiB",
            "--backup-count",
            "9",
            "--max-age",
            "2w",
            "--compress=false",
            "--datefmt",
            "%H",
            "--format",
            "info=I %(message)s",
            "--format",
            "default={message}",
            "--level",
            "warn",
            "--echo",
            "--config",
            "c.toml",
        ])
        .expect("valid command line");
        assert_eq!(args.listen, vec![Endpoint::Unix("/tmp/s.sock".into())]);
        assert_eq!(args.logdir, Some(PathBuf::from("/var/log/app")));
        assert_eq!(args.name.as_deref(), Some("app"));
        assert_eq!(args.consolidate, Some(true));
        assert_eq!(args.process_key.len(), 2);
        assert_eq!(args.file_prefix.as_deref(), Some("p-"));
        assert_eq!(args.file_suffix.as_deref(), Some("-s"));
        assert_eq!(args.file_mode, Some(FileMode::Truncate));
        assert_eq!(args.when, Some(When::Weekday(time::Weekday::Wednesday)));
        assert_eq!(args.interval, Some(3));
        assert_eq!(args.at_time, Time::from_hms(4, 5, 0).ok());
        assert_eq!(args.utc, Some(true));
        assert_eq!(args.max_bytes, Some(2048));
        assert_eq!(args.backup_count, Some(9));
        assert_eq!(args.max_age, Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(args.compress, Some(false));
        assert_eq!(args.datefmt.as_deref(), Some("%H"));
        assert_eq!(
            args.format,
            vec![
                (FormatLevel::Info, "I %(message)s".to_owned()),
                (FormatLevel::Default, "{message}".to_owned())
            ]
        );
        assert_eq!(args.level, Some(Level::WARN));
        assert_eq!(args.echo, Some(true));
        assert_eq!(args.config, Some(PathBuf::from("c.toml")));
    }

    #[test]
    fn listen_repeats_and_network_flags_parse() {
        let args = parse(&[
            "--listen=unix:/tmp/s.sock",
            "--listen",
            "tls://[::1]:7000",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--tls-client-ca",
            "ca.pem",
            "--token-file",
            "t",
            "--insecure",
            "--max-connections",
            "8",
        ])
        .expect("valid command line");
        assert_eq!(args.listen.len(), 2);
        assert_eq!(args.listen[1].to_string(), "tls://[::1]:7000");
        assert_eq!(args.tls_cert, Some(PathBuf::from("c.pem")));
        assert_eq!(args.tls_key, Some(PathBuf::from("k.pem")));
        assert_eq!(args.tls_client_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(args.token_file, Some(PathBuf::from("t")));
        assert_eq!((args.insecure, args.max_connections), (Some(true), Some(8)));
    }

    #[test]
    fn nothing_given_is_none() {
        let args = parse(&[]).expect("no flags is valid for clap");
        assert!(args.listen.is_empty() && args.consolidate.is_none() && args.format.is_empty());
    }

    #[test]
    fn bad_values_name_the_flag_and_the_value() {
        for (flag, bad) in [
            ("--listen", "tcp://x"),
            ("--max-connections", "0"),
            ("--max-bytes", "10X"),
            ("--max-age", "3y"),
            ("--at-time", "25:00"),
            ("--process-key", "thread"),
            ("--format", "fatal=x"),
            ("--level", "loud"),
            ("--file-mode", "w"),
            ("--when", "W9"),
            ("--interval", "0"),
            ("--backup-count", "-1"),
            ("--echo", "maybe"),
        ] {
            let arg = format!("{flag}={bad}");
            let err = parse(&[&arg]).expect_err(&arg);
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::ValueValidation | ErrorKind::InvalidValue
                ),
                "{arg}: {err}"
            );
            assert_eq!(err.exit_code(), 2, "{arg}");
            let text = err.to_string();
            assert!(text.contains(flag) && text.contains(bad), "{arg}: {text}");
        }
        let err = parse(&["--no-such-flag"]).expect_err("unknown flag");
        assert!(err.to_string().contains("--no-such-flag"), "{err}");
    }

    #[test]
    fn help_names_every_default() {
        let help = Args::command().render_long_help().to_string();
        for needle in [
            "[default: logs]",
            "[default: mplog]",
            "[default: name]",
            "[default: append]",
            "[default: never]",
            "[default: 1]",
            "[default: 00:00]",
            "[default: 0]",
            "[default: trace]",
            "10M == 10MiB",
            "Exit status",
        ] {
            assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
        }
        let datefmt = format!(
            "[default: \"{}\"]",
            tracing_mplog_sink::format::DEFAULT_DATEFMT
        );
        assert!(help.contains(&datefmt), "--help lacks {datefmt}");
    }
}
