//! The command line: every flag, its value parser and its help text.
//!
//! The single-valued settings come from the table in [`crate::settings`];
//! the lists (`--listen`, `--format`, …) are declared here. Every field is
//! optional (no clap defaults), so that the config file can fill what the
//! command line leaves out; [`Given`] records, from clap, which flags the
//! command line gave. The defaults are applied when the [`Config`] is
//! resolved, and named in each flag's help.
//!
//! [`Config`]: crate::config::Config

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Parser};
use tracing_mplog::Endpoint;

use crate::settings::Values;
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
    /// Which flags the command line gave, as clap saw them. First: clap
    /// takes the values out of its matches field by field, in this order.
    #[command(flatten)]
    pub(crate) given: Given,

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

    /// The single-valued settings (the table in [`crate::settings`]).
    #[command(flatten)]
    pub(crate) values: Values,

    /// Per-key files by this record attribute: name, pid, target or host;
    /// repeat for several; `none`: no per-key files [default: name]
    #[arg(long = "process-key", value_name = "KEY", action = ArgAction::Append,
          value_parser = values::parse_process_key)]
    pub(crate) process_key: Vec<KeyArg>,

    /// Template for one level: LEVEL=TEMPLATE, LEVEL is trace, debug, info,
    /// warn, error or default (levels without their own); repeatable
    /// [default: the formatter's default template]. Or `json`: one JSON
    /// object per line, as tracing_subscriber's fmt().json() writes it
    ///
    /// Python `%(name)s` and native `{name}` placeholders, see docs/formatter.md.
    #[arg(long, value_name = "LEVEL=TEMPLATE|json", action = ArgAction::Append,
          value_parser = values::parse_format)]
    pub(crate) format: Vec<values::FormatArg>,

    /// Read settings from this TOML file; flags given on the command line override it
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Forward every record to a log engine too: syslog+tcp://HOST:PORT,
    /// syslog+tls://…, syslog+udp://…, otlp+http://…, otlp+grpc://…, and
    /// over TLS otlp+https://…, otlp+grpcs://…; repeat for several
    /// [default: none]
    ///
    /// Each destination has its own bounded queue (100 000 records) and
    /// thread; while one is down its records wait, then the oldest are
    /// dropped and counted. TLS destinations check the server against the
    /// system's roots unless `tls-ca` names a CA file; `tls-cert` and
    /// `tls-key` add a client certificate (mutual TLS). Per-destination
    /// options (level, queue, tls-ca, …) go in the config file's
    /// `[[forward]]` tables. See docs/forwarding.md.
    #[arg(long, value_name = "URL", action = ArgAction::Append,
          value_parser = crate::forwards::parse_url)]
    pub(crate) forward: Vec<tracing_mplog_sink::forward::Destination>,

    /// `[[alert]]` rules: config file only.
    #[arg(skip)]
    pub(crate) alerts: Vec<tracing_mplog_sink::sink::AlertRule>,

    /// A subcommand instead of running the sink.
    #[command(subcommand)]
    pub(crate) command: Option<crate::status::Command>,
}

/// The flags given on the command line (clap's
/// [`ValueSource::CommandLine`]), in flag spelling: what decides that a
/// value came from a flag rather than from the config file or a default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Given(BTreeSet<String>);

impl Given {
    /// Whether `--flag` was on the command line.
    pub(crate) fn contains(&self, flag: &str) -> bool {
        self.0.contains(flag)
    }
}

impl clap::FromArgMatches for Given {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        // An argument's id is its field name: `max_age` for `--max-age`.
        let given = matches
            .ids()
            .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.as_str().replace('_', "-"))
            .collect();
        Ok(Given(given))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for Given {
    /// No arguments of its own: it reads the others'.
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd
    }
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
    use std::time::Duration;
    use time::Time;
    use tracing::Level;
    use tracing_mplog_sink::rotate::{FileMode, When};

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("mplog-sink").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Args::command().debug_assert();
        // `Given` spells an argument's id as its flag.
        for arg in Args::command().get_arguments() {
            if let Some(long) = arg.get_long() {
                assert_eq!(arg.get_id().as_str().replace('_', "-"), long);
            }
        }
    }

    #[test]
    fn given_is_what_the_command_line_gave() {
        let args = parse(&["--max-age=1d", "--listen=unix:/x", "--echo"]).expect("valid");
        for flag in ["max-age", "listen", "echo"] {
            assert!(args.given.contains(flag), "{flag}");
        }
        assert!(!args.given.contains("max-bytes") && !args.given.contains("config"));
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
        assert_eq!(args.values.logdir, Some(PathBuf::from("/var/log/app")));
        assert_eq!(args.values.name.as_deref(), Some("app"));
        assert_eq!(args.values.consolidate, Some(true));
        assert_eq!(args.process_key.len(), 2);
        assert_eq!(args.values.file_prefix.as_deref(), Some("p-"));
        assert_eq!(args.values.file_suffix.as_deref(), Some("-s"));
        assert_eq!(args.values.file_mode, Some(FileMode::Truncate));
        assert_eq!(
            args.values.when,
            Some(When::Weekday(time::Weekday::Wednesday))
        );
        assert_eq!(args.values.interval, Some(3));
        assert_eq!(args.values.at_time, Time::from_hms(4, 5, 0).ok());
        assert_eq!(args.values.utc, Some(true));
        assert_eq!(args.values.max_bytes, Some(2048));
        assert_eq!(args.values.backup_count, Some(9));
        assert_eq!(args.values.max_age, Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(args.values.compress, Some(false));
        assert_eq!(args.values.datefmt.as_deref(), Some("%H"));
        assert_eq!(
            args.format,
            vec![
                values::FormatArg::Template(
                    tracing_mplog_sink::FormatLevel::Info,
                    "I %(message)s".to_owned()
                ),
                values::FormatArg::Template(
                    tracing_mplog_sink::FormatLevel::Default,
                    "{message}".to_owned()
                )
            ]
        );
        assert_eq!(args.values.level, Some(Level::WARN));
        assert_eq!(args.values.echo, Some(true));
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
        assert_eq!(args.values.tls_cert, Some(PathBuf::from("c.pem")));
        assert_eq!(args.values.tls_key, Some(PathBuf::from("k.pem")));
        assert_eq!(args.values.tls_client_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(args.values.token_file, Some(PathBuf::from("t")));
        assert_eq!(
            (args.values.insecure, args.values.max_connections),
            (Some(true), Some(8))
        );
    }

    #[test]
    fn nothing_given_is_none() {
        let args = parse(&[]).expect("no flags is valid for clap");
        assert!(
            args.listen.is_empty() && args.values.consolidate.is_none() && args.format.is_empty()
        );
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
