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

#[cfg(feature = "sink")]
mod wire;

use std::fmt;

#[cfg(feature = "sink")]
pub(crate) use wire::{Client, ProcessId, WireRecord};

use time::OffsetDateTime;
use tracing_core::Level;
/// A field's typed value, as [`RecordView::visit_fields`] hands it over.
pub use tracing_mplog::wire::Value;

/// What a structured formatter (the [`JsonFormatter`](crate::format::JsonFormatter))
/// is handed by [`RecordView::visit_fields`] and [`RecordView::visit_spans`].
pub trait VisitRecord {
    /// One field, with its type.
    fn field(&mut self, name: &str, value: Value<'_>);
    /// A span of the scope begins (outermost first); its fields follow
    /// through [`field`](Self::field).
    fn span(&mut self, name: &str) {
        let _ = name;
    }
}

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
    /// Appends what [`write_fields`](Self::write_fields) writes to a
    /// `String` (what the formatter calls). By default through
    /// `write_fields`; a record that can write straight into the `String`
    /// (the sink's decoded records do, integers without `fmt`) overrides it,
    /// with the same text.
    fn push_fields(&self, out: &mut String) -> fmt::Result {
        self.write_fields(out)
    }
    /// The name of the innermost span the event is in, if any (what
    /// `funcName` renders; `<module>` is rendered when this is `None`).
    fn innermost_span(&self) -> Option<&str>;
    /// Writes the span scope, outermost first, as `tracing_subscriber::fmt`
    /// does: `outer{a=1}:inner` (nothing if the event is outside any span).
    fn write_spans(&self, w: &mut dyn fmt::Write) -> fmt::Result;

    /// The level's name as `%(levelname)s` renders it: `TRACE` ... `ERROR`
    /// for `tracing` events; Python's own (`WARNING`, `CRITICAL`) for a
    /// Python record.
    fn level_name(&self) -> &str {
        self.level().as_str()
    }
    /// The level's number as `%(levelno)d` renders it (Python's numbers,
    /// `TRACE` = 5; a Python record's own, `CRITICAL` = 50).
    fn level_no(&self) -> i64 {
        match self.level() {
            Level::TRACE => 5,
            Level::DEBUG => 10,
            Level::INFO => 20,
            Level::WARN => 30,
            Level::ERROR => 40,
        }
    }
    /// The timestamp as whole seconds since the Unix epoch and the
    /// nanoseconds past them (`0..1_000_000_000`): what the date is
    /// rendered from. By default from [`timestamp`](Self::timestamp); a
    /// record that holds it that way already overrides it.
    fn unix_time(&self) -> (i64, u32) {
        let t = self.timestamp();
        (t.unix_timestamp(), t.nanosecond())
    }
    /// `created` as Python's `LogRecord` holds it: seconds since the epoch
    /// as a float (by default `time_ns() / 1e9` of the timestamp).
    fn created(&self) -> f64 {
        self.timestamp().unix_timestamp_nanos() as f64 / 1e9
    }
    /// `msecs` as Python's `LogRecord` (3.13+) computes it from the
    /// timestamp: the whole milliseconds, as a float.
    fn msecs(&self) -> f64 {
        (self
            .timestamp()
            .unix_timestamp_nanos()
            .rem_euclid(1_000_000_000)
            / 1_000_000) as f64
    }
    /// The source file's last component, if the record carries its own
    /// (by default it is cut from [`file`](Self::file)).
    fn file_name(&self) -> Option<&str> {
        None
    }
    /// A formatted traceback, appended after the rendered line as Python's
    /// `Formatter.format` appends `exc_text` (only Python records have one).
    fn exc_text(&self) -> Option<&str> {
        None
    }
    /// A formatted stack, appended after `exc_text` as Python's
    /// `Formatter.format` appends `stack_info`.
    fn stack_info(&self) -> Option<&str> {
        None
    }
    /// Whether the event has a message (a JSON line leaves out
    /// `fields.message` without one). By default every record has one.
    fn has_message(&self) -> bool {
        true
    }
    /// Hands `v` each field other than the message, typed, in the order
    /// they were recorded. By default a record has no typed fields.
    fn visit_fields(&self, v: &mut dyn VisitRecord) {
        let _ = v;
    }
    /// Hands `v` the span scope, outermost first: each span's name
    /// ([`VisitRecord::span`]), then its fields. By default none.
    fn visit_spans(&self, v: &mut dyn VisitRecord) {
        let _ = v;
    }
}
