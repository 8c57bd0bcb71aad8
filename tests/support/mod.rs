//! Shared pieces of the cross-process tests: a sink in a temp dir, the test
//! worker binary, and readers of what landed on disk.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tracing::Level;
use tracing_mplog::Endpoint;
use tracing_mplog::wire::{
    DropReason, Dropped, Goodbye, OwnedEvent, OwnedField, OwnedFrame, OwnedHello, OwnedSpan,
    OwnedValue,
};
use tracing_mplog_sink::format::FormatLevel;
use tracing_mplog_sink::sink::Builder;
use tracing_mplog_sink::{ProcessKey, Sink};

/// The wire tests' sample frames, for tests that write frames by hand.
#[path = "../../tracing-mplog/src/wire/tests/fixtures.rs"]
pub mod fixtures;

/// The template every test sink writes: easy to parse, one line per event.
pub const TEMPLATE: &str = "{process_name} {pid} {level} {message}";

pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new() -> Self {
        Setup {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock").join("sink.sock")
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::Unix(self.socket())
    }

    pub fn logdir(&self) -> PathBuf {
        self.dir.path().join("logs")
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

    /// A test worker process (see `src/bin/mplog-test-worker.rs`).
    pub fn worker(&self, id: u64, events: u64, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mplog-test-worker"));
        cmd.args(["--id", &id.to_string(), "--events", &events.to_string()])
            .args(extra)
            .env(
                "TRACING_MPLOG_ENDPOINT",
                format!("unix:{}", self.socket().display()),
            )
            .env("TRACING_MPLOG_PROCESS_NAME", format!("worker-{id}"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }
}

/// A child process that is killed if the test ends (or panics) before it
/// was waited for, so a failing test leaves no worker behind.
#[derive(Debug)]
pub struct Proc(Option<Child>);

impl Proc {
    pub fn into_child(mut self) -> Child {
        self.0.take().expect("the child is still here")
    }
}

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().expect("the child is still here")
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child is still here")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl From<Child> for Proc {
    fn from(child: Child) -> Self {
        Proc(Some(child))
    }
}

impl From<Proc> for Child {
    fn from(proc: Proc) -> Self {
        proc.into_child()
    }
}

/// `Command::spawn` that returns a [`Proc`].
pub trait SpawnGuarded {
    fn spawn_guarded(&mut self) -> Proc;
}

impl SpawnGuarded for Command {
    fn spawn_guarded(&mut self) -> Proc {
        Proc::from(self.spawn().expect("spawn a worker"))
    }
}

impl Setup {
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

/// Waits for a child, panicking with its stderr if it failed.
pub fn wait_ok(child: impl Into<Child>) -> String {
    let out = child.into().wait_with_output().expect("wait for worker");
    assert!(
        out.status.success(),
        "worker failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The files of one log in write order: rotated ones (their names sort
/// chronologically) then the active file.
pub fn log_files(logdir: &Path, base: &str) -> Vec<PathBuf> {
    let active = logdir.join(base);
    let mut rotated: Vec<PathBuf> = fs::read_dir(logdir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&format!("{base}.")))
                })
                .collect()
        })
        .unwrap_or_default();
    rotated.sort();
    if active.exists() {
        rotated.push(active);
    }
    rotated
}

/// The complete lines of a file the sink may still be writing: an
/// unterminated last line is left out (the rest of it is on its way).
pub fn complete_lines(text: &str) -> std::str::Lines<'_> {
    let end = text.rfind('\n').map_or(0, |i| i + 1);
    text[..end].lines()
}

/// Every complete line of the files so far, in order, for loops that poll
/// live files: a torn last line is not an error while the sink writes (use
/// the strict [`lines`] once it has stopped). Files that vanish between
/// listing and reading (rotated away) are skipped.
pub fn lines_so_far(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| fs::read_to_string(f).ok())
        .flat_map(|text| complete_lines(&text).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// Every line of the files, in order; panics on a torn last line. For the
/// final read, after the sink has stopped; loops over live files use
/// [`lines_so_far`].
pub fn lines(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| {
            let text = fs::read_to_string(f).expect("readable log file");
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "{} ends in a torn line",
                f.display()
            );
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

/// Event numbers per test-worker id (`w{id} e{n}` messages), in file order.
pub fn series(lines: &[String]) -> HashMap<u64, Vec<u64>> {
    let mut map: HashMap<u64, Vec<u64>> = HashMap::new();
    for line in lines {
        let Some(at) = line.find(" w") else { continue };
        let mut words = line[at + 2..].split(' ');
        let (Some(id), Some(n)) = (words.next(), words.next()) else {
            continue;
        };
        let (Ok(id), Some(Ok(n))) = (
            id.parse::<u64>(),
            n.strip_prefix('e').map(str::parse::<u64>),
        ) else {
            continue;
        };
        map.entry(id).or_default().push(n);
    }
    map
}

/// Asserts that worker `id` has events 1..=n exactly once, in order.
pub fn assert_series(map: &HashMap<u64, Vec<u64>>, id: u64, n: u64) {
    let got = map.get(&id).cloned().unwrap_or_default();
    let want: Vec<u64> = (1..=n).collect();
    if got != want {
        let missing = want.iter().filter(|e| !got.contains(e)).count();
        panic!(
            "worker {id}: {} lines, {missing} missing, first mismatch at {:?}",
            got.len(),
            got.iter().zip(&want).position(|(a, b)| a != b)
        );
    }
}

/// Asserts that `all.log` and each `worker-{id}.log` in `logdir` hold the
/// events 1..=`events` of workers 1..=`workers` exactly once, in order;
/// returns the lines of `all.log`.
pub fn assert_files_complete(logdir: &Path, workers: u64, events: u64) -> Vec<String> {
    let all = lines(&log_files(logdir, "all.log"));
    let map = series(&all);
    for id in 1..=workers {
        assert_series(&map, id, events);
        let own = lines(&log_files(logdir, &format!("worker-{id}.log")));
        assert_series(&series(&own), id, events);
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
    let all = lines(&log_files(logdir, "all.log"));
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
