//! A minimal sink for tests: a real `UnixListener` in a temp dir, read with
//! the crate's own `FrameReader`.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tracing_mplog::Endpoint;
use tracing_mplog::wire::{FrameReader, OwnedFrame, WireError};

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

    /// Binds and serves every connection in its own thread.
    pub fn serve(&self) -> mpsc::Receiver<Seen> {
        let listener = UnixListener::bind(&self.path).expect("bind");
        serve(listener)
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

pub fn has_goodbye(seen: &[Seen]) -> bool {
    frames(seen).any(|(_, f)| matches!(f, OwnedFrame::Goodbye(_)))
}

pub fn is_eof(e: &WireError) -> bool {
    matches!(e, WireError::UnexpectedEof { .. })
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}
