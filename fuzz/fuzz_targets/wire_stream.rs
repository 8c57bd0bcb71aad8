//! Arbitrary bytes as a connection's byte stream into `FrameReader`.
//!
//! The first input byte seeds how a second reader chunks the rest: it hands
//! out 1 to 16 bytes per read with `WouldBlock` (and sometimes
//! `Interrupted`) in between, as a non-blocking socket would. Both readers
//! must produce the same frames and the same final error, the chunked one
//! resuming after every `WouldBlock`, and neither may hold more buffer than
//! its frame limit.
#![no_main]

use std::io::{self, Cursor, Read};

use libfuzzer_sys::fuzz_target;
use tracing_mplog::wire::{FrameReader, WireError};

/// Small, so that inputs of a few hundred bytes reach the limit.
const MAX_FRAME: usize = 300;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let whole = read_all(FrameReader::with_max_frame_size(
        Cursor::new(stream),
        MAX_FRAME,
    ));
    let chunked = read_all(FrameReader::with_max_frame_size(
        Chunked::new(stream, seed),
        MAX_FRAME,
    ));
    assert_eq!(whole, chunked, "chunked reading changed the frames");
});

/// What one read produced: a frame (by its re-encoded bytes), a clean end,
/// or an error (by its `Debug` text).
#[derive(Debug, PartialEq)]
enum Outcome {
    Frame(Vec<u8>),
    End,
    Error(String),
}

fn read_all<R: Read>(mut reader: FrameReader<R>) -> Vec<Outcome> {
    let mut out = Vec::new();
    // Every frame takes at least 4 bytes; the bound only stops a reader
    // that would loop without consuming anything.
    let mut budget = 100_000;
    while budget > 0 {
        budget -= 1;
        let outcome = match reader.read_frame() {
            Ok(Some(frame)) => {
                let mut bytes = Vec::new();
                frame.into_owned().encode(&mut bytes);
                Outcome::Frame(bytes)
            }
            Ok(None) => Outcome::End,
            Err(WireError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => Outcome::Error(format!("{e:?}")),
        };
        assert!(
            reader.buffer_capacity() <= MAX_FRAME,
            "buffer {} over the {MAX_FRAME}-byte limit",
            reader.buffer_capacity()
        );
        let stop = match &outcome {
            Outcome::Frame(_) => false,
            Outcome::End => true,
            // The stream is out of step with frame boundaries after these.
            Outcome::Error(e) => {
                e.starts_with("Io") || e.starts_with("UnexpectedEof") || e.starts_with("Oversized")
            }
        };
        out.push(outcome);
        if stop {
            return out;
        }
    }
    panic!("reader made no progress: {out:?}");
}

/// Hands out `bytes` in small chunks with `WouldBlock` between them.
struct Chunked<'a> {
    bytes: &'a [u8],
    state: u32,
    blocked: bool,
}

impl<'a> Chunked<'a> {
    fn new(bytes: &'a [u8], seed: u8) -> Self {
        Self {
            bytes,
            state: u32::from(seed).wrapping_mul(0x9e37_79b9) | 1,
            blocked: false,
        }
    }

    /// xorshift32: deterministic for a given seed.
    fn next(&mut self) -> u32 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        self.state
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.blocked {
            self.blocked = true;
            let kind = if self.next().is_multiple_of(4) {
                io::ErrorKind::Interrupted
            } else {
                io::ErrorKind::WouldBlock
            };
            return Err(kind.into());
        }
        self.blocked = false;
        let n = (self.next() % 16 + 1) as usize;
        let n = n.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}
