//! [`FormatEvent`] for [`LevelFormatter`]: a live `tracing` event seen through
//! the [`RecordView`] the sink's decoded records also implement, so both go
//! through [`LevelFormatter::format_record`].

use std::cell::RefCell;
use std::fmt;

use time::OffsetDateTime;
use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::{Inner, LevelFormatter};
use crate::record::RecordView;

impl<S, N> FormatEvent<S, N> for LevelFormatter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        let thread = std::thread::current();
        let rec = LiveRecord {
            ctx,
            event,
            inner: &self.inner,
            now: self.inner.clock.now(),
            normalized: tracing_mplog::origin::log_metadata(event),
            pid: std::process::id(),
            thread_name: thread.name(),
            thread_id: tracing_mplog::origin::thread_id(),
        };
        LINE.with(|line| match line.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                self.format_record(&rec, &mut line)?;
                writer.write_str(&line)
            }
            // Formatting this event logged another one on the same thread.
            Err(_) => {
                let mut line = String::new();
                self.format_record(&rec, &mut line)?;
                writer.write_str(&line)
            }
        })
    }
}

/// A live event with its context, as a [`RecordView`].
struct LiveRecord<'a, 'c, S, N>
where
    S: Subscriber + for<'l> LookupSpan<'l>,
    N: for<'w> FormatFields<'w> + 'static,
{
    ctx: &'a FmtContext<'c, S, N>,
    event: &'a Event<'a>,
    inner: &'a Inner,
    now: OffsetDateTime,
    /// For a `log` record bridged by `LogTracer`: the record's own metadata.
    normalized: Option<Metadata<'a>>,
    pid: u32,
    thread_name: Option<&'a str>,
    thread_id: u64,
}

impl<S, N> LiveRecord<'_, '_, S, N>
where
    S: Subscriber + for<'l> LookupSpan<'l>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn meta(&self) -> &Metadata<'_> {
        self.normalized
            .as_ref()
            .unwrap_or_else(|| self.event.metadata())
    }

    fn writer<'w>(&self, w: &'w mut dyn fmt::Write, message: bool) -> FieldWriter<'w> {
        FieldWriter {
            w,
            message,
            log_record: self.normalized.is_some(),
            first: true,
            result: Ok(()),
        }
    }
}

impl<S, N> RecordView for LiveRecord<'_, '_, S, N>
where
    S: Subscriber + for<'l> LookupSpan<'l>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn timestamp(&self) -> OffsetDateTime {
        self.now
    }
    fn level(&self) -> Level {
        *self.meta().level()
    }
    fn target(&self) -> &str {
        self.meta().target()
    }
    fn module_path(&self) -> Option<&str> {
        self.meta().module_path()
    }
    fn file(&self) -> Option<&str> {
        self.meta().file()
    }
    fn line(&self) -> Option<u32> {
        self.meta().line()
    }
    fn pid(&self) -> u32 {
        self.pid
    }
    fn process_name(&self) -> &str {
        &self.inner.process_name
    }
    fn thread_name(&self) -> Option<&str> {
        self.thread_name
    }
    fn thread_id(&self) -> u64 {
        self.thread_id
    }
    fn host(&self) -> &str {
        &self.inner.host
    }
    fn write_message(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        let mut v = self.writer(w, true);
        self.event.record(&mut v);
        v.result
    }
    fn write_fields(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        let mut v = self.writer(w, false);
        self.event.record(&mut v);
        v.result
    }
    fn has_fields(&self) -> bool {
        let log_record = self.normalized.is_some();
        self.event.fields().any(|f| {
            f.name() != "message"
                && !(log_record && tracing_mplog::origin::is_log_metadata_field(f.name()))
        })
    }
    fn innermost_span(&self) -> Option<&str> {
        self.ctx.event_scope()?.next().map(|span| span.name())
    }
    fn write_spans(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        let Some(scope) = self.ctx.event_scope() else {
            return Ok(());
        };
        for (i, span) in scope.from_root().enumerate() {
            if i > 0 {
                w.write_char(':')?;
            }
            w.write_str(span.name())?;
            let ext = span.extensions();
            if let Some(fields) = ext.get::<FormattedFields<N>>() {
                if !fields.is_empty() {
                    write!(w, "{{{}}}", fields.fields)?;
                }
            }
        }
        Ok(())
    }
}

/// Writes either the `message` field alone, or every other field as
/// space-separated `key=value`, as `tracing_subscriber::fmt` prints them.
struct FieldWriter<'w> {
    w: &'w mut dyn fmt::Write,
    message: bool,
    /// A bridged `log` record: leave out the fields that carried its
    /// metadata.
    log_record: bool,
    first: bool,
    result: fmt::Result,
}

impl FieldWriter<'_> {
    fn put(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() || (field.name() == "message") != self.message {
            return;
        }
        if self.log_record && tracing_mplog::origin::is_log_metadata_field(field.name()) {
            return;
        }
        self.result = if self.message {
            self.w.write_fmt(value)
        } else {
            let sep = if self.first { "" } else { " " };
            self.first = false;
            let name = field.name();
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(self.w, "{sep}{name}={value}")
        };
    }
}

impl Visit for FieldWriter<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, format_args!("{value}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, format_args!("{value}"));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, format_args!("{value}"));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, format_args!("{value}"));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, format_args!("{value:?}"));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, format_args!("{value}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.message {
            self.put(field, format_args!("{value}"));
        } else {
            self.put(field, format_args!("{value:?}"));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format_args!("{value:?}"));
    }
}
