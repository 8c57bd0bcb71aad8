//! Helpers of the sink tests: a sink in a temp folder, raw frames over a
//! real Unix socket, reading the files back.
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

pub fn hello(pid: u32, start: i64, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    OwnedFrame::Hello(OwnedHello {
        version: 1,
        capabilities: 0,
        pid,
        start_time_ns: start,
        process_name: name.into(),
        host: "testhost".into(),
        token: String::new(),
    })
    .encode(&mut out);
    out
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
    let mut out = Vec::new();
    OwnedFrame::Event(event_at(seq, level, message)).encode(&mut out);
    out
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
    let mut out = Vec::new();
    OwnedFrame::Goodbye(Goodbye { last_seq }).encode(&mut out);
    out
}

pub fn dropped(count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    OwnedFrame::Dropped(Dropped {
        reason: DropReason::ChannelFull,
        count,
    })
    .encode(&mut out);
    out
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
    let mut out = hello(pid, 1, &format!("w{w}"));
    out.extend(events(w, 1, n));
    out.extend(goodbye(n));
    out
}

pub fn send(conn: &mut UnixStream, bytes: &[u8]) {
    conn.write_all(bytes).expect("write to the sink");
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
