//! [`Record`]: one record as the forwarders see it, owned so it can wait
//! in a destination's queue, shared (`Arc`) by every destination.
//!
//! A record keeps its event as the compact wire frame the worker sent (one
//! allocation of a few hundred bytes, copied from the view the reader
//! decoded to format its line: not decoded a second time), not as owned
//! strings: a queue of 100 000 records waiting for a dead destination costs
//! tens of MiB, not hundreds, and the reader threads copy one buffer per
//! event instead of allocating every string. Exporters decode it again
//! (zero-copy, see [`Record::event`]) when they send it.

use std::sync::Arc;

use tracing_mplog::wire::EventView;
#[cfg(any(test, feature = "forward-syslog", feature = "otlp"))]
use tracing_mplog::wire::Frame;
#[cfg(any(test, feature = "python"))]
use tracing_mplog::wire::{OwnedEvent, OwnedFrame};

use crate::record::Client;
#[cfg(feature = "python")]
use crate::record::RecordView;

/// One record to forward.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// The process it came from: pid, process name, host.
    pub(crate) origin: Arc<Client>,
    /// When the sink received it, ns since the epoch.
    pub(crate) observed_ns: i64,
    /// The event's level (each destination filters by it).
    level: tracing_core::Level,
    /// Python's `levelno` and `levelname` for Python records.
    python: Option<Box<(i64, String)>>,
    /// An event frame body (frame type byte first) that decodes.
    body: Box<[u8]>,
}

impl Record {
    /// An event as the reader (or the writer) decoded it: its frame body is
    /// copied as it is, neither decoded nor encoded again.
    pub(crate) fn from_view(event: &EventView<'_>, origin: &Arc<Client>, observed_ns: i64) -> Self {
        Record {
            origin: Arc::clone(origin),
            observed_ns,
            level: event.level(),
            python: None,
            body: event.body().into(),
        }
    }

    /// An event built by hand (a Python record, a test's).
    #[cfg(any(test, feature = "python"))]
    pub(crate) fn from_event(event: OwnedEvent, origin: &Arc<Client>, observed_ns: i64) -> Self {
        let level = event.level;
        let mut bytes = Vec::new();
        OwnedFrame::Event(event).encode(&mut bytes);
        Record {
            origin: Arc::clone(origin),
            observed_ns,
            level,
            python: None,
            // Past the length prefix.
            body: bytes.get(4..).unwrap_or_default().into(),
        }
    }

    /// A Python record (no typed fields, no spans: the message holds what
    /// `getMessage()` gave, then `exc_text` and `stack_info` each after a
    /// newline, as CPython's `Formatter.format` appends them).
    #[cfg(feature = "python")]
    pub(crate) fn from_python(
        view: &dyn RecordView,
        origin: &Arc<Client>,
        observed_ns: i64,
    ) -> Self {
        let mut message = String::new();
        let _ = view.write_message(&mut message);
        for extra in [view.exc_text(), view.stack_info()].into_iter().flatten() {
            if !extra.is_empty() {
                message.push('\n');
                message.push_str(extra.trim_end_matches('\n'));
            }
        }
        let event = OwnedEvent {
            seq: 0,
            timestamp_ns: i64::try_from(view.timestamp().unix_timestamp_nanos()).unwrap_or(0),
            level: view.level(),
            target: view.target().to_owned(),
            module_path: view.module_path().map(str::to_owned),
            file: view.file().map(str::to_owned),
            line: view.line(),
            thread_id: view.thread_id(),
            thread_name: view.thread_name().map(str::to_owned),
            message: Some(message),
            fields: Vec::new(),
            spans: Vec::new(),
        };
        let mut record = Record::from_event(event, origin, observed_ns);
        record.python = Some(Box::new((view.level_no(), view.level_name().to_owned())));
        record
    }

    /// The event: time, level, target, location, thread, message, typed
    /// fields, span scope. (`None` cannot happen: the body was checked when
    /// the record was made.)
    #[cfg(any(test, feature = "forward-syslog", feature = "otlp"))]
    pub(crate) fn event(&self) -> Option<EventView<'_>> {
        match Frame::decode(&self.body) {
            Ok(Frame::Event(event)) => Some(event),
            _ => None,
        }
    }

    /// `TRACE` … `ERROR`, or Python's `levelname`.
    #[cfg(feature = "otlp")]
    pub(crate) fn level_name(&self, event: &EventView<'_>) -> &str {
        match &self.python {
            Some(p) => &p.1,
            None => event.level().as_str(),
        }
    }

    /// Whether Python's `levelno` says CRITICAL (50) or above.
    #[cfg(any(feature = "forward-syslog", feature = "otlp"))]
    fn critical(&self) -> bool {
        self.python.as_ref().is_some_and(|p| p.0 >= 50)
    }

    /// The syslog severity (RFC 5424 §6.2.1): ERROR 3, WARN 4, INFO 6,
    /// DEBUG and TRACE 7; a Python CRITICAL (levelno ≥ 50) is 2.
    #[cfg(feature = "forward-syslog")]
    pub(crate) fn syslog_severity(&self, event: &EventView<'_>) -> u8 {
        if self.critical() {
            return 2;
        }
        match event.level() {
            tracing_core::Level::ERROR => 3,
            tracing_core::Level::WARN => 4,
            tracing_core::Level::INFO => 6,
            _ => 7,
        }
    }

    /// The OpenTelemetry `SeverityNumber`: TRACE 1, DEBUG 5, INFO 9,
    /// WARN 13, ERROR 17; a Python CRITICAL (levelno ≥ 50) is FATAL, 21.
    #[cfg(feature = "otlp")]
    pub(crate) fn otlp_severity(&self, event: &EventView<'_>) -> i32 {
        if self.critical() {
            return 21;
        }
        match event.level() {
            tracing_core::Level::TRACE => 1,
            tracing_core::Level::DEBUG => 5,
            tracing_core::Level::INFO => 9,
            tracing_core::Level::WARN => 13,
            _ => 17,
        }
    }

    /// The event's level.
    pub(crate) fn level(&self) -> tracing_core::Level {
        self.level
    }
}

/// The span scope as the files print it: `outer{a=1}:inner` (empty
/// without spans).
#[cfg(feature = "otlp")]
pub(crate) fn scope(event: &EventView<'_>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (i, span) in event.spans().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(span.name());
        let mut fields = span.fields().peekable();
        if fields.peek().is_some() {
            out.push('{');
            for (j, f) in fields.enumerate() {
                if j > 0 {
                    out.push(' ');
                }
                let name = f.name.strip_prefix("r#").unwrap_or(f.name);
                let _ = write!(out, "{name}={}", f.value);
            }
            out.push('}');
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod sample {
    //! Records for the forwarders' unit tests.
    use super::*;
    use tracing_core::Level;
    use tracing_mplog::wire::{OwnedField, OwnedSpan, OwnedValue};

    /// The origin of the samples: `worker-1`[4242] on `host-a`.
    pub(crate) fn origin() -> Arc<Client> {
        Arc::new(Client {
            conn: 1,
            pid: 4242,
            start_time_ns: 1,
            process_name: "worker-1".into(),
            host: "host-a".into(),
        })
    }

    /// The sample event: INFO `job done` of target `app::jobs`, one field
    /// of each type, in the spans `request{id=9}:handle`.
    pub(crate) fn event() -> OwnedEvent {
        let field = |name: &str, value| OwnedField {
            name: name.into(),
            value,
        };
        OwnedEvent {
            seq: 1,
            timestamp_ns: 1_764_676_800_123_456_789,
            level: Level::INFO,
            target: "app::jobs".into(),
            module_path: Some("app::jobs".into()),
            file: Some("src/jobs.rs".into()),
            line: Some(42),
            thread_id: 7,
            thread_name: Some("main".into()),
            message: Some("job done".into()),
            fields: vec![
                field("count", OwnedValue::I64(-3)),
                field("big", OwnedValue::U64(7)),
                field("ratio", OwnedValue::F64(0.5)),
                field("ok", OwnedValue::Bool(true)),
                field("user", OwnedValue::Str("ann \"a\"]".into())),
                field("err", OwnedValue::Debug("Oops".into())),
            ],
            spans: vec![
                OwnedSpan {
                    name: "request".into(),
                    fields: vec![field("id", OwnedValue::U64(9))],
                },
                OwnedSpan {
                    name: "handle".into(),
                    fields: vec![],
                },
            ],
        }
    }

    /// The sample event as a record, observed 100 ms after it happened.
    #[cfg(any(feature = "forward-syslog", feature = "otlp"))]
    pub(crate) fn record() -> Record {
        Record::from_event(event(), &origin(), 1_764_676_800_223_456_789)
    }

    /// The message of a record.
    pub(crate) fn message(r: &Record) -> String {
        r.event()
            .map(|e| e.message().to_owned())
            .unwrap_or_default()
    }

    /// A record of `event` changed by `edit`.
    pub(crate) fn record_with(edit: impl FnOnce(&mut OwnedEvent)) -> Record {
        let mut e = event();
        edit(&mut e);
        Record::from_event(e, &origin(), 1_764_676_800_223_456_789)
    }
}

// The record's readers come with the forwarding features.
#[cfg(all(test, feature = "forward-syslog", feature = "otlp"))]
mod tests {
    use super::*;
    use tracing_core::Level;

    #[test]
    fn a_record_gives_its_event_back() {
        let r = sample::record();
        let e = r.event().expect("event");
        assert_eq!(e.message(), "job done");
        assert_eq!(e.target(), "app::jobs");
        assert_eq!(e.fields().count(), 6);
        assert_eq!(scope(&e), "request{id=9}:handle");
        assert_eq!(r.level_name(&e), "INFO");
        assert_eq!((r.syslog_severity(&e), r.otlp_severity(&e)), (6, 9));
        // The compact frame, not a dozen owned strings.
        assert!(r.body.len() < 300, "{}", r.body.len());
        // From the view a reader decoded: the same record, the same bytes.
        let mut bytes = Vec::new();
        OwnedFrame::Event(sample::event()).encode(&mut bytes);
        let Ok(Frame::Event(view)) = Frame::decode(&bytes[4..]) else {
            panic!("not an event");
        };
        let again = Record::from_view(&view, &sample::origin(), r.observed_ns);
        assert_eq!(again, r);
        assert_eq!(&again.body[..], &bytes[4..]);
    }

    #[test]
    fn severities_follow_the_level() {
        for (level, syslog, otlp) in [
            (Level::ERROR, 3, 17),
            (Level::WARN, 4, 13),
            (Level::INFO, 6, 9),
            (Level::DEBUG, 7, 5),
            (Level::TRACE, 7, 1),
        ] {
            let r = sample::record_with(|e| e.level = level);
            let e = r.event().expect("event");
            assert_eq!((r.syslog_severity(&e), r.otlp_severity(&e)), (syslog, otlp));
        }
        let mut r = sample::record_with(|e| e.level = Level::ERROR);
        r.python = Some(Box::new((50, "CRITICAL".into())));
        let e = r.event().expect("event");
        assert_eq!((r.syslog_severity(&e), r.otlp_severity(&e)), (2, 21));
        assert_eq!(r.level_name(&e), "CRITICAL");
    }
}
