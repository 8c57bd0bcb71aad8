//! Helpers of the sink tests: a sink in a temp folder, raw frames over a
//! real Unix socket, events from a real `MpLayer`, reading the files back.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::Level;
use tracing_mplog::Endpoint;
use tracing_mplog::wire::{
    DropReason, Dropped, Goodbye, OwnedEvent, OwnedFrame, OwnedHello, OwnedValue,
};
use tracing_mplog_sink::sink::Builder;
use tracing_mplog_sink::{Sink, SinkHandle};

pub mod record;

/// The template of every test: process, level and message only.
pub const TEMPLATE: &str = "%(processName)s[%(process)d] %(levelname)s %(message)s";

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run/log.sock")
    }

    pub fn logdir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// A builder listening in this folder, logging to `logs/`, short drain.
    pub fn builder(&self) -> Builder {
        Sink::builder()
            .listen(Endpoint::Unix(self.socket()))
            .logdir(self.logdir())
            .default_format(TEMPLATE)
            .drain_timeout(Duration::from_secs(5))
    }

    pub fn log(&self, file: &str) -> PathBuf {
        self.logdir().join(file)
    }

    pub fn lines(&self, file: &str) -> Vec<String> {
        lines(&self.log(file))
    }

    /// The lines of `logs/{file}` written so far (none if it does not exist).
    pub fn lines_now(&self, file: &str) -> Vec<String> {
        lines_now(&self.log(file))
    }

    /// Waits until `logs/{file}` has at least `n` lines.
    pub fn wait_lines(&self, file: &str, n: usize) {
        wait_until(&format!("{n} lines in {file}"), || {
            self.lines_now(file).len() >= n
        });
    }

    /// Waits until some line of `logs/{file}` contains `needle`.
    pub fn wait_line_with(&self, file: &str, needle: &str) {
        wait_until(&format!("{needle:?} in {file}"), || {
            self.lines_now(file).iter().any(|l| l.contains(needle))
        });
    }

    /// A started sink named `name` that writes the consolidated file
    /// `{name}.log` besides the per-key files.
    pub fn start_consolidated(&self, name: &str) -> SinkHandle {
        self.builder()
            .name(name)
            .consolidate(true)
            .start()
            .expect("start")
    }

    /// The names of the files in `logs/`, sorted.
    pub fn file_names(&self) -> Vec<String> {
        file_names(&self.logdir())
    }
}

/// The names of the log files directly in `dir`, sorted: without the
/// sink's high-water marks file (`.{name}.seq`), which acknowledging
/// workers (the default) make it write.
pub fn log_file_names(dir: &Path) -> Vec<String> {
    let mut names = file_names(dir);
    names.retain(|n| !(n.starts_with('.') && n.ends_with(".seq")));
    names
}

/// The names of the files directly in `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list the log folder")
        .map(|e| {
            e.expect("folder entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .collect();
    names.sort();
    names
}

/// Logs through an `MpLayer` connected to `endpoint`, as a process named
/// `process_name`: runs `log` with the layer as the thread's default
/// subscriber, then flushes and says goodbye (drops the guard).
pub fn send_events(endpoint: &str, process_name: &str, log: impl FnOnce()) {
    use tracing_subscriber::prelude::*;

    let (layer, guard) = tracing_mplog::MpLayer::builder()
        .endpoint(endpoint.parse().expect("endpoint"))
        .process_name(process_name)
        .build()
        .expect("build MpLayer");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, log);
    guard.flush().expect("flush to the sink");
    drop(guard);
}

pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn connect(sink: &SinkHandle) -> UnixStream {
    let Endpoint::Unix(path) = sink.endpoint() else {
        panic!("not a unix endpoint")
    };
    UnixStream::connect(path).expect("connect to the sink")
}

/// One frame, encoded (with its length prefix).
pub fn encoded(frame: OwnedFrame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(&mut out);
    out
}

pub fn hello(pid: u32, start: i64, name: &str) -> Vec<u8> {
    encoded(OwnedFrame::Hello(OwnedHello {
        version: 1,
        capabilities: 0,
        pid,
        start_time_ns: start,
        process_name: name.into(),
        host: "testhost".into(),
        token: String::new(),
    }))
}

pub fn event_at(seq: u64, level: Level, message: &str) -> OwnedEvent {
    OwnedEvent {
        seq,
        timestamp_ns: 1_700_000_000_000_000_000,
        level,
        target: "app::job".into(),
        module_path: None,
        file: None,
        line: None,
        thread_id: 1,
        thread_name: None,
        message: Some(message.into()),
        fields: vec![],
        spans: vec![],
    }
}

pub fn event(seq: u64, level: Level, message: &str) -> Vec<u8> {
    encoded(OwnedFrame::Event(event_at(seq, level, message)))
}

/// Events `first..=last` of worker `w`: messages `w{w} e{n}`, seq `n`.
pub fn events(w: u32, first: u64, last: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for n in first..=last {
        out.extend(event(n, Level::INFO, &format!("w{w} e{n}")));
    }
    out
}

pub fn goodbye(last_seq: u64) -> Vec<u8> {
    encoded(OwnedFrame::Goodbye(Goodbye { last_seq }))
}

pub fn dropped(count: u64) -> Vec<u8> {
    encoded(OwnedFrame::Dropped(Dropped {
        reason: DropReason::ChannelFull,
        count,
    }))
}

pub fn with_field(mut e: OwnedEvent, name: &str, v: i64) -> OwnedEvent {
    e.fields.push(tracing_mplog::wire::OwnedField {
        name: name.into(),
        value: OwnedValue::I64(v),
    });
    e
}

/// A whole clean worker session: hello, `n` events, goodbye.
pub fn session(w: u32, pid: u32, n: u64) -> Vec<u8> {
    named_session(&format!("w{w}"), pid, 1, w, n)
}

/// A whole clean session of process `name` (`pid`, start time `start`):
/// hello, events `w{w} e1` … `w{w} e{n}`, goodbye.
pub fn named_session(name: &str, pid: u32, start: i64, w: u32, n: u64) -> Vec<u8> {
    let mut out = hello(pid, start, name);
    out.extend(events(w, 1, n));
    out.extend(goodbye(n));
    out
}

/// A clean session of process `name` with one event per level, TRACE to
/// ERROR (seq 1 to 5), each with the message `at {LEVEL}`.
pub fn one_event_per_level(pid: u32, name: &str) -> Vec<u8> {
    let mut out = hello(pid, 1, name);
    let levels = [
        Level::TRACE,
        Level::DEBUG,
        Level::INFO,
        Level::WARN,
        Level::ERROR,
    ];
    for (seq, level) in (1..).zip(levels) {
        out.extend(event(seq, level, &format!("at {level}")));
    }
    out.extend(goodbye(5));
    out
}

pub fn send(conn: &mut UnixStream, bytes: &[u8]) {
    conn.write_all(bytes).expect("write to the sink");
}

/// One whole connection: connects, sends `bytes`, closes.
pub fn deliver(sink: &SinkHandle, bytes: &[u8]) {
    let mut conn = connect(sink);
    send(&mut conn, bytes);
}

/// Waits until `cond` holds (the sink writes asynchronously).
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The lines of `path` that exist so far (none if the file does not).
pub fn lines_now(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Checks that `lines` hold `w{w} e1` … `w{w} e{n}` once each, in order.
pub fn assert_series(lines: &[String], w: u32, n: u64) {
    let tag = format!("w{w} e");
    let got: Vec<u64> = lines
        .iter()
        .filter_map(|l| {
            let at = l.find(&tag)?;
            let rest = &l[at + tag.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            // `w1 e1` must not match inside `w11 e1`.
            if at > 0 && l.as_bytes()[at - 1].is_ascii_alphanumeric() {
                return None;
            }
            digits.parse().ok()
        })
        .collect();
    let want: Vec<u64> = (1..=n).collect();
    assert_eq!(got, want, "series of worker {w}");
}

/// A record of the `log` crate (`warn!(target: "dep", "from log 7")` from
/// module `dep::inner`, `dep/src/inner.rs:42`), bridged the way
/// `worker::init()` does it (tracing-log's `LogTracer`), without installing
/// a global logger.
pub fn log_through_the_bridge() {
    use log::Log;
    tracing_log::LogTracer::new().log(
        &log::Record::builder()
            .args(format_args!("from log {}", 7))
            .level(log::Level::Warn)
            .target("dep")
            .module_path(Some("dep::inner"))
            .file(Some("dep/src/inner.rs"))
            .line(Some(42))
            .build(),
    );
}
