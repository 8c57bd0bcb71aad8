//! RFC 5424 messages: one [`Record`] as `HEADER SP STRUCTURED-DATA [SP MSG]`,
//! whole (for TCP and TLS) or cut to a datagram's limit (for UDP), and the
//! octet-counting frame of RFC 6587 §3.4.1.
//!
//! The mapping is the table in the parent module's documentation.

use std::fmt::Write as _;

use tracing_mplog::wire::{EventView, Field, Value};

use crate::forward::Record;

/// The SD-ID of the element holding the event's fields: `mplog` at the
/// private enterprise number 32473, which RFC 5612 reserves for
/// documentation and examples (tracing-mplog has no number of its own).
pub(crate) const SD_ID: &str = "mplog@32473";

/// The NILVALUE of RFC 5424 §6: a header field or the structured data
/// that is absent.
const NIL: &str = "-";

/// The longest HOSTNAME, APP-NAME and MSGID (RFC 5424 §6), in octets.
/// (PROCID may have 128; a pid has at most ten digits.)
const HOSTNAME_MAX: usize = 255;
const APP_NAME_MAX: usize = 48;
const MSGID_MAX: usize = 32;
/// The longest SD-NAME (PARAM-NAME) (RFC 5424 §6.3.3).
const SD_NAME_MAX: usize = 32;

/// Appends the whole message for `record` (no framing); `false` (and
/// nothing appended) if its event does not decode, which cannot happen:
/// the reader checked it when it made the record.
pub(crate) fn encode(record: &Record, facility: u8, out: &mut Vec<u8>) -> bool {
    let Some(event) = record.event() else {
        return false;
    };
    header(record, &event, facility, out);
    out.push(b' ');
    structured_data(&event, out);
    let message = event.message();
    if !message.is_empty() {
        out.push(b' ');
        out.extend_from_slice(message.as_bytes());
    }
    true
}

/// Appends the message for `record` cut to `limit` octets, as RFC 5426
/// §3.2 wants of a datagram: the header is kept whole; the structured data
/// becomes `-` if the header and it alone exceed the limit; then MSG is cut
/// at a UTF-8 character boundary (and left out if nothing of it fits).
///
/// The header is at most 387 octets (a 255-octet HOSTNAME, the other fields
/// at their maximum, a ten-digit pid), so with the 480-octet minimum
/// `max-datagram` it and ` -` always fit; below that (never with a
/// validated destination) the datagram would be the header and ` -`,
/// longer than the limit.
///
/// `false` (and nothing appended) if the event does not decode, as
/// [`encode`].
pub(crate) fn encode_datagram(
    record: &Record,
    facility: u8,
    limit: usize,
    out: &mut Vec<u8>,
) -> bool {
    let Some(event) = record.event() else {
        return false;
    };
    let start = out.len();
    header(record, &event, facility, out);
    let sd_at = out.len();
    out.push(b' ');
    structured_data(&event, out);
    if out.len() - start > limit {
        out.truncate(sd_at);
        out.extend_from_slice(b" -");
    }
    let used = out.len() - start;
    // One octet for the SP before MSG.
    let room = limit.saturating_sub(used + 1);
    let message = event.message();
    if !message.is_empty() && room > 0 {
        out.push(b' ');
        out.extend_from_slice(cut_at_char(message, room).as_bytes());
    }
    true
}

/// Appends `msg` framed by octet counting (RFC 6587 §3.4.1):
/// `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in decimal octets.
pub(crate) fn frame(msg: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(msg.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg);
}

/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID`.
fn header(record: &Record, event: &EventView<'_>, facility: u8, out: &mut Vec<u8>) {
    let pri = u16::from(facility) * 8 + u16::from(record.syslog_severity(event));
    let mut text = String::with_capacity(96);
    let _ = write!(text, "<{pri}>1 ");
    timestamp(event.timestamp_ns(), &mut text);
    text.push(' ');
    header_field(&record.origin.host, HOSTNAME_MAX, &mut text);
    text.push(' ');
    header_field(&record.origin.process_name, APP_NAME_MAX, &mut text);
    text.push(' ');
    let _ = write!(text, "{}", record.origin.pid);
    text.push(' ');
    header_field(event.target(), MSGID_MAX, &mut text);
    out.extend_from_slice(text.as_bytes());
}

/// The TIMESTAMP: RFC 3339 in UTC with exactly six fraction digits (RFC
/// 5424 allows at most six) and a numeric offset,
/// `2025-12-02T12:00:00.123456+00:00`; truncated, not rounded, to the
/// microsecond. Nanoseconds in an `i64` span the years 1677 to 2262, all
/// with the four-digit years RFC 3339 has; `-` (never seen) if `time`
/// refused one.
fn timestamp(ns: i64, out: &mut String) {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)) else {
        out.push_str(NIL);
        return;
    };
    crate::format::rfc3339_micros_in_utc(t, "+00:00", out);
}

/// A header field: each character outside PRINTUSASCII (`!` to `~`)
/// becomes `_`, then the text is cut to `max` octets; `-` when empty.
fn header_field(text: &str, max: usize, out: &mut String) {
    if text.is_empty() {
        out.push_str(NIL);
        return;
    }
    out.extend(
        text.chars()
            .map(|c| if is_printusascii(c) { c } else { '_' })
            .take(max),
    );
}

/// `[mplog@32473 name="value" …]` with every field in order, or `-`
/// without fields.
fn structured_data(event: &EventView<'_>, out: &mut Vec<u8>) {
    let mut fields = event.fields().peekable();
    if fields.peek().is_none() {
        out.extend_from_slice(NIL.as_bytes());
        return;
    }
    let mut text = String::with_capacity(64);
    text.push('[');
    text.push_str(SD_ID);
    for field in fields {
        text.push(' ');
        sd_param(&field, &mut text);
    }
    text.push(']');
    out.extend_from_slice(text.as_bytes());
}

/// `name="value"`: the SD-NAME sanitised, the value escaped.
fn sd_param(field: &Field<'_>, out: &mut String) {
    let name = field.name.strip_prefix("r#").unwrap_or(field.name);
    if name.is_empty() {
        out.push('_');
    }
    out.extend(
        name.chars()
            .map(|c| {
                if is_printusascii(c) && !matches!(c, '=' | ']' | '"') {
                    c
                } else {
                    '_'
                }
            })
            .take(SD_NAME_MAX),
    );
    out.push_str("=\"");
    match field.value {
        Value::Str(s) | Value::Debug(s) => escape_param_value(s, out),
        other => {
            // Numbers and booleans print without `"`, `\` or `]`.
            let _ = write!(out, "{other}");
        }
    }
    out.push('"');
}

/// PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a
/// backslash; everything else is kept as UTF-8.
fn escape_param_value(value: &str, out: &mut String) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// PRINTUSASCII of RFC 5424: `%d33-126`.
fn is_printusascii(c: char) -> bool {
    ('!'..='~').contains(&c)
}

/// The longest prefix of `s` of at most `max` octets that ends on a
/// character boundary.
fn cut_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::record::sample;
    use crate::record::Client;
    use std::sync::Arc;
    use tracing_core::Level;
    use tracing_mplog::wire::{OwnedEvent, OwnedField, OwnedValue};

    /// The sample record's SD, escaped.
    const SAMPLE_SD: &str =
        r#"[mplog@32473 count="-3" big="7" ratio="0.5" ok="true" user="ann \"a\"\]" err="Oops"]"#;

    /// The sample event changed by `edit`, from a process named `name`
    /// with `pid` on `host`.
    fn record(host: &str, name: &str, pid: u32, edit: impl FnOnce(&mut OwnedEvent)) -> Record {
        let mut r = sample::record_with(edit);
        r.origin = Arc::new(Client {
            conn: 1,
            pid,
            start_time_ns: 0,
            process_name: name.into(),
            host: host.into(),
        });
        r
    }

    fn encoded(record: &Record, facility: u8) -> String {
        let mut out = Vec::new();
        assert!(encode(record, facility, &mut out));
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn the_sample_record_is_one_exact_message() {
        assert_eq!(
            encoded(&sample::record(), 1),
            format!(
                "<14>1 2025-12-02T12:00:00.123456+00:00 host-a worker-1 4242 app::jobs {SAMPLE_SD} job done"
            )
        );
    }

    #[test]
    fn pri_is_facility_times_8_plus_the_severity_of_each_level() {
        for (level, facility, pri) in [
            (Level::ERROR, 1, 11),
            (Level::WARN, 1, 12),
            (Level::INFO, 1, 14),
            (Level::DEBUG, 1, 15),
            (Level::TRACE, 1, 15),
            (Level::ERROR, 0, 3),
            (Level::TRACE, 23, 191),
            (Level::INFO, 16, 134),
        ] {
            let text = encoded(&sample::record_with(|e| e.level = level), facility);
            assert!(
                text.starts_with(&format!("<{pri}>1 ")),
                "{level} {facility}: {text}"
            );
        }
    }

    /// A Python record at `levelno` (ERROR as a level from 40 up).
    struct Py(i64);

    impl crate::record::RecordView for Py {
        fn timestamp(&self) -> time::OffsetDateTime {
            time::OffsetDateTime::UNIX_EPOCH
        }
        fn level(&self) -> Level {
            Level::ERROR
        }
        fn level_no(&self) -> i64 {
            self.0
        }
        fn level_name(&self) -> &str {
            if self.0 >= 50 { "CRITICAL" } else { "ERROR" }
        }
        fn target(&self) -> &str {
            "py.app"
        }
        fn module_path(&self) -> Option<&str> {
            None
        }
        fn file(&self) -> Option<&str> {
            None
        }
        fn line(&self) -> Option<u32> {
            None
        }
        fn pid(&self) -> u32 {
            9
        }
        fn process_name(&self) -> &str {
            "py"
        }
        fn thread_name(&self) -> Option<&str> {
            None
        }
        fn thread_id(&self) -> u64 {
            1
        }
        fn host(&self) -> &str {
            "h"
        }
        fn write_message(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
            w.write_str("disk full")
        }
        fn write_fields(&self, _: &mut dyn std::fmt::Write) -> std::fmt::Result {
            Ok(())
        }
        fn has_fields(&self) -> bool {
            false
        }
        fn innermost_span(&self) -> Option<&str> {
            None
        }
        fn write_spans(&self, _: &mut dyn std::fmt::Write) -> std::fmt::Result {
            Ok(())
        }
    }

    #[test]
    fn a_python_critical_is_severity_2_and_its_error_3() {
        let origin = Arc::new(Client {
            conn: 2,
            pid: 9,
            start_time_ns: 0,
            process_name: "py".into(),
            host: "h".into(),
        });
        for (levelno, pri) in [(50, 10), (60, 10), (40, 11)] {
            let r = Record::from_python(&Py(levelno), &origin, 0);
            assert_eq!(
                encoded(&r, 1),
                format!("<{pri}>1 1970-01-01T00:00:00.000000+00:00 h py 9 py.app - disk full")
            );
        }
    }

    #[test]
    fn header_fields_are_sanitised_cut_and_nil_when_empty() {
        let r = record(&"h".repeat(300), "my app é", 1, |e| {
            e.target = "a very long target::with spaces::and::more".into();
            e.fields.clear();
            e.message = None;
        });
        assert_eq!(
            encoded(&r, 1),
            format!(
                "<14>1 2025-12-02T12:00:00.123456+00:00 {} my_app__ 1 a_very_long_target::with_spaces: -",
                "h".repeat(255)
            )
        );
        let r = record("", "", 77, |e| {
            e.target = String::new();
            e.fields.clear();
        });
        assert_eq!(
            encoded(&r, 1),
            "<14>1 2025-12-02T12:00:00.123456+00:00 - - 77 - - job done"
        );
        // 48 octets of APP-NAME, control characters replaced.
        let r = record("h", &format!("p\t\n{}", "x".repeat(60)), 5, |_| {});
        let text = encoded(&r, 1);
        assert!(
            text.contains(&format!(" h p__{} 5 ", "x".repeat(45))),
            "{text}"
        );
    }

    #[test]
    fn timestamps_are_utc_microseconds_truncated_down() {
        for (ns, want) in [
            (0, "1970-01-01T00:00:00.000000+00:00"),
            (999, "1970-01-01T00:00:00.000000+00:00"),
            (1_999, "1970-01-01T00:00:00.000001+00:00"),
            (-1, "1969-12-31T23:59:59.999999+00:00"),
            (i64::MAX, "2262-04-11T23:47:16.854775+00:00"),
            (i64::MIN, "1677-09-21T00:12:43.145224+00:00"),
        ] {
            let mut s = String::new();
            timestamp(ns, &mut s);
            assert_eq!(s, want, "{ns}");
        }
    }

    #[test]
    fn sd_names_are_sanitised_cut_and_raw_prefix_stripped() {
        let field = |name: &str, value| OwnedField {
            name: name.into(),
            value,
        };
        let r = sample::record_with(|e| {
            e.fields = vec![
                field("r#type", OwnedValue::Str("x".into())),
                field("a=b c]d\"e", OwnedValue::U128(u128::MAX)),
                field(&"n".repeat(40), OwnedValue::Debug(r"C:\dir [x]".into())),
                field("", OwnedValue::Str("é\n".into())),
                field("f", OwnedValue::F64(1e21)),
                field("i", OwnedValue::I128(-5)),
            ];
            e.message = None;
        });
        assert_eq!(
            encoded(&r, 1),
            format!(
                "<14>1 2025-12-02T12:00:00.123456+00:00 host-a worker-1 4242 app::jobs \
                 [mplog@32473 type=\"x\" a_b_c_d_e=\"{}\" {}=\"C:\\\\dir [x\\]\" _=\"é\n\" f=\"1e21\" i=\"-5\"]",
                u128::MAX,
                "n".repeat(32)
            )
        );
    }

    #[test]
    fn messages_are_utf8_without_bom_and_omitted_when_empty() {
        let r = sample::record_with(|e| {
            e.message = Some("héllo\nworld".into());
            e.fields.clear();
        });
        let text = encoded(&r, 1);
        assert!(text.ends_with(" - héllo\nworld"), "{text}");
        assert!(!text.contains('\u{feff}'));
        for message in [None, Some(String::new())] {
            let r = sample::record_with(|e| e.message = message);
            assert!(encoded(&r, 1).ends_with(&format!(" app::jobs {SAMPLE_SD}")));
        }
    }

    #[test]
    fn octet_counting_frames_count_octets_not_characters() {
        let mut out = b"x".to_vec();
        frame("é ab".as_bytes(), &mut out);
        frame(b"", &mut out);
        assert_eq!(out, "x5 é ab0 ".as_bytes());
    }

    /// The header of the sample record with facility 1.
    const HEADER: &str = "<14>1 2025-12-02T12:00:00.123456+00:00 host-a worker-1 4242 app::jobs";

    fn datagram(r: &Record, limit: usize) -> String {
        let mut out = b"prev".to_vec();
        assert!(encode_datagram(r, 1, limit, &mut out));
        let text = String::from_utf8(out).expect("cut on a character boundary");
        text.strip_prefix("prev").expect("appended").to_owned()
    }

    #[test]
    fn datagrams_within_the_limit_are_the_whole_message() {
        let r = sample::record();
        assert_eq!(datagram(&r, 2048), encoded(&r, 1));
        let exact = encoded(&r, 1).len();
        assert_eq!(datagram(&r, exact), encoded(&r, 1));
    }

    #[test]
    fn long_datagrams_cut_msg_at_a_character_boundary() {
        let r = sample::record_with(|e| e.message = Some("é".repeat(1000)));
        let head = format!("{HEADER} {SAMPLE_SD} ");
        for limit in [480, 481, 482, 1000, 1001] {
            let d = datagram(&r, limit);
            assert!(d.len() <= limit, "{limit}: {}", d.len());
            assert!(d.len() >= limit - 1, "{limit}: {}", d.len());
            let msg = d.strip_prefix(&head).expect("header and SD kept");
            assert!(msg.chars().all(|c| c == 'é'));
        }
    }

    #[test]
    fn datagrams_drop_the_sd_when_header_and_sd_exceed_the_limit() {
        let r = sample::record_with(|e| {
            e.fields = vec![OwnedField {
                name: "blob".into(),
                value: OwnedValue::Str("z".repeat(600)),
            }];
            e.message = Some("tail".into());
        });
        assert_eq!(datagram(&r, 480), format!("{HEADER} - tail"));
        // No room left for any of MSG: it is left out, not cut to nothing.
        let exact = HEADER.len() + 2;
        assert_eq!(datagram(&r, exact), format!("{HEADER} -"));
        assert_eq!(datagram(&r, exact + 1), format!("{HEADER} -"));
        assert_eq!(datagram(&r, exact + 2), format!("{HEADER} - t"));
    }

    #[test]
    fn the_longest_header_fits_the_smallest_limit_with_the_sd_dropped() {
        let r = record(&"h".repeat(300), &"p".repeat(60), u32::MAX, |e| {
            e.target = "t".repeat(40);
            e.fields[4].value = OwnedValue::Str("z".repeat(100));
            e.message = Some("m".repeat(100));
        });
        let header = format!(
            "<14>1 2025-12-02T12:00:00.123456+00:00 {} {} 4294967295 {}",
            "h".repeat(255),
            "p".repeat(48),
            "t".repeat(32)
        );
        assert_eq!(header.len(), 387);
        assert_eq!(
            datagram(&r, 480),
            format!("{header} - {}", "m".repeat(480 - 387 - 3))
        );
    }
}
