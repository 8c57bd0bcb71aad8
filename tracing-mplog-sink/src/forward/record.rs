//! [`Record`]: one record as the forwarders see it, owned so it can wait
//! in a destination's queue, shared (`Arc`) by every destination.

use std::fmt::Write as _;
use std::sync::Arc;

use tracing_core::Level;
use tracing_mplog::wire::{EventView, OwnedEvent, OwnedField, OwnedSpan};

use crate::record::RecordView;
use crate::sink::view::Origin;

/// One record to forward.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// The process it came from: pid, process name, host.
    pub(crate) origin: Arc<Origin>,
    /// When the event happened (worker's clock), ns since the epoch.
    pub(crate) timestamp_ns: i64,
    /// When the sink received it, ns since the epoch.
    pub(crate) observed_ns: i64,
    pub(crate) level: Level,
    /// Python's `levelno` for Python records (50 is CRITICAL); `None` for
    /// tracing events.
    pub(crate) level_no: Option<i64>,
    /// `INFO`, …, or Python's `levelname`.
    pub(crate) level_name: String,
    pub(crate) target: String,
    pub(crate) module_path: Option<String>,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
    pub(crate) thread_id: u64,
    pub(crate) thread_name: Option<String>,
    /// The message (empty if the event had none).
    pub(crate) message: String,
    /// The event's fields, typed.
    pub(crate) fields: Vec<OwnedField>,
    /// The span scope, outermost first.
    pub(crate) spans: Vec<OwnedSpan>,
}

impl Record {
    /// A worker's (or the parent's) event.
    pub(crate) fn from_event(
        event: &EventView<'_>,
        origin: &Arc<Origin>,
        observed_ns: i64,
    ) -> Self {
        let OwnedEvent {
            timestamp_ns,
            level,
            target,
            module_path,
            file,
            line,
            thread_id,
            thread_name,
            message,
            fields,
            spans,
            ..
        } = OwnedEvent::from(*event);
        Record {
            origin: Arc::clone(origin),
            timestamp_ns,
            observed_ns,
            level,
            level_no: None,
            level_name: level.as_str().to_owned(),
            target,
            module_path,
            file,
            line,
            thread_id,
            thread_name,
            message: message.unwrap_or_default(),
            fields,
            spans,
        }
    }

    /// A Python record (no typed fields, no spans: the message holds what
    /// `getMessage()` gave, with the traceback appended as the files have it).
    pub(crate) fn from_python(
        view: &dyn RecordView,
        origin: &Arc<Origin>,
        observed_ns: i64,
    ) -> Self {
        let mut message = String::new();
        let _ = view.write_message(&mut message);
        Record {
            origin: Arc::clone(origin),
            timestamp_ns: i64::try_from(view.timestamp().unix_timestamp_nanos()).unwrap_or(0),
            observed_ns,
            level: view.level(),
            level_no: Some(view.level_no()),
            level_name: view.level_name().to_owned(),
            target: view.target().to_owned(),
            module_path: view.module_path().map(str::to_owned),
            file: view.file().map(str::to_owned),
            line: view.line(),
            thread_id: view.thread_id(),
            thread_name: view.thread_name().map(str::to_owned),
            message,
            fields: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// The syslog severity (RFC 5424 §6.2.1): ERROR 3, WARN 4, INFO 6,
    /// DEBUG and TRACE 7; a Python CRITICAL (levelno ≥ 50) is 2.
    pub(crate) fn syslog_severity(&self) -> u8 {
        if self.level_no.is_some_and(|n| n >= 50) {
            return 2;
        }
        match self.level {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        }
    }

    /// The OpenTelemetry `SeverityNumber`: TRACE 1, DEBUG 5, INFO 9,
    /// WARN 13, ERROR 17; a Python CRITICAL (levelno ≥ 50) is FATAL, 21.
    pub(crate) fn otlp_severity(&self) -> i32 {
        if self.level_no.is_some_and(|n| n >= 50) {
            return 21;
        }
        match self.level {
            Level::TRACE => 1,
            Level::DEBUG => 5,
            Level::INFO => 9,
            Level::WARN => 13,
            _ => 17,
        }
    }

    /// The span scope as the files print it: `outer{a=1}:inner` (empty
    /// without spans).
    pub(crate) fn scope(&self) -> String {
        let mut out = String::new();
        for (i, span) in self.spans.iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            out.push_str(&span.name);
            if !span.fields.is_empty() {
                out.push('{');
                for (j, f) in span.fields.iter().enumerate() {
                    if j > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{}={}", f.name, f.value.as_value());
                }
                out.push('}');
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod sample {
    //! Records for the forwarders' unit tests.
    use super::*;
    use tracing_mplog::wire::OwnedValue;

    /// An INFO record of `worker-1`[4242] on `host-a`, with one field of
    /// each type and a two-span scope.
    pub(crate) fn record() -> Record {
        Record {
            origin: Arc::new(Origin {
                conn: 1,
                pid: 4242,
                start_time_ns: 1,
                process_name: "worker-1".into(),
                host: "host-a".into(),
            }),
            timestamp_ns: 1_764_676_800_123_456_789,
            observed_ns: 1_764_676_800_223_456_789,
            level: Level::INFO,
            level_no: None,
            level_name: "INFO".into(),
            target: "app::jobs".into(),
            module_path: Some("app::jobs".into()),
            file: Some("src/jobs.rs".into()),
            line: Some(42),
            thread_id: 7,
            thread_name: Some("main".into()),
            message: "job done".into(),
            fields: vec![
                OwnedField {
                    name: "count".into(),
                    value: OwnedValue::I64(-3),
                },
                OwnedField {
                    name: "big".into(),
                    value: OwnedValue::U64(7),
                },
                OwnedField {
                    name: "ratio".into(),
                    value: OwnedValue::F64(0.5),
                },
                OwnedField {
                    name: "ok".into(),
                    value: OwnedValue::Bool(true),
                },
                OwnedField {
                    name: "user".into(),
                    value: OwnedValue::Str("ann \"a\"]".into()),
                },
                OwnedField {
                    name: "err".into(),
                    value: OwnedValue::Debug("Oops".into()),
                },
            ],
            spans: vec![
                OwnedSpan {
                    name: "request".into(),
                    fields: vec![OwnedField {
                        name: "id".into(),
                        value: OwnedValue::U64(9),
                    }],
                },
                OwnedSpan {
                    name: "handle".into(),
                    fields: vec![],
                },
            ],
        }
    }
}
