//! The one encoder of the event frame layout (`docs/wire.md`, "Event").
//!
//! Both writers of event frames go through [`encode_event`]: the worker's
//! capture, straight from a `tracing::Event` (`crate::capture`), and
//! [`OwnedEvent`](super::OwnedEvent), for tests, tools and the sink's own
//! records. The header's field order, the flag bits, the span scope and the
//! field lists are written here and nowhere else, so the two cannot drift.

use std::fmt;

use tracing_core::Level;

use super::FrameType;
use super::buf::{begin_len, end_len, put_debug, put_str, put_u8, put_u32};
use super::decode::{FLAG_FILE, FLAG_LINE, FLAG_MODULE_PATH, FLAG_THREAD_NAME, level_to_u8};
use super::value::{Tag, Value};

/// The fixed part of an event frame: everything before the span scope.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventHeader<'a> {
    /// 0 from the worker's capture: the sender numbers frames.
    pub(crate) seq: u64,
    pub(crate) timestamp_ns: i64,
    pub(crate) level: Level,
    pub(crate) thread_id: u64,
    pub(crate) line: Option<u32>,
    pub(crate) target: &'a str,
    pub(crate) module_path: Option<&'a str>,
    pub(crate) file: Option<&'a str>,
    pub(crate) thread_name: Option<&'a str>,
}

impl EventHeader<'_> {
    #[inline]
    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.module_path.is_some() {
            flags |= FLAG_MODULE_PATH;
        }
        if self.file.is_some() {
            flags |= FLAG_FILE;
        }
        if self.line.is_some() {
            flags |= FLAG_LINE;
        }
        if self.thread_name.is_some() {
            flags |= FLAG_THREAD_NAME;
        }
        flags
    }

    /// Appends the frame's start: the length prefix (0, patched at the
    /// end), the type byte and the header up to the thread id, in one
    /// fixed-size write.
    #[inline]
    fn put_fixed(&self, out: &mut Vec<u8>, flags: u8) {
        let mut head = [0; 31];
        head[4] = FrameType::Event as u8;
        head[5..13].copy_from_slice(&self.seq.to_le_bytes());
        head[13..21].copy_from_slice(&self.timestamp_ns.to_le_bytes());
        head[21] = level_to_u8(self.level);
        head[22] = flags;
        head[23..31].copy_from_slice(&self.thread_id.to_le_bytes());
        out.extend_from_slice(&head);
    }

    /// Appends the rest of the header: line, target, module path, file and
    /// thread name, each that is there.
    #[inline]
    fn put_tail(&self, out: &mut Vec<u8>) {
        if let Some(line) = self.line {
            put_u32(out, line);
        }
        put_str(out, self.target);
        for s in [self.module_path, self.file, self.thread_name]
            .into_iter()
            .flatten()
        {
            put_str(out, s);
        }
    }
}

/// The end of an event header (line, target, module path, file, thread
/// name) with its flags, encoded once: what every event of one callsite
/// logged by one thread has the same, so the worker keeps it per callsite
/// and thread (see `capture::CallsiteCache`).
#[derive(Debug, Default)]
pub(crate) struct HeaderTail {
    flags: u8,
    bytes: Vec<u8>,
}

impl HeaderTail {
    /// Encodes the end of `header`.
    pub(crate) fn set(&mut self, header: &EventHeader<'_>) {
        self.flags = header.flags();
        self.bytes.clear();
        header.put_tail(&mut self.bytes);
    }
}

/// Appends one event frame, length prefix included, to `out`: the header
/// (its end taken from `tail` if given, which must have been
/// [set](HeaderTail::set) from a header with the same line, target, module
/// path, file and thread name), then the span scope that `scope` appends
/// (it returns how many spans it wrote, each with [`put_span`], outermost
/// first), then the event's own fields that `fields` appends (each with
/// [`put_field`] or [`put_debug_field`]; their byte length is written
/// here).
#[inline]
pub(crate) fn encode_event(
    out: &mut Vec<u8>,
    header: &EventHeader<'_>,
    tail: Option<&HeaderTail>,
    scope: impl FnOnce(&mut Vec<u8>) -> u32,
    fields: impl FnOnce(&mut Vec<u8>),
) {
    let at = out.len();
    match tail {
        Some(tail) => {
            header.put_fixed(out, tail.flags);
            out.extend_from_slice(&tail.bytes);
        }
        None => {
            header.put_fixed(out, header.flags());
            header.put_tail(out);
        }
    }
    let count_at = begin_len(out);
    let count = scope(out);
    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
    let fields_at = begin_len(out);
    fields(out);
    end_len(out, fields_at);
    end_len(out, at);
}

/// Appends one span entry: its name, then the field list that `fields`
/// appends (its byte length is written here).
#[inline]
pub(crate) fn put_span(out: &mut Vec<u8>, name: &str, fields: impl FnOnce(&mut Vec<u8>)) {
    put_str(out, name);
    let at = begin_len(out);
    fields(out);
    end_len(out, at);
}

/// Appends one field of a field list: its name, tag and value.
#[inline]
pub(crate) fn put_field(out: &mut Vec<u8>, name: &str, value: Value<'_>) {
    put_str(out, name);
    value.encode(out);
}

/// Appends one field holding `Debug` text, formatted straight into `out`
/// (a [`Value::Debug`] would need the text as a `&str` first).
#[inline]
pub(crate) fn put_debug_field(out: &mut Vec<u8>, name: &str, value: &dyn fmt::Debug) {
    put_str(out, name);
    put_u8(out, Tag::Debug as u8);
    put_debug(out, value);
}
