//! [`SinkLayer`]: the parent process's own events, straight to the writer.

use std::fmt;
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_mplog::wire::{OwnedEvent, OwnedField, OwnedFrame, OwnedSpan, OwnedValue};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::writer::Msg;
use crate::clock::Clock;

/// A [`Layer`] that writes the parent process's own events through the
/// sink, formatted and routed like a worker's (pid: the parent's, process
/// name: the sink's `name`), without a socket hop.
///
/// Get one from [`SinkHandle::layer`](super::SinkHandle::layer). Events
/// logged after [`shutdown`](super::SinkHandle::shutdown) are discarded.
///
/// ```
/// use tracing_mplog_sink::Sink;
/// use tracing_subscriber::prelude::*;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let sink = Sink::builder()
///     .listen(format!("unix:{}", dir.path().join("s/log.sock").display()).parse()?)
///     .logdir(dir.path().join("logs"))
///     .name("parent")
///     .start()?;
/// let subscriber = tracing_subscriber::registry().with(sink.layer());
/// tracing::subscriber::with_default(subscriber, || tracing::info!("from the parent"));
/// sink.shutdown()?;
/// let text = std::fs::read_to_string(dir.path().join("logs/parent.log"))?;
/// assert!(text.contains("from the parent"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SinkLayer {
    pub(crate) tx: flume::Sender<Msg>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for SinkLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkLayer").finish_non_exhaustive()
    }
}

/// A span's fields, kept in its extensions.
#[derive(Debug, Clone, Default)]
struct SpanFields(Vec<OwnedField>);

/// Collects a value set into owned fields, the message apart.
struct Collect<'a> {
    fields: &'a mut Vec<OwnedField>,
    message: Option<&'a mut Option<String>>,
    /// A bridged `log` record: leave out the fields that carried its
    /// metadata.
    log_record: bool,
}

impl Collect<'_> {
    fn put(&mut self, field: &Field, value: OwnedValue) {
        if self.log_record && tracing_mplog::origin::is_log_metadata_field(field.name()) {
            return;
        }
        if field.name() == "message" {
            if let Some(message) = self.message.as_deref_mut().filter(|m| m.is_none()) {
                if let OwnedValue::Str(s) | OwnedValue::Debug(s) = value {
                    *message = Some(s);
                    return;
                }
            }
        }
        self.fields.push(OwnedField {
            name: field.name().to_owned(),
            value,
        });
    }
}

impl Visit for Collect<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, OwnedValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, OwnedValue::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, OwnedValue::I128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, OwnedValue::U128(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, OwnedValue::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, OwnedValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, OwnedValue::Str(value.to_owned()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, OwnedValue::Debug(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, OwnedValue::Debug(format!("{value:?}")));
    }
}

impl<S> Layer<S> for SinkLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields::default();
        attrs.record(&mut Collect {
            fields: &mut fields.0,
            message: None,
            log_record: false,
        });
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(fields) = ext.get_mut::<SpanFields>() {
            values.record(&mut Collect {
                fields: &mut fields.0,
                message: None,
                log_record: false,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // A `log` record bridged by `LogTracer`: its own target, module
        // path, file and line, not the bridge's.
        let normalized = tracing_mplog::origin::log_metadata(event);
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut fields = Vec::new();
        let mut message = None;
        event.record(&mut Collect {
            fields: &mut fields,
            message: Some(&mut message),
            log_record: normalized.is_some(),
        });
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| OwnedSpan {
                        name: span.name().to_owned(),
                        fields: span
                            .extensions()
                            .get::<SpanFields>()
                            .map(|f| f.0.clone())
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let owned = OwnedEvent {
            seq: 0,
            timestamp_ns: i64::try_from(self.clock.now().unix_timestamp_nanos()).unwrap_or(0),
            level: *meta.level(),
            target: meta.target().to_owned(),
            module_path: meta.module_path().map(str::to_owned),
            file: meta.file().map(str::to_owned),
            line: meta.line(),
            thread_id: tracing_mplog::origin::thread_id(),
            thread_name: std::thread::current().name().map(str::to_owned),
            message,
            fields,
            spans,
        };
        let mut bytes = Vec::new();
        OwnedFrame::Event(owned).encode(&mut bytes);
        bytes.drain(..4); // the length prefix: the writer takes bodies
        // After shutdown nobody listens; the event has nowhere to go.
        let _ = self.tx.send(Msg::Local(bytes));
    }
}
