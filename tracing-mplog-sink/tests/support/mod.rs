//! What the sink tests share beyond `mplog-test-support`: a sink in a
//! temporary folder, raw frames over a real Unix socket, events from a real
//! `MpLayer`; the `mplog-sink` binary (`cli`), the rotation tests' set-up
//! (`rotate`) and the formatter tests' record (`record`).
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::ops::Deref;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use mplog_test_support::{Scratch, file_names, wait_until};
use tracing::Level;
use tracing_mplog::Endpoint;
use tracing_mplog::wire::{
    DropReason, Dropped, Goodbye, OwnedEvent, OwnedFrame, OwnedHello, OwnedValue,
};
use tracing_mplog_sink::sink::Builder;
use tracing_mplog_sink::{Sink, SinkHandle};

pub mod cli;
pub mod record;
pub mod rotate;

/// How long these tests wait for the sink, which writes asynchronously.
pub const WAIT: Duration = Duration::from_secs(10);

/// The template of every test: process, level and message only.
pub const TEMPLATE: &str = "%(processName)s[%(process)d] %(levelname)s %(message)s";

/// A temporary folder (see [`Scratch`]) for a sink started in the test.
#[derive(Debug, Default)]
pub struct Env(Scratch);

impl Deref for Env {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.0
    }
}

impl Env {
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder listening in this folder, logging to `logs/`, short drain.
    pub fn builder(&self) -> Builder {
        Sink::builder()
            .listen(Endpoint::Unix(self.socket()))
            .logdir(self.logdir())
            .default_format(TEMPLATE)
            .drain_timeout(Duration::from_secs(5))
    }

    /// Waits until `logs/{file}` has at least `n` complete lines.
    pub fn wait_lines(&self, file: &str, n: usize) {
        wait_until(WAIT, &format!("{n} lines in {file}"), || {
            self.lines_so_far(file).len() >= n
        });
    }

    /// Waits until some complete line of `logs/{file}` contains `needle`.
    pub fn wait_line_with(&self, file: &str, needle: &str) {
        wait_until(WAIT, &format!("{needle:?} in {file}"), || {
            self.lines_so_far(file).iter().any(|l| l.contains(needle))
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
}

/// The names of the log files directly in `dir`, sorted: without the
/// sink's high-water marks file (`.{name}.seq`), which acknowledging
/// workers (the default) make it write.
pub fn log_file_names(dir: &Path) -> Vec<String> {
    let mut names = file_names(dir);
    names.retain(|n| !(n.starts_with('.') && n.ends_with(".seq")));
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
