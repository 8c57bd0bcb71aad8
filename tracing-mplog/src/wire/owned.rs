//! Owned frames: what tests, tools and other-language parity checks build
//! and encode. The worker's hot path does not use these (it encodes straight
//! from a `tracing::Event`), but both write events through the one encoder
//! of `super::encode`, so they produce the same bytes.

use tracing_core::Level;

use super::buf::{begin_frame, end_len, put_i64, put_str, put_u8, put_u16, put_u32, put_u64};
use super::encode::{EventHeader, encode_event, put_field, put_span};
use super::{Dropped, EventView, Field, Frame, FrameType, Goodbye, Hello, MAGIC, Value};

/// An owned frame that can be encoded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OwnedFrame {
    /// See [`Hello`].
    Hello(OwnedHello),
    /// See [`EventView`].
    Event(OwnedEvent),
    /// See [`Dropped`].
    Dropped(Dropped),
    /// See [`Goodbye`].
    Goodbye(Goodbye),
}

/// The owned form of [`Hello`]. Encoded as version 1 (no token) when
/// `version` is 1, else with the token; `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq)]
#[allow(missing_docs)] // Same fields, same meaning as `Hello`.
pub struct OwnedHello {
    pub version: u16,
    pub capabilities: u64,
    pub pid: u32,
    pub start_time_ns: i64,
    pub process_name: String,
    pub host: String,
    pub token: String,
}

impl std::fmt::Debug for OwnedHello {
    /// As the borrowed [`Hello`] prints (the token redacted).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let view = Hello {
            version: self.version,
            capabilities: self.capabilities,
            pid: self.pid,
            start_time_ns: self.start_time_ns,
            process_name: &self.process_name,
            host: &self.host,
            token: &self.token,
        };
        f.debug_tuple("OwnedHello").field(&view).finish()
    }
}

/// The owned form of [`EventView`]. `message`, if set, is encoded as the
/// first field, named `message`, as `Debug` text (as `tracing` records it).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // Same meaning as the accessors of `EventView`.
pub struct OwnedEvent {
    pub seq: u64,
    pub timestamp_ns: i64,
    pub level: Level,
    pub target: String,
    pub module_path: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub thread_id: u64,
    pub thread_name: Option<String>,
    pub message: Option<String>,
    pub fields: Vec<OwnedField>,
    /// Outermost first.
    pub spans: Vec<OwnedSpan>,
}

/// The owned form of [`SpanView`](super::SpanView).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct OwnedSpan {
    pub name: String,
    pub fields: Vec<OwnedField>,
}

/// The owned form of [`Field`].
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct OwnedField {
    pub name: String,
    pub value: OwnedValue,
}

/// The owned form of [`Value`].
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum OwnedValue {
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
    Str(String),
    Debug(String),
}

impl OwnedFrame {
    /// Appends the frame, length prefix included, to `out`.
    ///
    /// ```
    /// use tracing_mplog::wire::{DropReason, Dropped, OwnedFrame};
    ///
    /// let mut out = Vec::new();
    /// OwnedFrame::Dropped(Dropped { reason: DropReason::ChannelFull, count: 3 }).encode(&mut out);
    /// assert_eq!(out, [10, 0, 0, 0, 0x03, 1, 3, 0, 0, 0, 0, 0, 0, 0]);
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            OwnedFrame::Hello(h) => {
                let at = begin_frame(out, FrameType::Hello as u8);
                out.extend_from_slice(&MAGIC);
                put_u16(out, h.version);
                put_u64(out, h.capabilities);
                put_u32(out, h.pid);
                put_i64(out, h.start_time_ns);
                put_str(out, &h.process_name);
                put_str(out, &h.host);
                if h.version >= 2 {
                    put_str(out, &h.token);
                }
                end_len(out, at);
            }
            OwnedFrame::Event(e) => e.encode(out),
            OwnedFrame::Dropped(d) => {
                let at = begin_frame(out, FrameType::Dropped as u8);
                put_u8(out, d.reason.to_u8());
                put_u64(out, d.count);
                end_len(out, at);
            }
            OwnedFrame::Goodbye(g) => {
                let at = begin_frame(out, FrameType::Goodbye as u8);
                put_u64(out, g.last_seq);
                end_len(out, at);
            }
        }
    }
}

impl OwnedEvent {
    fn encode(&self, out: &mut Vec<u8>) {
        let header = EventHeader {
            seq: self.seq,
            timestamp_ns: self.timestamp_ns,
            level: self.level,
            thread_id: self.thread_id,
            line: self.line,
            target: &self.target,
            module_path: self.module_path.as_deref(),
            file: self.file.as_deref(),
            thread_name: self.thread_name.as_deref(),
        };
        let scope = |out: &mut Vec<u8>| {
            for span in &self.spans {
                put_span(out, &span.name, |out| put_fields(out, &span.fields));
            }
            u32::try_from(self.spans.len()).unwrap_or(u32::MAX)
        };
        encode_event(out, &header, None, scope, |out| {
            if let Some(m) = self.message.as_deref() {
                put_field(out, "message", Value::Debug(m));
            }
            put_fields(out, &self.fields);
        });
    }
}

fn put_fields(out: &mut Vec<u8>, fields: &[OwnedField]) {
    for f in fields {
        put_field(out, &f.name, f.value.as_value());
    }
}

impl OwnedValue {
    /// The borrowed form, which knows its tag and encoding (and prints as
    /// `tracing_subscriber::fmt` prints a field).
    pub fn as_value(&self) -> Value<'_> {
        match self {
            OwnedValue::I64(v) => Value::I64(*v),
            OwnedValue::U64(v) => Value::U64(*v),
            OwnedValue::I128(v) => Value::I128(*v),
            OwnedValue::U128(v) => Value::U128(*v),
            OwnedValue::F64(v) => Value::F64(*v),
            OwnedValue::Bool(v) => Value::Bool(*v),
            OwnedValue::Str(v) => Value::Str(v),
            OwnedValue::Debug(v) => Value::Debug(v),
        }
    }
}

impl From<Value<'_>> for OwnedValue {
    fn from(v: Value<'_>) -> Self {
        match v {
            Value::I64(v) => OwnedValue::I64(v),
            Value::U64(v) => OwnedValue::U64(v),
            Value::I128(v) => OwnedValue::I128(v),
            Value::U128(v) => OwnedValue::U128(v),
            Value::F64(v) => OwnedValue::F64(v),
            Value::Bool(v) => OwnedValue::Bool(v),
            Value::Str(v) => OwnedValue::Str(v.to_owned()),
            Value::Debug(v) => OwnedValue::Debug(v.to_owned()),
        }
    }
}

impl From<Field<'_>> for OwnedField {
    fn from(f: Field<'_>) -> Self {
        OwnedField {
            name: f.name.to_owned(),
            value: f.value.into(),
        }
    }
}

impl From<Hello<'_>> for OwnedHello {
    fn from(h: Hello<'_>) -> Self {
        OwnedHello {
            version: h.version,
            capabilities: h.capabilities,
            pid: h.pid,
            start_time_ns: h.start_time_ns,
            process_name: h.process_name.to_owned(),
            host: h.host.to_owned(),
            token: h.token.to_owned(),
        }
    }
}

impl From<EventView<'_>> for OwnedEvent {
    fn from(e: EventView<'_>) -> Self {
        let message = e.message_opt().map(str::to_owned);
        OwnedEvent {
            seq: e.seq(),
            timestamp_ns: e.timestamp_ns(),
            level: e.level(),
            target: e.target().to_owned(),
            module_path: e.module_path().map(str::to_owned),
            file: e.file().map(str::to_owned),
            line: e.line(),
            thread_id: e.thread_id(),
            thread_name: e.thread_name().map(str::to_owned),
            message,
            fields: e.fields().map(OwnedField::from).collect(),
            spans: e
                .spans()
                .map(|s| OwnedSpan {
                    name: s.name().to_owned(),
                    fields: s.fields().map(OwnedField::from).collect(),
                })
                .collect(),
        }
    }
}

impl From<Frame<'_>> for OwnedFrame {
    fn from(f: Frame<'_>) -> Self {
        match f {
            Frame::Hello(h) => OwnedFrame::Hello(h.into()),
            Frame::Event(e) => OwnedFrame::Event(e.into()),
            Frame::Dropped(d) => OwnedFrame::Dropped(d),
            Frame::Goodbye(g) => OwnedFrame::Goodbye(g),
        }
    }
}
