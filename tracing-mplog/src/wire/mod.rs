//! The wire protocol between workers and the sink.
//!
//! A connection is a byte stream of frames. Each frame is a little-endian
//! `u32` body length followed by the body; the body starts with a frame-type
//! byte. The first frame on every connection is a [`Hello`]; then come
//! [`Event`](Frame::Event) frames, [`Dropped`] counts and, on a clean exit, a
//! [`Goodbye`]. In version 2 the sink answers a hello with one [`Reply`]
//! (welcome or refused) on the same framing, and may later acknowledge
//! events. The byte-by-byte specification, with an annotated example, is
//! `docs/wire.md` at the root of the repository.
//!
//! # Decoding
//!
//! - [`FrameReader`] reads frames from any [`std::io::Read`] into one reused
//!   buffer, rejecting a declared length over its limit before allocating.
//! - [`Frame::decode`] validates one frame body completely and returns a
//!   borrowed, zero-copy view: [`Hello`], [`EventView`] (with [`Fields`] and
//!   [`Spans`] iterators), [`Dropped`] or [`Goodbye`].
//! - Every failure is a [`WireError`] saying what was wrong and where.
//!   Decoding never panics, whatever the bytes.
//!
//! # Encoding
//!
//! The worker encodes straight from `tracing` events. [`OwnedFrame`] is the
//! owned form, for tests, tools and parity checks with other languages;
//! [`Frame::into_owned`] converts a decoded frame. Both write an event
//! through one encoder of the event layout, so the same event gives the same
//! bytes either way.
//!
//! ```
//! use tracing_mplog::wire::{Frame, FrameReader, OwnedEvent, OwnedFrame, OwnedField, OwnedValue};
//! use tracing_core::Level;
//!
//! let event = OwnedEvent {
//!     seq: 1,
//!     timestamp_ns: 1_700_000_000_000_000_000,
//!     level: Level::INFO,
//!     target: "app".into(),
//!     module_path: Some("app::db".into()),
//!     file: Some("src/db.rs".into()),
//!     line: Some(42),
//!     thread_id: 7,
//!     thread_name: Some("main".into()),
//!     message: Some("saved".into()),
//!     fields: vec![OwnedField { name: "user".into(), value: OwnedValue::I64(7) }],
//!     spans: vec![],
//! };
//! let mut bytes = Vec::new();
//! OwnedFrame::Event(event).encode(&mut bytes);
//!
//! let mut reader = FrameReader::new(&bytes[..]);
//! let Some(Frame::Event(e)) = reader.read_frame()? else { panic!("not an event") };
//! assert_eq!(e.message(), "saved");
//! let user = e.fields().next().expect("one field");
//! assert_eq!((user.name, user.value.to_string()), ("user", "7".to_string()));
//! # Ok::<(), tracing_mplog::wire::WireError>(())
//! ```

pub(crate) mod buf;
mod cursor;
mod decode;
pub(crate) mod encode;
mod error;
mod owned;
mod reader;
mod reply;
mod value;

pub use decode::{
    DropReason, Dropped, EventView, Field, Fields, Frame, Goodbye, Hello, SpanView, Spans,
    level_to_u8,
};
pub use error::WireError;
pub use owned::{OwnedEvent, OwnedField, OwnedFrame, OwnedHello, OwnedSpan, OwnedValue};
pub use reader::FrameReader;
pub use reply::{Ack, RefuseReason, Refused, Reply, Welcome};
pub use value::Value;

/// The four bytes that open a [`Hello`] body after its type byte: `MPLG`.
pub const MAGIC: [u8; 4] = *b"MPLG";

/// The protocol version this crate speaks and sends: 2 (version 1 plus a
/// token in the hello and the sink's [`Reply`]).
pub const VERSION: u16 = 2;

/// The oldest hello version a sink of this crate accepts: 1 (a version-1
/// worker gets no reply; see `docs/wire.md`).
pub const MIN_VERSION: u16 = 1;

/// The default limit on a frame body: 1 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 1024 * 1024;

/// Capability bits of [`Hello::capabilities`] and [`Welcome::capabilities`].
///
/// A version-2 worker offers bits in its hello; the sink answers with the
/// subset it agrees to in its [`Welcome`], and only agreed behaviour is
/// used. A sink ignores bits it does not know (and never agrees to them).
/// A version-1 hello gets no answer, so nothing is agreed.
pub mod capabilities {
    /// Acknowledged delivery: the worker asks the sink to acknowledge
    /// events by [`seq`](super::EventView::seq) with [`Ack`](super::Ack)
    /// frames, and keeps what is not yet acknowledged to resend it. A sink
    /// that does not implement it answers with this bit cleared.
    pub const ACKED_DELIVERY: u64 = 1 << 0;
    /// The hello carries a token. The sink sets it in its welcome when it
    /// checked the token (it requires one).
    pub const AUTH_TOKEN: u64 = 1 << 1;
    /// The sink understands the dropped frame's reason `3`
    /// ([`DropReason::Truncated`](super::DropReason::Truncated)): events cut
    /// to fit the frame limit, counted, not lost. The worker reports them
    /// only when this bit was agreed.
    pub const TRUNCATION_REPORTS: u64 = 1 << 2;
}

/// How secrets appear in `Debug` output.
fn redacted(token: &str) -> &'static str {
    if token.is_empty() { "" } else { "<redacted>" }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum FrameType {
    Hello = 0x01,
    Event = 0x02,
    Dropped = 0x03,
    Goodbye = 0x04,
}

impl FrameType {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0x01 => FrameType::Hello,
            0x02 => FrameType::Event,
            0x03 => FrameType::Dropped,
            0x04 => FrameType::Goodbye,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests;
