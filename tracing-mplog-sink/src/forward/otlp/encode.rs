//! Records → one `ExportLogsServiceRequest` (the mapping table is in the
//! module docs of `otlp`).

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tracing_mplog::wire::{EventView, Field, Value};

use crate::forward::Record;
use crate::forward::record::scope;

/// A process: host, pid, process name.
type ProcessKey<'a> = (&'a str, u32, &'a str);

/// The request for `batch`: one `ResourceLogs` per process, in order of
/// first appearance; in it one `ScopeLogs` per target, in order of first
/// appearance; in each the records in batch order.
pub(crate) fn request(batch: &[Arc<Record>]) -> ExportLogsServiceRequest {
    let mut resources: Vec<ResourceLogs> = Vec::new();
    // (host, pid, process name) → index in `resources`; per resource,
    // target → index in its `scope_logs`.
    let mut by_process: HashMap<ProcessKey<'_>, (usize, HashMap<&str, usize>)> = HashMap::new();
    for record in batch {
        // Cannot fail: the record's constructors checked its frame.
        let Some(event) = record.event() else {
            continue;
        };
        let target = event.target();
        let origin = &*record.origin;
        let key = (
            origin.host.as_str(),
            origin.pid,
            origin.process_name.as_str(),
        );
        let (at, scopes) = by_process.entry(key).or_insert_with(|| {
            resources.push(resource_logs(record));
            (resources.len() - 1, HashMap::new())
        });
        let scope_logs = &mut resources[*at].scope_logs;
        let scope = *scopes.entry(target).or_insert_with(|| {
            scope_logs.push(ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: target.to_owned(),
                    ..Default::default()
                }),
                ..Default::default()
            });
            scope_logs.len() - 1
        });
        scope_logs[scope]
            .log_records
            .push(log_record(record, &event));
    }
    ExportLogsServiceRequest {
        resource_logs: resources,
    }
}

/// An empty `ResourceLogs` for the process `record` came from.
fn resource_logs(record: &Record) -> ResourceLogs {
    let origin = &*record.origin;
    ResourceLogs {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", string(&origin.process_name)),
                kv("process.pid", int(i64::from(origin.pid))),
                kv("host.name", string(&origin.host)),
            ],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One record's `LogRecord`; `event` is its decoded frame.
fn log_record(record: &Record, event: &EventView<'_>) -> LogRecord {
    let mut attributes: Vec<KeyValue> = event.fields().map(field).collect();
    if let Some(module) = event.module_path() {
        attributes.push(kv("code.namespace", string(module)));
    }
    if let Some(file) = event.file() {
        attributes.push(kv("code.filepath", string(file)));
    }
    if let Some(line) = event.line() {
        attributes.push(kv("code.lineno", int(i64::from(line))));
    }
    attributes.push(kv("thread.id", unsigned(u128::from(event.thread_id()))));
    if let Some(name) = event.thread_name() {
        attributes.push(kv("thread.name", string(name)));
    }
    if event.spans().next().is_some() {
        attributes.push(kv("span.scope", text(scope(event))));
        let names = event
            .spans()
            .map(|s| AnyValue {
                value: Some(string(s.name())),
            })
            .collect();
        attributes.push(kv(
            "span.names",
            any_value::Value::ArrayValue(ArrayValue { values: names }),
        ));
    }
    LogRecord {
        time_unix_nano: nanos(event.timestamp_ns()),
        observed_time_unix_nano: nanos(record.observed_ns),
        severity_number: record.otlp_severity(event),
        severity_text: record.level_name(event).to_owned(),
        body: Some(AnyValue {
            value: Some(string(event.message())),
        }),
        attributes,
        ..Default::default()
    }
}

/// A field as an attribute: its name without a raw identifier's `r#`, its
/// value with its type (integers beyond `i64` as their decimal string).
fn field(f: Field<'_>) -> KeyValue {
    let name = f.name.strip_prefix("r#").unwrap_or(f.name);
    let value = match f.value {
        Value::I64(v) => int(v),
        Value::U64(v) => unsigned(u128::from(v)),
        Value::I128(v) => i64::try_from(v).map_or_else(|_| text(v.to_string()), int),
        Value::U128(v) => unsigned(v),
        Value::F64(v) => any_value::Value::DoubleValue(v),
        Value::Bool(v) => any_value::Value::BoolValue(v),
        Value::Str(v) | Value::Debug(v) => string(v),
        // A type the wire format gains later: as the files print it.
        other => text(other.to_string()),
    };
    kv(name, value)
}

/// Nanoseconds since the epoch as OTLP's `fixed64` (0 before 1970).
fn nanos(ns: i64) -> u64 {
    u64::try_from(ns).unwrap_or(0)
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_owned())
}

fn text(s: String) -> any_value::Value {
    any_value::Value::StringValue(s)
}

fn int(v: i64) -> any_value::Value {
    any_value::Value::IntValue(v)
}

/// An unsigned integer: `int` when it fits `i64`, else its decimal string.
fn unsigned(v: u128) -> any_value::Value {
    i64::try_from(v).map_or_else(|_| text(v.to_string()), int)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::record::sample;
    use crate::record::Client;
    use any_value::Value::{ArrayValue as Arr, BoolValue, DoubleValue, IntValue, StringValue};
    use tracing_mplog::wire::{OwnedField, OwnedValue};

    /// The attributes as (key, value) pairs.
    fn attrs(kvs: &[KeyValue]) -> Vec<(&str, any_value::Value)> {
        kvs.iter()
            .map(|kv| {
                let v = kv.value.as_ref().and_then(|v| v.value.clone());
                (kv.key.as_str(), v.unwrap_or(StringValue("<none>".into())))
            })
            .collect()
    }

    fn s(v: &str) -> any_value::Value {
        StringValue(v.into())
    }

    #[test]
    fn the_sample_record_maps_field_by_field() {
        let req = request(&[Arc::new(sample::record())]);
        assert_eq!(req.resource_logs.len(), 1);
        let rl = &req.resource_logs[0];
        assert_eq!(rl.schema_url, "");
        let resource = rl.resource.as_ref().expect("resource");
        assert_eq!(
            attrs(&resource.attributes),
            [
                ("service.name", s("worker-1")),
                ("process.pid", IntValue(4242)),
                ("host.name", s("host-a")),
            ]
        );
        assert_eq!(resource.dropped_attributes_count, 0);
        assert_eq!(rl.scope_logs.len(), 1);
        let sl = &rl.scope_logs[0];
        let scope = sl.scope.as_ref().expect("scope");
        assert_eq!(
            (scope.name.as_str(), scope.version.as_str()),
            ("app::jobs", "")
        );
        assert!(scope.attributes.is_empty());
        assert_eq!(sl.log_records.len(), 1);
        let lr = &sl.log_records[0];
        assert_eq!(lr.time_unix_nano, 1_764_676_800_123_456_789);
        assert_eq!(lr.observed_time_unix_nano, 1_764_676_800_223_456_789);
        assert_eq!((lr.severity_number, lr.severity_text.as_str()), (9, "INFO"));
        assert_eq!(
            lr.body.as_ref().and_then(|b| b.value.clone()),
            Some(s("job done"))
        );
        assert_eq!(
            attrs(&lr.attributes),
            [
                ("count", IntValue(-3)),
                ("big", IntValue(7)),
                ("ratio", DoubleValue(0.5)),
                ("ok", BoolValue(true)),
                ("user", s("ann \"a\"]")),
                ("err", s("Oops")),
                ("code.namespace", s("app::jobs")),
                ("code.filepath", s("src/jobs.rs")),
                ("code.lineno", IntValue(42)),
                ("thread.id", IntValue(7)),
                ("thread.name", s("main")),
                ("span.scope", s("request{id=9}:handle")),
                (
                    "span.names",
                    Arr(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(s("request"))
                            },
                            AnyValue {
                                value: Some(s("handle"))
                            },
                        ]
                    })
                ),
            ]
        );
        assert_eq!(
            (
                lr.dropped_attributes_count,
                lr.flags,
                lr.event_name.as_str()
            ),
            (0, 0, "")
        );
        assert!(lr.trace_id.is_empty() && lr.span_id.is_empty());
    }

    /// The `LogRecord` of one record.
    fn one(r: Record) -> LogRecord {
        let req = request(&[Arc::new(r)]);
        let mut records: Vec<LogRecord> = req
            .resource_logs
            .into_iter()
            .flat_map(|rl| rl.scope_logs)
            .flat_map(|sl| sl.log_records)
            .collect();
        assert_eq!(records.len(), 1);
        records.remove(0)
    }

    #[test]
    fn wide_integers_raw_names_and_absent_values() {
        let field = |name: &str, value| OwnedField {
            name: name.into(),
            value,
        };
        let lr = one(sample::record_with(|e| {
            e.fields = vec![
                field("r#type", OwnedValue::U64(u64::MAX)),
                field("fits", OwnedValue::U128(5)),
                field("neg", OwnedValue::I128(i128::MIN)),
                field("small", OwnedValue::I128(-5)),
                field("huge", OwnedValue::U128(u128::MAX)),
            ];
            e.spans.clear();
            e.module_path = None;
            e.file = None;
            e.line = None;
            e.thread_name = None;
            e.thread_id = u64::MAX;
            e.timestamp_ns = -1;
            e.message = None;
            e.level = tracing_core::Level::ERROR;
        }));
        assert_eq!(
            attrs(&lr.attributes),
            [
                ("type", s("18446744073709551615")),
                ("fits", IntValue(5)),
                ("neg", s("-170141183460469231731687303715884105728")),
                ("small", IntValue(-5)),
                ("huge", s("340282366920938463463374607431768211455")),
                ("thread.id", s("18446744073709551615")),
            ]
        );
        assert_eq!(
            (
                lr.time_unix_nano,
                lr.severity_number,
                lr.severity_text.as_str()
            ),
            (0, 17, "ERROR")
        );
        assert_eq!(lr.body.and_then(|b| b.value), Some(s("")));
    }

    #[test]
    fn raw_names_in_span_fields_are_stripped_in_the_scope() {
        let lr = one(sample::record_with(|e| {
            e.spans[1].fields.push(OwnedField {
                name: "r#type".into(),
                value: OwnedValue::Str("x".into()),
            });
        }));
        let scope = attrs(&lr.attributes)
            .into_iter()
            .find(|(k, _)| *k == "span.scope")
            .map(|(_, v)| v);
        assert_eq!(scope, Some(s("request{id=9}:handle{type=\"x\"}")));
    }

    /// A record of `origin` with `target` and message.
    fn rec(origin: &Arc<Client>, target: &str, message: &str) -> Arc<Record> {
        let mut r = sample::record_with(|e| {
            e.target = target.into();
            e.message = Some(message.into());
        });
        r.origin = Arc::clone(origin);
        Arc::new(r)
    }

    #[test]
    fn two_processes_two_targets_group_in_first_appearance_order() {
        let a = Arc::new(Client {
            conn: 1,
            pid: 10,
            start_time_ns: 1,
            process_name: "alpha".into(),
            host: "h1".into(),
        });
        // Another connection of the same process (a reconnect) is the same
        // resource.
        let a2 = Arc::new(Client {
            conn: 3,
            ..(*a).clone()
        });
        let b = Arc::new(Client {
            conn: 2,
            pid: 20,
            start_time_ns: 2,
            process_name: "beta".into(),
            host: "h2".into(),
        });
        let batch = [
            rec(&b, "t::y", "b1"),
            rec(&a, "t::x", "a1"),
            rec(&b, "t::x", "b2"),
            rec(&a2, "t::x", "a2"),
            rec(&b, "t::y", "b3"),
            rec(&a, "t::y", "a3"),
        ];
        let req = request(&batch);
        type Shape<'a> = (
            Vec<(&'a str, any_value::Value)>,
            Vec<(&'a str, Vec<String>)>,
        );
        let shape: Vec<Shape<'_>> = req
            .resource_logs
            .iter()
            .map(|rl| {
                let res = attrs(&rl.resource.as_ref().expect("resource").attributes);
                let scopes = rl
                    .scope_logs
                    .iter()
                    .map(|sl| {
                        let name = sl.scope.as_ref().map_or("", |s| s.name.as_str());
                        let bodies = sl
                            .log_records
                            .iter()
                            .map(|lr| match lr.body.as_ref().and_then(|b| b.value.clone()) {
                                Some(StringValue(m)) => m,
                                other => format!("{other:?}"),
                            })
                            .collect();
                        (name, bodies)
                    })
                    .collect();
                (res, scopes)
            })
            .collect();
        let strs = |v: &[&str]| v.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            shape,
            [
                (
                    vec![
                        ("service.name", s("beta")),
                        ("process.pid", IntValue(20)),
                        ("host.name", s("h2")),
                    ],
                    vec![("t::y", strs(&["b1", "b3"])), ("t::x", strs(&["b2"]))]
                ),
                (
                    vec![
                        ("service.name", s("alpha")),
                        ("process.pid", IntValue(10)),
                        ("host.name", s("h1")),
                    ],
                    vec![("t::x", strs(&["a1", "a2"])), ("t::y", strs(&["a3"]))]
                ),
            ]
        );
    }

    #[test]
    fn an_empty_batch_is_an_empty_request() {
        assert!(request(&[]).resource_logs.is_empty());
    }
}
