//! The [`JsonFormatter`] in a plain `tracing_subscriber::fmt` layer, and
//! [`JsonFields`], which stores each span's fields as a JSON object so that
//! the formatter can put them, typed, into `span` and `spans`.

use std::fmt::{self, Write as _};

use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::{JsonFormatter, Object, call_site, head, origin, scope, string};
use crate::record::Value;

impl<S, N> FormatEvent<S, N> for JsonFormatter
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
        let normalized = tracing_mplog::origin::log_metadata(event);
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut out = String::with_capacity(256);
        head(&mut out, self.clock.now(), meta.level().as_str());
        out.push_str(",\"fields\":{");
        event.record(&mut JsonVisitor {
            obj: Object::new(&mut out),
            skip_log: normalized.is_some(),
        });
        out.push('}');
        call_site(&mut out, meta.target(), meta.file(), meta.line());
        let (spans, innermost) = span_objects(ctx, event);
        scope(&mut out, &spans, innermost);
        let thread = std::thread::current();
        origin(
            &mut out,
            thread.name(),
            format_args!("{:?}", thread.id()),
            std::process::id(),
            &self.process_name,
            &self.host,
        );
        writer.write_str(&out)
    }
}

/// The event's span objects, outermost first, and where the innermost
/// starts: each span's stored fields (a JSON object when the layer uses
/// [`JsonFields`]; other field formatters' text goes under `fields`), then
/// its `name`.
fn span_objects<S, N>(ctx: &FmtContext<'_, S, N>, event: &Event<'_>) -> (String, Option<usize>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    let mut spans = String::new();
    let mut innermost = None;
    let current = (event.parent().and_then(|id| ctx.span(id))).or_else(|| ctx.lookup_current());
    for span in current.into_iter().flat_map(|s| s.scope().from_root()) {
        if innermost.is_some() {
            spans.push(',');
        }
        innermost = Some(spans.len());
        spans.push('{');
        if let Some(f) = span.extensions().get::<FormattedFields<N>>() {
            match f.fields.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(members) => spans.push_str(members),
                None if !f.fields.is_empty() => {
                    spans.push_str("\"fields\":");
                    string(&mut spans, &f.fields);
                }
                None => {}
            }
        }
        let mut obj = Object::resume(&mut spans);
        obj.key("name");
        string(obj.out, span.name());
        spans.push('}');
    }
    (spans, innermost)
}

/// Writes a span's or an event's fields as JSON members, with the types
/// `fmt().json()` gives them.
struct JsonVisitor<'a> {
    obj: Object<'a>,
    /// A `log` record bridged by tracing-log: its `log.*` fields are the
    /// metadata already written as target, file and line.
    skip_log: bool,
}

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value<'_>) {
        if !(self.skip_log && field.name().starts_with("log.")) {
            self.obj.field(field.name(), value);
        }
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, Value::I128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, Value::U128(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Str(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.put(field, Value::Debug(&text));
    }
}

/// A [`FormatFields`] that stores a span's fields as one JSON object, so
/// that [`JsonFormatter`] can write them typed; pair the two in a `fmt`
/// layer (`.event_format(JsonFormatter::new()).fmt_fields(JsonFields::new())`).
/// Values recorded later with `Span::record` join the object.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonFields {
    _private: (),
}

impl JsonFields {
    /// The JSON field formatter.
    pub fn new() -> Self {
        JsonFields::default()
    }
}

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut out = String::from("{");
        fields.record(&mut JsonVisitor {
            obj: Object::new(&mut out),
            skip_log: false,
        });
        out.push('}');
        writer.write_str(&out)
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing_core::span::Record<'_>,
    ) -> fmt::Result {
        // Reopen the object: `{"a":1` + `,"b":2` + `}`.
        let text = &mut current.fields;
        if text.ends_with('}') {
            text.pop();
        } else {
            text.clear();
            text.push('{');
        }
        fields.record(&mut JsonVisitor {
            obj: Object::resume(text),
            skip_log: false,
        });
        text.push('}');
        Ok(())
    }
}
