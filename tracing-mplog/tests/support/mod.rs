//! What the tests of tracing-mplog share beyond `mplog-test-support` (which
//! knows none of this crate's types): a minimal sink, a real
//! `UnixListener` in a temp dir read with the crate's own `FrameReader`.
#![allow(dead_code, unreachable_pub)]

use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tracing_mplog::Endpoint;
use tracing_mplog::wire::{DropReason, FrameReader, OwnedEvent, OwnedFrame, WireError};

/// What a connection of the test sink saw.
#[derive(Debug)]
pub enum Seen {
    Frame {
        conn: usize,
        frame: OwnedFrame,
    },
    /// The connection ended: cleanly (`None`) or with a decode error.
    Closed {
        conn: usize,
        error: Option<String>,
    },
}

pub struct TestSink {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestSink {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sink.sock");
        Self { dir, path }
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::Unix(self.path.clone())
    }

    /// An `MpLayer` builder pointed at this sink, acknowledged delivery
    /// off: this sink only reads (it answers no hello and acknowledges
    /// nothing), so the worker must send the version-1 hello.
    pub fn layer(&self) -> tracing_mplog::Builder {
        tracing_mplog::MpLayer::builder()
            .endpoint(self.endpoint())
            .acknowledged(false)
    }

    /// Binds the socket without serving it: the test accepts and reads.
    pub fn bind(&self) -> UnixListener {
        UnixListener::bind(&self.path).expect("bind")
    }

    /// Binds and serves every connection in its own thread.
    pub fn serve(&self) -> mpsc::Receiver<Seen> {
        serve(self.bind())
    }
}

pub fn serve(listener: UnixListener) -> mpsc::Receiver<Seen> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (conn, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            thread::spawn(move || read_all(conn, stream, &tx));
        }
    });
    rx
}

pub fn read_all(conn: usize, stream: UnixStream, tx: &mpsc::Sender<Seen>) {
    let mut reader = FrameReader::new(stream);
    loop {
        match reader.read_frame() {
            Ok(Some(frame)) => {
                let frame = frame.into_owned();
                if tx.send(Seen::Frame { conn, frame }).is_err() {
                    return;
                }
            }
            Ok(None) => {
                let _ = tx.send(Seen::Closed { conn, error: None });
                return;
            }
            Err(e) => {
                let _ = tx.send(Seen::Closed {
                    conn,
                    error: Some(e.to_string()),
                });
                return;
            }
        }
    }
}

/// Collects until `done` says so or the timeout passes (then panics).
pub fn collect_until(
    rx: &mpsc::Receiver<Seen>,
    timeout: Duration,
    mut done: impl FnMut(&[Seen]) -> bool,
) -> Vec<Seen> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(s) => seen.push(s),
            Err(_) => panic!("timed out; saw {seen:#?}"),
        }
    }
    seen
}

pub fn frames(seen: &[Seen]) -> impl Iterator<Item = (usize, &OwnedFrame)> {
    seen.iter().filter_map(|s| match s {
        Seen::Frame { conn, frame } => Some((*conn, frame)),
        Seen::Closed { .. } => None,
    })
}

/// The events among the frames seen, in order.
pub fn events(seen: &[Seen]) -> Vec<&OwnedEvent> {
    frames(seen)
        .filter_map(|(_, f)| match f {
            OwnedFrame::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// The sum of the `Dropped` counts seen for `reason`.
pub fn dropped(seen: &[Seen], reason: DropReason) -> u64 {
    frames(seen)
        .filter_map(|(_, f)| match f {
            OwnedFrame::Dropped(d) if d.reason == reason => Some(d.count),
            _ => None,
        })
        .sum()
}

/// Reads frames until `n` events have arrived: the events' seqs and every
/// other frame, in order. Panics on an error or the end of the stream.
pub fn read_events<R: Read>(reader: &mut FrameReader<R>, n: usize) -> (Vec<u64>, Vec<OwnedFrame>) {
    let mut seqs = Vec::new();
    let mut others = Vec::new();
    while seqs.len() < n {
        match reader
            .read_frame()
            .expect("frame")
            .expect("not eof")
            .into_owned()
        {
            OwnedFrame::Event(e) => seqs.push(e.seq),
            other => others.push(other),
        }
    }
    (seqs, others)
}

/// Reads to the end of the stream: the seqs of the events read, and how it
/// ended (`Ok` at a frame boundary, else the error, a `WouldBlock` too).
pub fn read_rest<R: Read>(reader: &mut FrameReader<R>) -> (Vec<u64>, Result<(), WireError>) {
    let mut seqs = Vec::new();
    loop {
        match reader.read_frame() {
            Ok(Some(f)) => {
                if let OwnedFrame::Event(e) = f.into_owned() {
                    seqs.push(e.seq);
                }
            }
            Ok(None) => return (seqs, Ok(())),
            Err(e) => return (seqs, Err(e)),
        }
    }
}

pub fn has_goodbye(seen: &[Seen]) -> bool {
    frames(seen).any(|(_, f)| matches!(f, OwnedFrame::Goodbye(_)))
}

pub fn is_eof(e: &WireError) -> bool {
    matches!(e, WireError::UnexpectedEof { .. })
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}
