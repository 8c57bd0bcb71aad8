//! A decoded event frame plus the process that sent it (its connection's
//! hello), as a [`RecordView`] for the formatter, the router and the
//! forwarders. The sink's readers make them; `forward` and the monitor read
//! them without reaching into the sink.

use std::fmt;

use time::OffsetDateTime;
use tracing_core::Level;
use tracing_mplog::wire::{EventView, Fields};

use crate::format::text;
use crate::record::{RecordView, VisitRecord};

/// The client process that sent the frames of one connection (from its
/// hello), or the parent process itself for the sink's own `SinkLayer`
/// events and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Client {
    /// The connection's number (0: the parent process itself).
    pub(crate) conn: u64,
    pub(crate) pid: u32,
    pub(crate) start_time_ns: i64,
    pub(crate) process_name: String,
    pub(crate) host: String,
}

/// A worker process: pids are reused over time and shared between hosts,
/// so the tally, the monitor and the acknowledgement marks all know a
/// process by its host, pid and start time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ProcessId {
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) start_time_ns: i64,
}

impl Client {
    /// The process this connection belongs to.
    pub(crate) fn process_id(&self) -> ProcessId {
        ProcessId {
            host: self.host.clone(),
            pid: self.pid,
            start_time_ns: self.start_time_ns,
        }
    }
}

/// One event with where it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WireRecord<'a> {
    pub(crate) event: &'a EventView<'a>,
    pub(crate) origin: &'a Client,
}

fn write_field_list(fields: Fields<'_>, w: &mut dyn fmt::Write) -> fmt::Result {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            w.write_char(' ')?;
        }
        let name = field.name.strip_prefix("r#").unwrap_or(field.name);
        write!(w, "{name}={}", field.value)?;
    }
    Ok(())
}

/// [`write_field_list`] straight into a `String`: the same text, each
/// value written by [`text::push_value`] (integers without `fmt`).
fn push_field_list(fields: Fields<'_>, out: &mut String) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(field.name.strip_prefix("r#").unwrap_or(field.name));
        out.push('=');
        text::push_value(out, &field.value);
    }
}

/// Nanoseconds since the epoch as whole seconds and the nanoseconds past
/// them, as `OffsetDateTime` splits them (with `i64`, not `i128`, math).
fn split_ns(ns: i64) -> (i64, u32) {
    // `rem_euclid` of a positive divisor is in `0..1_000_000_000`.
    let nanos = u32::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0);
    (ns.div_euclid(1_000_000_000), nanos)
}

impl RecordView for WireRecord<'_> {
    fn timestamp(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.event.timestamp_ns()))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
    fn unix_time(&self) -> (i64, u32) {
        split_ns(self.event.timestamp_ns())
    }
    fn level(&self) -> Level {
        self.event.level()
    }
    fn target(&self) -> &str {
        self.event.target()
    }
    fn module_path(&self) -> Option<&str> {
        self.event.module_path()
    }
    fn file(&self) -> Option<&str> {
        self.event.file()
    }
    fn line(&self) -> Option<u32> {
        self.event.line()
    }
    fn pid(&self) -> u32 {
        self.origin.pid
    }
    fn process_name(&self) -> &str {
        &self.origin.process_name
    }
    fn thread_name(&self) -> Option<&str> {
        self.event.thread_name()
    }
    fn thread_id(&self) -> u64 {
        self.event.thread_id()
    }
    fn host(&self) -> &str {
        &self.origin.host
    }
    fn write_message(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str(self.event.message())
    }
    fn write_fields(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        write_field_list(self.event.fields(), w)
    }
    fn push_fields(&self, out: &mut String) -> fmt::Result {
        push_field_list(self.event.fields(), out);
        Ok(())
    }
    fn has_fields(&self) -> bool {
        self.event.field_count() > 0
    }
    fn innermost_span(&self) -> Option<&str> {
        self.event.spans().last().map(|s| s.name())
    }
    fn write_spans(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        for (i, span) in self.event.spans().enumerate() {
            if i > 0 {
                w.write_char(':')?;
            }
            w.write_str(span.name())?;
            if span.fields().next().is_some() {
                w.write_char('{')?;
                write_field_list(span.fields(), w)?;
                w.write_char('}')?;
            }
        }
        Ok(())
    }
    fn has_message(&self) -> bool {
        self.event.has_message()
    }
    fn visit_fields(&self, v: &mut dyn VisitRecord) {
        for f in self.event.fields() {
            v.field(f.name, f.value);
        }
    }
    fn visit_spans(&self, v: &mut dyn VisitRecord) {
        for span in self.event.spans() {
            v.span(span.name());
            for f in span.fields() {
                v.field(f.name, f.value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The split the date is rendered from is the one `timestamp()`'s
        /// `OffsetDateTime` gives, before the epoch too.
        #[test]
        fn nanoseconds_split_as_offset_date_time_splits_them(ns: i64) {
            let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).expect("in range");
            prop_assert_eq!(split_ns(ns), (t.unix_timestamp(), t.nanosecond()));
        }
    }
}
