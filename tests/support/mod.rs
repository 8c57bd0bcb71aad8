//! What the cross-process tests of this package share beyond
//! `mplog-test-support`: an in-process sink and the test worker binary in a
//! `Setup`, the `mplog-sink` binary and its usual arguments, and readers of
//! what the sink reported.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mplog_test_support::{
    Scratch, SpawnGuarded, assert_series, binary_beside, log_lines, series, wait_ok,
};
use tracing::Level;
use tracing_mplog::Endpoint;
// What `fixtures` takes from here (`use super::…`).
use tracing_mplog::wire::{
    DropReason, Dropped, Goodbye, OwnedEvent, OwnedField, OwnedFrame, OwnedHello, OwnedSpan,
    OwnedValue,
};
use tracing_mplog_sink::format::FormatLevel;
use tracing_mplog_sink::sink::Builder;
use tracing_mplog_sink::{ProcessKey, ProcessReport, Sink, SinkReport};

/// The wire tests' sample frames, for tests that write frames by hand.
#[path = "../../tracing-mplog/src/wire/tests/fixtures.rs"]
pub mod fixtures;

/// The template every test sink writes: easy to parse, one line per event.
pub const TEMPLATE: &str = "{process_name} {pid} {level} {message}";

/// The test worker (see `src/bin/mplog-test-worker.rs`).
pub const WORKER: &str = env!("CARGO_BIN_EXE_mplog-test-worker");

/// A temporary folder (see [`Scratch`]) with a sink and test workers on
/// its socket.
#[derive(Debug, Default)]
pub struct Setup(Scratch);

impl Deref for Setup {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.0
    }
}

impl Setup {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::Unix(self.socket())
    }

    /// A sink builder: consolidated `all.log` + per-name files, our template.
    pub fn sink(&self) -> Builder {
        Sink::builder()
            .listen(self.endpoint())
            .logdir(self.logdir())
            .name("all")
            .consolidate(true)
            .process_key([ProcessKey::Name])
            .format(FormatLevel::Default, TEMPLATE)
            .drain_timeout(Duration::from_secs(10))
    }

    /// A test worker process `worker-{id}` logging `events` events.
    pub fn worker(&self, id: u64, events: u64, extra: &[&str]) -> Command {
        let mut cmd = Command::new(WORKER);
        cmd.args(["--id", &id.to_string(), "--events", &events.to_string()])
            .args(extra)
            .env("TRACING_MPLOG_ENDPOINT", self.unix_endpoint())
            .env("TRACING_MPLOG_PROCESS_NAME", format!("worker-{id}"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// A test worker whose endpoint comes from the running sink's
    /// `configure_command` (what a parent program does).
    pub fn worker_for(
        &self,
        sink: &tracing_mplog_sink::SinkHandle,
        id: u64,
        events: u64,
        extra: &[&str],
    ) -> Command {
        let mut cmd = self.worker(id, events, extra);
        cmd.env_remove("TRACING_MPLOG_ENDPOINT");
        sink.configure_command(&mut cmd);
        cmd
    }
}

/// The `mplog-sink` binary of package tracing-mplog-sink, next to the test
/// worker in the same target folder (no test runs cargo).
pub fn sink_bin() -> PathBuf {
    binary_beside(
        WORKER,
        "mplog-sink",
        "cargo build -p tracing-mplog-sink --bins",
    )
}

/// Adds the arguments of a sink writing what the in-process sink of
/// [`Setup::sink`] writes into `logdir`: `all.log` (consolidated) and per
/// `process_key` files, with our template.
pub fn file_args<'c>(cmd: &'c mut Command, logdir: &Path, process_key: &str) -> &'c mut Command {
    cmd.arg("--logdir")
        .arg(logdir)
        .args(["--name", "all", "--consolidate", "--process-key"])
        .arg(process_key)
        .arg(format!("--format=default={TEMPLATE}"))
}

/// The `mplog-sink` command listening on `listen`, writing as
/// [`file_args`] says; add the rest.
pub fn sink_command(listen: &str, logdir: &Path, process_key: &str) -> Command {
    let mut cmd = Command::new(sink_bin());
    cmd.arg(format!("--listen={listen}"));
    file_args(&mut cmd, logdir, process_key);
    cmd
}

/// The `mplog-sink` command of the file tests: listening on the Unix
/// socket `socket`, writing `all.log` and one file per process name into
/// `logdir`; add the rest.
pub fn file_sink(socket: &Path, logdir: &Path) -> Command {
    sink_command(&format!("unix:{}", socket.display()), logdir, "name")
}

/// Adds the arguments of a TLS sink on `listen` with a token, writing as
/// [`file_args`] says.
pub fn tls_sink_args<'c>(
    cmd: &'c mut Command,
    listen: &str,
    (cert, key): (&Path, &Path),
    token: &Path,
    logdir: &Path,
    process_key: &str,
) -> &'c mut Command {
    cmd.arg(format!("--listen={listen}"))
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .arg("--token-file")
        .arg(token);
    file_args(cmd, logdir, process_key)
}

/// The reports of the processes named `name`.
pub fn report_for<'a>(report: &'a SinkReport, name: &str) -> Vec<&'a ProcessReport> {
    report
        .processes
        .iter()
        .filter(|p| p.process_name == name)
        .collect()
}

/// Asserts that `all.log` and each `worker-{id}.log` in `logdir` hold the
/// events 1..=`events` of workers 1..=`workers` exactly once, in order;
/// returns the lines of `all.log`.
pub fn assert_files_complete(logdir: &Path, workers: u64, events: u64) -> Vec<String> {
    let all = log_lines(logdir, "all.log");
    let map = series(&all);
    for id in 1..=workers {
        assert_series(&map, id, events);
        assert_series(&log_lines(logdir, &format!("worker-{id}.log")), id, events);
    }
    all
}

/// The drops the sink's WARN lines report for process `name` (one line per
/// dropped frame the worker sent: "worker NAME[PID] dropped N events").
pub fn reported_drops(lines: &[String], name: &str) -> u64 {
    let tag = format!("{name}[");
    lines
        .iter()
        .filter(|l| l.contains(" WARN ") && l.contains(&tag))
        .filter_map(|l| {
            l.split(" dropped ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The lines of `all.log` in `logdir` and worker `id`'s event numbers in
/// them, asserting that exactly `received` of its events are on disk, in
/// order, none twice (a lossy run: which ones is the caller's to check).
pub fn received_in_order(logdir: &Path, id: u64, received: u64) -> (Vec<String>, Vec<u64>) {
    let all = log_lines(logdir, "all.log");
    let got = series(&all).remove(&id).unwrap_or_default();
    assert_eq!(
        got.len() as u64,
        received,
        "every received event is on disk"
    );
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
    (all, got)
}

/// The number in the `mplog-sink` report's `rejected connections` line
/// for `reason`.
pub fn rejections(stderr: &str, reason: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("rejected connections:"))
        .unwrap_or_else(|| panic!("no report in:\n{stderr}"));
    let at = line
        .find(&format!("{reason} "))
        .unwrap_or_else(|| panic!("no {reason} in {line}"));
    line[at + reason.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count for {reason} in {line}"))
}

/// Every forwarding destination took all `total` records: each receiver
/// counted them (`counts`), and the sink's report (`stderr`) says so for
/// each of `urls`.
pub fn assert_all_forwarded<U: AsRef<str>>(
    counts: &[usize],
    total: usize,
    urls: impl IntoIterator<Item = U>,
    stderr: &str,
) {
    assert_eq!(counts, vec![total; counts.len()], "sink stderr:\n{stderr}");
    for url in urls {
        let want = format!("forwarded to {}: {total} records, dropped 0", url.as_ref());
        assert!(stderr.contains(&want), "no `{want}` in:\n{stderr}");
    }
}

/// Runs `workers` workers of the `typed` mode (RUST_LOG=debug) of `events` events each to the end;
/// their pids by id.
pub fn run_typed_workers(s: &Setup, workers: u64, events: u64) -> HashMap<u64, u32> {
    let running: Vec<_> = (1..=workers)
        .map(|id| {
            let w = s
                .worker(id, events, &["--mode", "typed"])
                .env("RUST_LOG", "debug")
                .spawn_guarded();
            (id, w.id(), w)
        })
        .collect();
    running
        .into_iter()
        .map(|(id, pid, w)| {
            wait_ok(w);
            (id, pid)
        })
        .collect()
}
