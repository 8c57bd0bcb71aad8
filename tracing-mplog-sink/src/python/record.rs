//! [`PyRecordView`]: a decoded Python record as a [`RecordView`], so it goes
//! through the same [`LevelFormatter`](crate::format::LevelFormatter) and
//! router as a Rust worker's events.

use std::fmt;

use time::OffsetDateTime;
use tracing_core::Level;

use super::PyRecord;
use crate::record::RecordView;

/// A [`PyRecord`] with the host of its connection; see [`PyRecord::view`].
#[derive(Debug, Clone, Copy)]
pub struct PyRecordView<'a> {
    rec: &'a PyRecord,
    host: &'a str,
    level: Level,
    /// The time of the record: `created` to the microsecond, or the time of
    /// receipt when `created` is missing.
    nanos: i128,
}

impl<'a> PyRecordView<'a> {
    pub(super) fn new(rec: &'a PyRecord, host: &'a str, received_ns: i128) -> Self {
        let nanos = match rec.created {
            // Microseconds kept: Python's float holds them, not more.
            Some(c) if c.is_finite() && c.abs() < 1e12 => (c * 1e6).round() as i128 * 1000,
            _ => received_ns,
        };
        PyRecordView {
            rec,
            host,
            level: rec.level(),
            nanos,
        }
    }
}

impl RecordView for PyRecordView<'_> {
    fn timestamp(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
    fn level(&self) -> Level {
        self.level
    }
    fn level_name(&self) -> &str {
        &self.rec.levelname
    }
    fn level_no(&self) -> i64 {
        self.rec.levelno
    }
    fn created(&self) -> f64 {
        self.rec.created.unwrap_or(self.nanos as f64 / 1e9)
    }
    fn msecs(&self) -> f64 {
        self.rec
            .msecs
            .unwrap_or((self.nanos.rem_euclid(1_000_000_000) / 1_000_000) as f64)
    }
    fn target(&self) -> &str {
        &self.rec.name
    }
    fn module_path(&self) -> Option<&str> {
        Some(&self.rec.module)
    }
    fn file(&self) -> Option<&str> {
        Some(&self.rec.pathname)
    }
    fn file_name(&self) -> Option<&str> {
        Some(&self.rec.filename)
    }
    fn line(&self) -> Option<u32> {
        Some(self.rec.lineno)
    }
    fn pid(&self) -> u32 {
        self.rec.process
    }
    fn process_name(&self) -> &str {
        &self.rec.process_name
    }
    fn thread_name(&self) -> Option<&str> {
        Some(&self.rec.thread_name)
    }
    fn thread_id(&self) -> u64 {
        self.rec.thread
    }
    fn host(&self) -> &str {
        self.host
    }
    fn write_message(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str(&self.rec.msg)
    }
    fn write_fields(&self, _: &mut dyn fmt::Write) -> fmt::Result {
        Ok(())
    }
    fn has_fields(&self) -> bool {
        false
    }
    fn innermost_span(&self) -> Option<&str> {
        Some(&self.rec.func_name)
    }
    fn write_spans(&self, _: &mut dyn fmt::Write) -> fmt::Result {
        Ok(())
    }
    fn exc_text(&self) -> Option<&str> {
        self.rec.exc_text.as_deref()
    }
    fn visit_fields(&self, v: &mut dyn crate::record::VisitRecord) {
        use crate::record::Value;
        // What a text line appends after the message, as fields of a JSON
        // line; and the function, which a text template shows as funcName.
        v.field("funcName", Value::Str(&self.rec.func_name));
        if let Some(t) = &self.rec.exc_text {
            v.field("exc_text", Value::Str(t));
        }
        if let Some(s) = &self.rec.stack_info {
            v.field("stack_info", Value::Str(s));
        }
    }
    fn stack_info(&self) -> Option<&str> {
        self.rec.stack_info.as_deref()
    }
}
