//! The record view: what a formatter can ask of a log record.
//!
//! Two kinds of record reach a [`LevelFormatter`](crate::format::LevelFormatter):
//! a live `tracing::Event` inside a plain `tracing_subscriber::fmt` layer, and a
//! record decoded from a worker's frame inside the sink. Both implement
//! [`RecordView`], so a single formatting code path serves both.
//!
//! Text-valued parts that may need escaping or assembling (message, fields,
//! spans) are *written* into a `fmt::Write` rather than returned, so neither
//! path allocates per record.

use std::fmt;

use time::OffsetDateTime;
use tracing_core::Level;

/// A read-only view of one log record.
pub trait RecordView {
    /// When the event happened (UTC).
    fn timestamp(&self) -> OffsetDateTime;
    /// The event's level.
    fn level(&self) -> Level;
    /// The event's target (`tracing`'s equivalent of Python's logger name).
    fn target(&self) -> &str;
    /// The Rust module path of the call site, if known.
    fn module_path(&self) -> Option<&str>;
    /// The source file of the call site, if known.
    fn file(&self) -> Option<&str>;
    /// The source line of the call site, if known.
    fn line(&self) -> Option<u32>;
    /// The id of the process that emitted the event.
    fn pid(&self) -> u32;
    /// The name of the process that emitted the event.
    fn process_name(&self) -> &str;
    /// The name of the emitting thread, if it has one.
    fn thread_name(&self) -> Option<&str>;
    /// A numeric id of the emitting thread, unique within its process.
    fn thread_id(&self) -> u64;
    /// The host the emitting process runs on.
    fn host(&self) -> &str;
    /// Writes the event's message alone (empty if it has none).
    fn write_message(&self, w: &mut dyn fmt::Write) -> fmt::Result;
    /// Writes the event's fields other than the message as space-separated
    /// `key=value` pairs, in the style of `tracing_subscriber::fmt`
    /// (strings quoted, `Debug` values as they print).
    fn write_fields(&self, w: &mut dyn fmt::Write) -> fmt::Result;
    /// Whether [`write_fields`](Self::write_fields) writes anything.
    fn has_fields(&self) -> bool;
    /// The name of the innermost span the event is in, if any (what
    /// `funcName` renders; `<module>` is rendered when this is `None`).
    fn innermost_span(&self) -> Option<&str>;
    /// Writes the span scope, outermost first, as `tracing_subscriber::fmt`
    /// does: `outer{a=1}:inner` (nothing if the event is outside any span).
    fn write_spans(&self, w: &mut dyn fmt::Write) -> fmt::Result;
}
