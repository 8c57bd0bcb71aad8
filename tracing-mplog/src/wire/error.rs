//! Errors from decoding and reading frames.

use std::io;

/// Why a frame (or the stream carrying it) could not be decoded.
///
/// Offsets count bytes from the start of the frame *body* (the frame-type
/// byte is offset 0; the 4-byte length prefix is not part of the body).
/// `what` names the field being read, in the terms of `docs/wire.md`
/// (for example `"event.target"` or `"field.name"`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The underlying reader failed. A [`FrameReader`](super::FrameReader)
    /// keeps its partial progress on `WouldBlock`/`TimedOut`, so reading can
    /// resume after such an error.
    #[error("reading a frame: {0}")]
    Io(#[from] io::Error),
    /// The stream ended inside a frame (`got` of the `expected` bytes of the
    /// length prefix or body had arrived).
    #[error("stream ended inside a frame's {part}: got {got} of {expected} bytes")]
    UnexpectedEof {
        /// `"length prefix"` or `"body"`.
        part: &'static str,
        /// Bytes of that part that arrived.
        got: usize,
        /// Bytes of that part that were expected.
        expected: usize,
    },
    /// A length prefix declared a frame larger than the reader's limit.
    /// Nothing was allocated for it.
    #[error("frame of {len} bytes exceeds the limit of {limit} bytes")]
    Oversized {
        /// The declared body length.
        len: u64,
        /// The configured maximum body length.
        limit: usize,
    },
    /// A length prefix of zero: every frame has at least its type byte.
    #[error("empty frame (length prefix 0)")]
    EmptyFrame,
    /// A hello frame did not start with the magic bytes `MPLG`.
    #[error("bad magic {found:02x?} at offset 1 (expected \"MPLG\")")]
    BadMagic {
        /// The four bytes found instead.
        found: [u8; 4],
    },
    /// A hello frame announced a protocol version this decoder does not speak.
    #[error("unsupported protocol version {found} (this decoder speaks {supported})")]
    UnsupportedVersion {
        /// The version in the hello frame.
        found: u16,
        /// The version this decoder speaks.
        supported: u16,
    },
    /// The frame body ended before a field was complete.
    #[error("truncated {what} at offset {offset}: needs {needed} bytes, {available} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left in the frame (or enclosing field list).
        available: usize,
    },
    /// A string field is not valid UTF-8.
    #[error("invalid UTF-8 in {what} at offset {offset}")]
    InvalidUtf8 {
        /// The field being read.
        what: &'static str,
        /// Where the string's bytes start.
        offset: usize,
    },
    /// The frame-type byte is not one this version defines.
    #[error("unknown frame type {found:#04x}")]
    UnknownFrameType {
        /// The byte found.
        found: u8,
    },
    /// The level byte of an event is not 0..=4.
    #[error("unknown level {found} at offset {offset}")]
    UnknownLevel {
        /// The byte found.
        found: u8,
        /// Where it sits.
        offset: usize,
    },
    /// A field's value tag is not one this version defines.
    #[error("unknown value tag {found:#04x} at offset {offset}")]
    UnknownValueTag {
        /// The byte found.
        found: u8,
        /// Where it sits.
        offset: usize,
    },
    /// An event's flags byte has bits this version does not define.
    #[error("unknown event flags {found:#010b} at offset {offset}")]
    UnknownFlags {
        /// The byte found.
        found: u8,
        /// Where it sits.
        offset: usize,
    },
    /// A dropped frame's reason byte is not one this version defines.
    #[error("unknown drop reason {found} at offset {offset}")]
    UnknownDropReason {
        /// The byte found.
        found: u8,
        /// Where it sits.
        offset: usize,
    },
    /// A boolean value is neither 0 nor 1.
    #[error("invalid bool byte {found} at offset {offset}")]
    InvalidBool {
        /// The byte found.
        found: u8,
        /// Where it sits.
        offset: usize,
    },
    /// Bytes remained after the last field of a frame.
    #[error("{extra} trailing bytes after {what} at offset {offset}")]
    TrailingBytes {
        /// The frame (or field list) that should have ended.
        what: &'static str,
        /// Where the extra bytes start.
        offset: usize,
        /// How many there are.
        extra: usize,
    },
}
