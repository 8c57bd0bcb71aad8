//! Encoding straight from `tracing` data into wire bytes: the worker's hot
//! path. No text formatting beyond what `Debug` values force, no allocation
//! beyond growing the (reused) output buffer.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Record};
use tracing_core::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::wire::encode::{EventHeader, HeaderTail, put_debug_field, put_field, put_span};
use crate::wire::{self, Value};

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
pub(crate) struct CallerThread<'a> {
    pub(crate) timestamp_ns: i64,
    pub(crate) thread_id: u64,
    pub(crate) thread_name: Option<&'a str>,
}

/// What a thread keeps to encode its next events faster (see
/// [`ScopeCache`] and [`CallsiteCache`]).
#[derive(Debug)]
pub(crate) struct Caches<'a> {
    pub(crate) scope: &'a mut ScopeCache,
    pub(crate) callsites: &'a mut CallsiteCache,
}

/// Appends one event frame (length prefix included, sequence number 0: the
/// sender numbers frames) to `buf`, with the help of this thread's
/// `caches` when there are any.
pub(crate) fn encode_event<S>(
    buf: &mut Vec<u8>,
    event: &Event<'_>,
    ctx: &Context<'_, S>,
    origin: CallerThread<'_>,
    caches: Option<Caches<'_>>,
) where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // A `log` record bridged by `LogTracer` carries its own target, module
    // path, file and line in fields; the event's metadata is the bridge's.
    let normalized = crate::origin::log_metadata(event);
    let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
    let header = EventHeader {
        seq: 0,
        timestamp_ns: origin.timestamp_ns,
        level: *meta.level(),
        thread_id: origin.thread_id,
        line: meta.line(),
        target: meta.target(),
        module_path: meta.module_path(),
        file: meta.file(),
        thread_name: origin.thread_name,
    };
    let (scope, tail) = match caches {
        // A bridged record's metadata is its own, not its callsite's.
        Some(c) if normalized.is_none() => (
            Some(c.scope),
            Some(c.callsites.tail(event.metadata(), &header)),
        ),
        Some(c) => (Some(c.scope), None),
        None => (None, None),
    };
    wire::encode::encode_event(
        buf,
        &header,
        tail,
        |buf| match scope {
            Some(cache) => cache.scope(buf, event, ctx),
            None => encode_scope(buf, event, ctx),
        },
        |buf| {
            if normalized.is_some() {
                event.record(&mut LogRecordEncoder(FieldEncoder(buf)));
            } else {
                event.record(&mut FieldEncoder(buf));
            }
        },
    );
}

/// Slots of a [`CallsiteCache`].
const CALLSITE_SLOTS: usize = 16;

/// One thread's encoded header ends ([`HeaderTail`]) of the callsites it
/// logged from, by the address of their `'static` metadata (unique to a
/// callsite for the life of the program): line, target, module path and
/// file come from the metadata, the thread name from the thread, so one
/// encoding serves every event of that callsite on this thread.
/// Direct-mapped: a callsite that lands on an occupied slot takes it over.
#[derive(Debug)]
pub(crate) struct CallsiteCache {
    slots: [(usize, HeaderTail); CALLSITE_SLOTS],
}

impl CallsiteCache {
    pub(crate) fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| (0, HeaderTail::default())),
        }
    }

    /// The header end of `callsite`, whose event has `header` (with this
    /// thread's name).
    fn tail(
        &mut self,
        callsite: &'static Metadata<'static>,
        header: &EventHeader<'_>,
    ) -> &HeaderTail {
        let key = std::ptr::from_ref(callsite) as usize;
        let slot = &mut self.slots[(key >> 4) % CALLSITE_SLOTS];
        if slot.0 != key {
            slot.1.set(header);
            slot.0 = key;
        }
        &slot.1
    }
}

/// Bumped after every `Span::record` (by any layer of this crate): a
/// cached scope built before may hold a span's old fields.
static RECORDED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Bumped at every span enter and exit on this thread (by any layer of
    /// this crate): the thread's current span may have changed.
    static MOVED: Cell<u64> = const { Cell::new(0) };
}

/// A span's fields changed (`on_record`): every cached scope is stale.
pub(crate) fn span_recorded() {
    RECORDED.fetch_add(1, Ordering::Release);
}

/// This thread entered or left a span: its cached scopes are stale.
pub(crate) fn scope_moved() {
    MOVED.with(|m| m.set(m.get().wrapping_add(1)));
}

/// One thread's encoded span scope for one layer, kept between events.
///
/// An event inside the thread's current span (a contextual event, what
/// `info!` logs) has the scope the registry gives for that span: its
/// ancestors are fixed when it is created, their fields change only
/// through `Span::record`, and the current span only when this thread
/// enters or leaves one. So the scope is encoded once and copied into each
/// event until one of those happens ([`scope_moved`], [`span_recorded`]);
/// then the next event looks it up and encodes it again. Events with an
/// explicit parent take the lookup every time.
#[derive(Debug)]
pub(crate) struct ScopeCache {
    /// The layer whose registry the scope comes from.
    layer: u64,
    /// [`MOVED`] and [`RECORDED`] when it was built; `None`: never built.
    built: Option<(u64, u64)>,
    count: u32,
    /// The span entries, outermost first, as they go into a frame.
    bytes: Vec<u8>,
}

impl ScopeCache {
    pub(crate) fn new(layer: u64) -> Self {
        Self {
            layer,
            built: None,
            count: 0,
            bytes: Vec::new(),
        }
    }

    pub(crate) fn layer(&self) -> u64 {
        self.layer
    }

    /// Writes the event's spans, outermost first, and returns how many:
    /// from the cache when it is current, else looked up (and cached).
    fn scope<S>(&mut self, buf: &mut Vec<u8>, event: &Event<'_>, ctx: &Context<'_, S>) -> u32
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if !event.is_contextual() {
            return encode_scope(buf, event, ctx);
        }
        // Read before the spans are: a record that lands while they are
        // read leaves the cache stale, never wrong.
        let now = (MOVED.with(Cell::get), RECORDED.load(Ordering::Acquire));
        if self.built == Some(now) {
            buf.extend_from_slice(&self.bytes);
            return self.count;
        }
        let start = buf.len();
        let count = encode_scope(buf, event, ctx);
        self.bytes.clear();
        self.bytes.extend_from_slice(&buf[start..]);
        self.count = count;
        self.built = Some(now);
        count
    }
}

/// Writes the spans, outermost first, and returns how many.
///
/// The registry walks a scope innermost first. The spans are written in that
/// order after the frame, then appended again in reverse and moved into
/// place, so each span's extensions are read once (a concurrent
/// `Span::record` cannot make the count and the bytes disagree) and nothing
/// is allocated besides the reused buffer.
fn encode_scope<S>(buf: &mut Vec<u8>, event: &Event<'_>, ctx: &Context<'_, S>) -> u32
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(scope) = ctx.event_scope(event) else {
        return 0;
    };
    let start = buf.len();
    let mut count: u32 = 0;
    for span in scope {
        let ext = span.extensions();
        let fields = ext.get::<SpanFields>().map_or(&[][..], |f| &f.0[..]);
        put_span(buf, span.name(), |buf| buf.extend_from_slice(fields));
        count += 1;
    }
    let end = buf.len();
    for k in (0..count).rev() {
        let (from, to) = entry_bounds(buf, start, k);
        buf.extend_from_within(from..to);
    }
    buf.copy_within(end.., start);
    buf.truncate(end);
    count
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
        put_field(self.0, field.name(), value);
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
        put_debug_field(self.0, field.name(), value);
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
mod tests;
