//! Reading length-prefixed frames from a byte stream.

use std::io::{self, Read};

use super::error::WireError;
use super::{DEFAULT_MAX_FRAME_SIZE, Frame};

/// Buffer growth step while a large body arrives: a peer that declares a big
/// frame and sends nothing gets at most this much allocated on its behalf.
const GROWTH_STEP: usize = 64 * 1024;

/// Reads frames from an [`io::Read`] into one reusable buffer.
///
/// Each frame's 4-byte length is checked against the limit *before* any
/// buffer is grown for it; the buffer then grows in steps as the body
/// arrives, never past the declared length, and is reused for the next frame.
///
/// **Resumable.** If the reader returns `WouldBlock` or `TimedOut` (a socket
/// with a read timeout, say), that error is returned as [`WireError::Io`] and
/// the bytes already read are kept: calling again continues the same frame.
/// `Interrupted` is retried internally. Any other error leaves the stream out
/// of step with the frame boundaries; stop reading that stream.
///
/// ```
/// use tracing_mplog::wire::{Frame, FrameReader, Goodbye, OwnedFrame};
///
/// let mut stream = Vec::new();
/// OwnedFrame::Goodbye(Goodbye { last_seq: 1 }).encode(&mut stream);
/// OwnedFrame::Goodbye(Goodbye { last_seq: 2 }).encode(&mut stream);
///
/// let mut reader = FrameReader::new(&stream[..]);
/// let mut seen = Vec::new();
/// while let Some(frame) = reader.read_frame()? {
///     if let Frame::Goodbye(g) = frame {
///         seen.push(g.last_seq);
///     }
/// }
/// assert_eq!(seen, [1, 2]); // `Ok(None)`: the stream ended between frames
/// # Ok::<(), tracing_mplog::wire::WireError>(())
/// ```
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    max_frame_size: usize,
    head: [u8; 4],
    head_filled: usize,
    body: Vec<u8>,
    body_filled: usize,
    /// The previous call returned a whole frame; start afresh on the next.
    done: bool,
}

impl<R: Read> FrameReader<R> {
    /// A reader with the default limit, [`DEFAULT_MAX_FRAME_SIZE`].
    pub fn new(inner: R) -> Self {
        Self::with_max_frame_size(inner, DEFAULT_MAX_FRAME_SIZE)
    }

    /// A reader that rejects frame bodies longer than `max_frame_size` bytes.
    pub fn with_max_frame_size(inner: R, max_frame_size: usize) -> Self {
        Self {
            inner,
            max_frame_size,
            head: [0; 4],
            head_filled: 0,
            body: Vec::new(),
            body_filled: 0,
            done: false,
        }
    }

    /// Reads and decodes the next frame. `Ok(None)` means the stream ended
    /// cleanly between two frames.
    pub fn read_frame(&mut self) -> Result<Option<Frame<'_>>, WireError> {
        match self.read_raw()? {
            None => Ok(None),
            Some(body) => Frame::decode(body).map(Some),
        }
    }

    /// Reads the next frame body without decoding it (the bytes after the
    /// length prefix, starting with the frame type). `Ok(None)` means the
    /// stream ended cleanly between two frames.
    pub fn read_raw(&mut self) -> Result<Option<&[u8]>, WireError> {
        if self.done {
            self.done = false;
            self.head_filled = 0;
            self.body_filled = 0;
        }
        while self.head_filled < 4 {
            match self.inner.read(&mut self.head[self.head_filled..]) {
                Ok(0) if self.head_filled == 0 => return Ok(None),
                Ok(0) => {
                    return Err(WireError::UnexpectedEof {
                        part: "length prefix",
                        got: self.head_filled,
                        expected: 4,
                    });
                }
                Ok(n) => self.head_filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let declared = u32::from_le_bytes(self.head);
        let len = declared as usize;
        if len == 0 {
            self.done = true;
            return Err(WireError::EmptyFrame);
        }
        if len > self.max_frame_size {
            return Err(WireError::Oversized {
                len: u64::from(declared),
                limit: self.max_frame_size,
            });
        }
        while self.body_filled < len {
            if self.body.len() <= self.body_filled {
                let grown = (self.body_filled + GROWTH_STEP).min(len);
                // `resize` alone grows the capacity geometrically (to twice
                // the old one), past the declared length and the limit.
                self.body.reserve_exact(grown - self.body.len());
                self.body.resize(grown, 0);
            }
            let end = self.body.len().min(len);
            match self.inner.read(&mut self.body[self.body_filled..end]) {
                Ok(0) => {
                    return Err(WireError::UnexpectedEof {
                        part: "body",
                        got: self.body_filled,
                        expected: len,
                    });
                }
                Ok(n) => self.body_filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.done = true;
        Ok(Some(&self.body[..len]))
    }

    /// The limit on frame bodies, in bytes.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// The bytes currently held for frame bodies (for tests of the
    /// allocation bound).
    pub fn buffer_capacity(&self) -> usize {
        self.body.capacity()
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying reader, mutably (to set a timeout, say).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Unwraps the underlying reader. Bytes of a partly read frame are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}
