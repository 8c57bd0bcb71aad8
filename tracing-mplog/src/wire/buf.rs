//! Low-level encoding primitives shared by the owned encoder and the
//! event capture in the layer. Everything appends to a `Vec<u8>`; lengths that
//! are only known afterwards (frame length, field blobs, `Debug` text) are
//! reserved as four zero bytes and patched.

use std::fmt;

pub(crate) fn put_u8(b: &mut Vec<u8>, v: u8) {
    b.push(v);
}

pub(crate) fn put_u16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_i64(b: &mut Vec<u8>, v: i64) {
    b.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u128(b: &mut Vec<u8>, v: u128) {
    b.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_i128(b: &mut Vec<u8>, v: i128) {
    b.extend_from_slice(&v.to_le_bytes());
}

/// Clamps a length to `u32`. Anything that long cannot fit a frame anyway
/// (the frame limit is at most `u32::MAX`), so the frame is rejected by size
/// before it is ever sent.
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

pub(crate) fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u32(b, len32(s.len()));
    b.extend_from_slice(s.as_bytes());
}

/// Reserves a `u32` length and returns where it sits; see [`end_len`].
pub(crate) fn begin_len(b: &mut Vec<u8>) -> usize {
    let at = b.len();
    b.extend_from_slice(&[0; 4]);
    at
}

/// Patches the length reserved at `at` with the number of bytes written since.
pub(crate) fn end_len(b: &mut [u8], at: usize) {
    let len = len32(b.len() - at - 4);
    b[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// Starts a frame: a reserved length prefix, then the frame type.
pub(crate) fn begin_frame(b: &mut Vec<u8>, frame_type: u8) -> usize {
    let at = begin_len(b);
    put_u8(b, frame_type);
    at
}

/// Writes `Debug` text as a length-prefixed string, formatting straight into
/// the buffer.
pub(crate) fn put_debug(b: &mut Vec<u8>, value: &dyn fmt::Debug) {
    let at = begin_len(b);
    // Writing into a Vec cannot fail; a `Debug` impl that returns an error
    // leaves whatever it wrote, which is still valid UTF-8.
    let _ = fmt::write(&mut VecWriter(b), format_args!("{value:?}"));
    end_len(b, at);
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Offset of an event's sequence number inside an encoded frame *including*
/// its 4-byte length prefix (prefix, then the type byte, then the `u64`).
pub(crate) const EVENT_SEQ_OFFSET: usize = 5;

/// Overwrites the sequence number of an encoded event frame (length prefix
/// included). The sender numbers frames when it takes them off the channel.
pub(crate) fn patch_event_seq(frame: &mut [u8], seq: u64) {
    if let Some(slot) = frame.get_mut(EVENT_SEQ_OFFSET..EVENT_SEQ_OFFSET + 8) {
        slot.copy_from_slice(&seq.to_le_bytes());
    }
}
