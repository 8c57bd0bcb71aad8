//! Encoding straight from `tracing` data into wire bytes: the worker's hot
//! path. No text formatting beyond what `Debug` values force, no allocation
//! beyond growing the (reused) output buffer.

use std::fmt;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::wire::buf::{
    begin_frame, begin_len, end_len, put_debug, put_i64, put_str, put_u8, put_u32, put_u64,
};
use crate::wire::{
    FLAG_FILE, FLAG_LINE, FLAG_MODULE_PATH, FLAG_THREAD_NAME, FrameType, Tag, Value,
};

/// A span's fields, encoded once when recorded and kept in the span's
/// extensions; copied into each event frame inside the span.
#[derive(Debug, Default)]
pub(crate) struct SpanFields(pub(crate) Vec<u8>);

impl SpanFields {
    pub(crate) fn new(attrs: &Attributes<'_>) -> Self {
        let mut buf = Vec::new();
        attrs.record(&mut FieldEncoder(&mut buf));
        Self(buf)
    }

    pub(crate) fn record(&mut self, values: &Record<'_>) {
        values.record(&mut FieldEncoder(&mut self.0));
    }
}

/// Who logged: the parts of an event that come from the calling thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub(crate) timestamp_ns: i64,
    pub(crate) thread_id: u64,
    pub(crate) thread_name: Option<&'a str>,
}

/// Appends one event frame (length prefix included, sequence number 0: the
/// sender numbers frames) to `buf`.
pub(crate) fn encode_event<S>(
    buf: &mut Vec<u8>,
    event: &Event<'_>,
    ctx: &Context<'_, S>,
    origin: Origin<'_>,
) where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // A `log` record bridged by `LogTracer` carries its own target, module
    // path, file and line in fields; the event's metadata is the bridge's.
    let normalized = crate::origin::log_metadata(event);
    let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
    let at = begin_frame(buf, FrameType::Event as u8);
    let mut flags = 0;
    if meta.module_path().is_some() {
        flags |= FLAG_MODULE_PATH;
    }
    if meta.file().is_some() {
        flags |= FLAG_FILE;
    }
    if meta.line().is_some() {
        flags |= FLAG_LINE;
    }
    if origin.thread_name.is_some() {
        flags |= FLAG_THREAD_NAME;
    }
    put_u64(buf, 0);
    put_i64(buf, origin.timestamp_ns);
    put_u8(buf, crate::wire::level_to_u8(*meta.level()));
    put_u8(buf, flags);
    put_u64(buf, origin.thread_id);
    if let Some(line) = meta.line() {
        put_u32(buf, line);
    }
    put_str(buf, meta.target());
    for s in [meta.module_path(), meta.file(), origin.thread_name]
        .into_iter()
        .flatten()
    {
        put_str(buf, s);
    }
    encode_scope(buf, event, ctx);
    let fields_at = begin_len(buf);
    if normalized.is_some() {
        event.record(&mut LogRecordEncoder(FieldEncoder(buf)));
    } else {
        event.record(&mut FieldEncoder(buf));
    }
    end_len(buf, fields_at);
    end_len(buf, at);
}

/// Writes the span count and the spans, outermost first.
///
/// The registry walks a scope innermost first. The spans are written in that
/// order after the frame, then appended again in reverse and moved into
/// place, so each span's extensions are read once (a concurrent
/// `Span::record` cannot make the count and the bytes disagree) and nothing
/// is allocated besides the reused buffer.
fn encode_scope<S>(buf: &mut Vec<u8>, event: &Event<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let count_at = buf.len();
    put_u32(buf, 0);
    let Some(scope) = ctx.event_scope(event) else {
        return;
    };
    let start = buf.len();
    let mut count: u32 = 0;
    for span in scope {
        put_str(buf, span.name());
        let ext = span.extensions();
        match ext.get::<SpanFields>() {
            Some(fields) => {
                put_u32(buf, u32::try_from(fields.0.len()).unwrap_or(u32::MAX));
                buf.extend_from_slice(&fields.0);
            }
            None => put_u32(buf, 0),
        }
        count += 1;
    }
    buf[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
    let end = buf.len();
    for k in (0..count).rev() {
        let (from, to) = entry_bounds(buf, start, k);
        buf.extend_from_within(from..to);
    }
    buf.copy_within(end.., start);
    buf.truncate(end);
}

/// The byte range of the `k`th span entry written from `start` on.
fn entry_bounds(buf: &[u8], start: usize, k: u32) -> (usize, usize) {
    let read_len = |at: usize| {
        let mut b = [0; 4];
        b.copy_from_slice(&buf[at..at + 4]);
        u32::from_le_bytes(b) as usize
    };
    let mut at = start;
    let mut i = 0;
    loop {
        let name_len = read_len(at);
        let blob_at = at + 4 + name_len;
        let next = blob_at + 4 + read_len(blob_at);
        if i == k {
            return (at, next);
        }
        at = next;
        i += 1;
    }
}

/// A `Visit` that appends each field (name, tag, value) to a buffer.
pub(crate) struct FieldEncoder<'a>(pub(crate) &'a mut Vec<u8>);

impl FieldEncoder<'_> {
    fn field(&mut self, field: &Field, value: Value<'_>) {
        put_str(self.0, field.name());
        value.encode(self.0);
    }
}

impl Visit for FieldEncoder<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, Value::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.field(field, Value::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.field(field, Value::U128(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, Value::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, Value::Str(value));
    }

    /// Formats straight into the buffer instead of through a `Value`, which
    /// would need the text as a `&str` first.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        put_str(self.0, field.name());
        put_u8(self.0, Tag::Debug as u8);
        put_debug(self.0, value);
    }
}

/// A [`FieldEncoder`] for a bridged `log` record: leaves out the fields that
/// carried the record's metadata (already in the frame's header).
struct LogRecordEncoder<'a>(FieldEncoder<'a>);

impl Visit for LogRecordEncoder<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.record_i64(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if !crate::origin::is_log_metadata_field(field.name()) {
            self.0.record_u64(field, value);
        }
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.0.record_i128(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.0.record_u128(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.record_f64(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.record_bool(field, value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !crate::origin::is_log_metadata_field(field.name()) {
            self.0.record_str(field, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !crate::origin::is_log_metadata_field(field.name()) {
            self.0.record_debug(field, value);
        }
    }
}

impl fmt::Debug for LogRecordEncoder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogRecordEncoder").finish_non_exhaustive()
    }
}

impl fmt::Debug for FieldEncoder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldEncoder").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::{Level, Subscriber, info_span};
    use tracing_core::span;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    use super::*;
    use crate::wire::{Frame, OwnedEvent, OwnedFrame, OwnedValue};

    /// The capture half of the layer alone: encodes into a shared buffer.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
        fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(SpanFields::new(attrs));
            }
        }

        fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id) {
                if let Some(f) = span.extensions_mut().get_mut::<SpanFields>() {
                    f.record(values);
                }
            }
        }

        fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
            let origin = Origin {
                timestamp_ns: 5,
                thread_id: 6,
                thread_name: Some("t"),
            };
            let mut buf = self.0.lock().expect("test lock");
            buf.clear();
            encode_event(&mut buf, event, &ctx, origin);
        }
    }

    fn capture(f: impl FnOnce()) -> OwnedEvent {
        let cap = Capture::default();
        let subscriber = tracing_subscriber::registry().with(cap.clone());
        tracing::subscriber::with_default(subscriber, f);
        let bytes = cap.0.lock().expect("test lock").clone();
        match Frame::decode(&bytes[4..])
            .expect("valid frame")
            .into_owned()
        {
            OwnedFrame::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn event_with_spans_round_trips() {
        let e = capture(|| {
            let outer = info_span!("outer", a = 1u64, late = tracing::field::Empty);
            let _o = outer.enter();
            let inner = info_span!("inner", b = "x");
            let _i = inner.enter();
            outer.record("late", true);
            tracing::warn!(
                target: "app",
                i = -3i64, u = 4u64, big = i128::MIN, ubig = u128::MAX, f = 0.5f64,
                ok = false, s = "str", p = ?Some(1),
                "hello {}", 42
            );
        });
        assert_eq!(e.level, Level::WARN);
        assert_eq!(e.target, "app");
        assert_eq!(e.message.as_deref(), Some("hello 42"));
        assert_eq!((e.timestamp_ns, e.thread_id), (5, 6));
        assert_eq!(e.thread_name.as_deref(), Some("t"));
        assert_eq!(e.file.as_deref(), Some(file!()));
        assert_eq!(e.module_path.as_deref(), Some(module_path!()));
        assert!(e.line.is_some());
        let values: Vec<_> = e
            .fields
            .iter()
            .map(|f| (f.name.as_str(), &f.value))
            .collect();
        assert_eq!(
            values,
            [
                ("i", &OwnedValue::I64(-3)),
                ("u", &OwnedValue::U64(4)),
                ("big", &OwnedValue::I128(i128::MIN)),
                ("ubig", &OwnedValue::U128(u128::MAX)),
                ("f", &OwnedValue::F64(0.5)),
                ("ok", &OwnedValue::Bool(false)),
                ("s", &OwnedValue::Str("str".into())),
                ("p", &OwnedValue::Debug("Some(1)".into())),
            ]
        );
        let spans: Vec<_> = e
            .spans
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(spans, [("outer", vec!["a", "late"]), ("inner", vec!["b"])]);
    }

    #[cfg(feature = "log")]
    #[test]
    fn a_bridged_log_record_keeps_its_own_metadata() {
        let e = capture(|| mplog_test_support::log_through_the_bridge(1));
        assert_eq!(e.level, Level::WARN);
        assert_eq!(e.target, "dep");
        assert_eq!(e.module_path.as_deref(), Some("dep::inner"));
        assert_eq!(e.file.as_deref(), Some("dep/src/inner.rs"));
        assert_eq!(e.line, Some(42));
        assert_eq!(e.message.as_deref(), Some("from log 1"));
        assert!(e.fields.is_empty(), "no log.* fields: {:?}", e.fields);
    }

    #[test]
    fn event_outside_spans_has_no_scope() {
        let e = capture(|| tracing::info!("alone"));
        assert!(e.spans.is_empty());
        assert_eq!(e.message.as_deref(), Some("alone"));
    }

    #[test]
    fn deep_scopes_keep_their_order() {
        let e = capture(|| {
            // Each span is created inside the previous one.
            let mut entered = Vec::new();
            for i in 0..5 {
                entered.push(info_span!("s", i).entered());
            }
            tracing::info!("deep");
        });
        let order: Vec<_> = e.spans.iter().map(|s| s.fields[0].value.clone()).collect();
        let expected: Vec<_> = (0..5).map(OwnedValue::I64).collect();
        assert_eq!(order, expected);
    }
}
