//! [`JsonFormatter`] and [`JsonFields`]: JSON lines as `fmt().json()` writes them.

mod live;

use std::fmt::{self, Write as _};
use std::sync::Arc;

use time::OffsetDateTime;
use tracing_mplog::wire::Value;

pub use live::JsonFields;

use crate::clock::{Clock, SystemClock};
use crate::record::{RecordView, VisitRecord};

/// One JSON object per line, with the keys and value
/// types of `tracing_subscriber::fmt().json()` (file, line, thread names
/// and ids on), plus `pid`, `process` and `host`.
///
/// ```text
/// {"timestamp":"2026-12-03T11:00:00.123456Z","level":"INFO",
///  "fields":{"message":"saved","user":7},"target":"app","filename":"src/main.rs",
///  "line_number":12,"span":{"id":9,"name":"request"},"spans":[{"id":9,"name":"request"}],
///  "threadName":"main","threadId":"ThreadId(4711)","pid":4711,"process":"app","host":"h1"}
/// ```
///
/// The same formatter serves the sink (records decoded from frames, Python
/// records) through [`JsonFormatter::format_record`] on any [`RecordView`],
/// and a plain `tracing_subscriber::fmt` layer through
/// [`FormatEvent`](tracing_subscriber::fmt::FormatEvent) (see
/// [`JsonFields`] for typed span fields there). The output is valid JSON
/// for any input: strings are escaped as `serde_json` escapes them (control
/// characters as `\n`, `\t`, … or `\u00XX`), and a float that JSON cannot
/// hold (NaN, infinities) is `null`, as `serde_json` writes it.
///
/// ```
/// use tracing_mplog_sink::format::{JsonFields, JsonFormatter};
/// use tracing_subscriber::{fmt, prelude::*};
///
/// let layer = fmt::layer()
///     .event_format(JsonFormatter::new())
///     .fmt_fields(JsonFields::new());
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     let span = tracing::info_span!("request", id = 9);
///     let _in = span.enter();
///     tracing::info!(user = 7, "saved");
/// });
/// ```
#[derive(Clone, Debug)]
pub struct JsonFormatter {
    clock: Arc<dyn Clock>,
    process_name: String,
    host: String,
}

impl Default for JsonFormatter {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonFormatter {
    /// A formatter on the system clock; in a `fmt` layer, `process` is
    /// this executable's name and `host` this machine's.
    pub fn new() -> Self {
        JsonFormatter {
            clock: Arc::new(SystemClock),
            process_name: tracing_mplog::origin::default_process_name()
                .unwrap_or_else(|_| "unknown".to_owned()),
            host: tracing_mplog::origin::hostname(),
        }
    }

    /// Takes "now" for live events from `clock` (tests drive time with a
    /// [`ManualClock`](crate::clock::ManualClock)).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The `process` of live events (default: the executable's name).
    #[must_use]
    pub fn process_name(mut self, name: impl Into<String>) -> Self {
        self.process_name = name.into();
        self
    }

    /// Appends `rec` as one JSON object and a newline to `out`.
    pub fn format_record(&self, rec: &dyn RecordView, out: &mut String) {
        let mut spans = String::new();
        let innermost = write_spans(rec, &mut spans);
        head(out, rec.timestamp(), rec.level_name());
        out.push_str(",\"fields\":{");
        let mut obj = Object::new(out);
        if rec.has_message() {
            obj.key("message");
            obj.out.push('"');
            let _ = rec.write_message(&mut Escaped(obj.out));
            obj.out.push('"');
        }
        rec.visit_fields(&mut obj);
        out.push('}');
        call_site(out, rec.target(), rec.file(), rec.line());
        scope(out, &spans, innermost);
        let id = format_args!("ThreadId({})", rec.thread_id());
        origin(
            out,
            rec.thread_name(),
            id,
            rec.pid(),
            rec.process_name(),
            rec.host(),
        );
    }
}

/// `{"timestamp":…,"level":…`
fn head(out: &mut String, timestamp: OffsetDateTime, level: &str) {
    out.push_str("{\"timestamp\":\"");
    rfc3339_micros(timestamp, out);
    out.push_str("\",\"level\":");
    string(out, level);
}

/// `,"target":…,"filename":…,"line_number":…`
fn call_site(out: &mut String, target: &str, file: Option<&str>, line: Option<u32>) {
    out.push_str(",\"target\":");
    string(out, target);
    if let Some(file) = file {
        out.push_str(",\"filename\":");
        string(out, file);
    }
    if let Some(line) = line {
        let _ = write!(out, ",\"line_number\":{line}");
    }
}

/// `,"span":{…},"spans":[…]` from the span objects, outermost first,
/// comma-separated, and where the innermost one starts (nothing outside
/// any span).
fn scope(out: &mut String, spans: &str, innermost: Option<usize>) {
    if let Some(at) = innermost {
        out.push_str(",\"span\":");
        out.push_str(&spans[at..]);
        out.push_str(",\"spans\":[");
        out.push_str(spans);
        out.push(']');
    }
}

/// `,"threadName":…,"threadId":…,"pid":…,"process":…,"host":…}` and the
/// newline.
fn origin(
    out: &mut String,
    thread_name: Option<&str>,
    thread_id: fmt::Arguments<'_>,
    pid: u32,
    process: &str,
    host: &str,
) {
    if let Some(name) = thread_name {
        out.push_str(",\"threadName\":");
        string(out, name);
    }
    let _ = write!(out, ",\"threadId\":\"{thread_id}\",\"pid\":{pid}");
    out.push_str(",\"process\":");
    string(out, process);
    out.push_str(",\"host\":");
    string(out, host);
    out.push_str("}\n");
}

/// Writes the span objects, outermost first, comma-separated, into
/// `spans`; returns where the innermost one starts.
fn write_spans(rec: &dyn RecordView, spans: &mut String) -> Option<usize> {
    struct Spans<'a> {
        out: &'a mut String,
        open: Option<String>,
        last: Option<usize>,
    }
    impl Spans<'_> {
        fn close(&mut self) {
            if let Some(name) = self.open.take() {
                let mut obj = Object::resume(self.out);
                obj.key("name");
                string(obj.out, &name);
                self.out.push('}');
            }
        }
    }
    impl VisitRecord for Spans<'_> {
        fn field(&mut self, name: &str, value: Value<'_>) {
            let mut obj = Object::resume(self.out);
            obj.field(name, value);
        }
        fn span(&mut self, name: &str) {
            self.close();
            if !self.out.is_empty() {
                self.out.push(',');
            }
            self.last = Some(self.out.len());
            self.out.push('{');
            self.open = Some(name.to_owned());
        }
    }
    let mut v = Spans {
        out: spans,
        open: None,
        last: None,
    };
    rec.visit_spans(&mut v);
    v.close();
    v.last
}

/// Members of a JSON object being written: commas between them.
struct Object<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    /// After a `{` just written.
    fn new(out: &'a mut String) -> Self {
        Object { out, first: true }
    }

    /// In an object already open at the end of `out`.
    fn resume(out: &'a mut String) -> Self {
        let first = out.ends_with('{');
        Object { out, first }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        string(self.out, key);
        self.out.push(':');
    }

    fn field(&mut self, name: &str, value: Value<'_>) {
        // `r#type` is recorded as `type`, as fmt's JSON writes it.
        self.key(name.strip_prefix("r#").unwrap_or(name));
        json_value(self.out, value);
    }
}

impl VisitRecord for Object<'_> {
    fn field(&mut self, name: &str, value: Value<'_>) {
        Object::field(self, name, value);
    }
}

/// A field's value with the JSON type `fmt().json()` gives it: numbers
/// and booleans as such, strings and `Debug` text as strings, and the
/// 128-bit integers as their decimal text (tracing's visitors record them
/// through `Debug`).
pub(crate) fn json_value(out: &mut String, value: Value<'_>) {
    let _ = match value {
        Value::I64(v) => write!(out, "{v}"),
        Value::U64(v) => write!(out, "{v}"),
        Value::I128(v) => write!(out, "\"{v}\""),
        Value::U128(v) => write!(out, "\"{v}\""),
        Value::F64(v) if v.is_finite() => write!(out, "{v:?}"),
        Value::F64(_) => write!(out, "null"),
        Value::Bool(v) => write!(out, "{v}"),
        Value::Str(s) | Value::Debug(s) => {
            string(out, s);
            Ok(())
        }
        // A value kind a newer wire adds: its text.
        other => {
            let mut text = String::new();
            let _ = write!(text, "{other}");
            string(out, &text);
            Ok(())
        }
    };
}

/// A JSON string: `s` quoted and escaped.
pub(crate) fn string(out: &mut String, s: &str) {
    out.push('"');
    escape(out, s);
    out.push('"');
}

/// `s` escaped for the inside of a JSON string, as serde_json escapes it:
/// `"` and `\`, the short escapes `\b \f \n \r \t`, other control
/// characters as `\u00XX`; everything else as is (valid UTF-8 stays so).
pub(crate) fn escape(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// A `fmt::Write` that escapes what it is given into a JSON string.
pub(crate) struct Escaped<'a>(pub(crate) &'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape(self.0, s);
        Ok(())
    }
}

/// `2026-12-03T11:00:00.123456Z`: RFC 3339 in UTC with microseconds, as
/// `tracing_subscriber::fmt`'s default timer writes it.
pub(crate) fn rfc3339_micros(t: OffsetDateTime, out: &mut String) {
    rfc3339_micros_in_utc(t, "Z", out);
}

/// RFC 3339 in UTC with microseconds and `utc` (`Z`, `+00:00`) as the offset.
pub(crate) fn rfc3339_micros_in_utc(t: OffsetDateTime, utc: &str, out: &mut String) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{utc}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_serde_json() {
        let nasty = "q\"b\\n\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é\u{2028}😀";
        let mut ours = String::new();
        string(&mut ours, nasty);
        assert_eq!(ours, serde_json::to_string(nasty).expect("serialize"));
        let back: String = serde_json::from_str(&ours).expect("valid JSON");
        assert_eq!(back, nasty);
    }

    #[test]
    fn values_have_serde_json_types() {
        let cases: [(Value<'_>, serde_json::Value); 9] = [
            (Value::I64(-3), serde_json::json!(-3)),
            (Value::U64(u64::MAX), serde_json::json!(u64::MAX)),
            (Value::F64(1.0), serde_json::json!(1.0)),
            (Value::F64(f64::NAN), serde_json::Value::Null),
            (Value::Bool(true), serde_json::json!(true)),
            (Value::Str("a\"b"), serde_json::json!("a\"b")),
            (Value::Debug("Some(1)"), serde_json::json!("Some(1)")),
            (Value::I128(-5), serde_json::json!("-5")),
            (
                Value::U128(u128::MAX),
                serde_json::json!(u128::MAX.to_string()),
            ),
        ];
        for (v, want) in cases {
            let mut out = String::new();
            json_value(&mut out, v);
            let got: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
            assert_eq!(got, want, "{v:?} wrote {out}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let mut out = String::new();
        rfc3339_micros(
            time::macros::datetime!(2016-12-19 11:39:44.953189 +02:00),
            &mut out,
        );
        assert_eq!(out, "2016-12-19T09:39:44.953189Z");
    }
}
