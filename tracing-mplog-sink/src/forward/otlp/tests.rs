//! The exporters against real receivers (`tests/peers/otlp.rs`) on
//! loopback: every record arrives once, as mapped; errors are classified;
//! nothing waits longer than `EXPORT_TIMEOUT`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tracing_mplog::wire::{OwnedField, OwnedValue};

use super::receivers::{
    self, GrpcReceiver, HttpReceiver, Receiver, attr, attr_int, attr_str, body,
};
use crate::forward::record::sample;
use crate::forward::{Destination, EXPORT_TIMEOUT, ExportError, Exporter, Record};
use crate::record::Client;

const RECORDS: usize = 300;
const BATCH: usize = 64;
const WAIT: Duration = Duration::from_secs(10);

/// Record `i`: process `i % 2` (`proc-0`[100] on `host-0`, `proc-1`[101]
/// on `host-1`), target `t{i % 3}`, message `event {i}`, fields `i` (int),
/// `half` (double), `odd` (bool), `tag` (string); spans for even `i`.
fn records(n: usize) -> Vec<Arc<Record>> {
    let origins: Vec<Arc<Client>> = (0..2u32)
        .map(|p| {
            Arc::new(Client {
                conn: u64::from(p) + 1,
                pid: 100 + p,
                start_time_ns: 1,
                process_name: format!("proc-{p}"),
                host: format!("host-{p}"),
            })
        })
        .collect();
    (0..n)
        .map(|i| {
            let mut r = sample::record_with(|e| {
                e.target = format!("t{}", i % 3);
                e.message = Some(format!("event {i}"));
                e.timestamp_ns = 1_764_676_800_000_000_000 + i as i64;
                e.fields = vec![
                    OwnedField {
                        name: "i".into(),
                        value: OwnedValue::U64(i as u64),
                    },
                    OwnedField {
                        name: "half".into(),
                        value: OwnedValue::F64(i as f64 / 2.0),
                    },
                    OwnedField {
                        name: "odd".into(),
                        value: OwnedValue::Bool(i % 2 == 1),
                    },
                    OwnedField {
                        name: "tag".into(),
                        value: OwnedValue::Str(format!("tag-{i}")),
                    },
                ];
                if i % 2 == 1 {
                    e.spans.clear();
                }
            });
            r.origin = Arc::clone(&origins[i % 2]);
            Arc::new(r)
        })
        .collect()
}

/// Exports `recs` in batches of [`BATCH`], each `Ok`.
fn export_all(exporter: &mut dyn Exporter, recs: &[Arc<Record>]) {
    for batch in recs.chunks(BATCH) {
        exporter.export(batch).expect("export");
    }
}

/// Every record arrived exactly once, as mapped.
fn check(got: &receivers::Received, n: usize) {
    assert_eq!(got.faults, Vec::<String>::new());
    assert_eq!(
        got.requests.len(),
        n.div_ceil(BATCH),
        "one request per batch"
    );
    let flat = receivers::flatten(&got.requests);
    assert_eq!(flat.len(), n);
    let mut seen = vec![false; n];
    for f in &flat {
        let i = attr_int(&f.record.attributes, "i").expect("field i") as usize;
        assert!(!seen[i], "record {i} twice");
        seen[i] = true;
        let p = i % 2;
        assert_eq!(
            attr_str(&f.resource, "service.name"),
            Some(&*format!("proc-{p}"))
        );
        assert_eq!(attr_int(&f.resource, "process.pid"), Some(100 + p as i64));
        assert_eq!(
            attr_str(&f.resource, "host.name"),
            Some(&*format!("host-{p}"))
        );
        assert_eq!(f.scope, format!("t{}", i % 3));
        let r = &f.record;
        assert_eq!(body(r), Some(&*format!("event {i}")));
        assert_eq!(r.time_unix_nano, 1_764_676_800_000_000_000 + i as u64);
        assert_eq!(r.observed_time_unix_nano, 1_764_676_800_223_456_789);
        assert_eq!((r.severity_number, r.severity_text.as_str()), (9, "INFO"));
        assert_eq!(
            attr(&r.attributes, "half"),
            Some(&Value::DoubleValue(i as f64 / 2.0))
        );
        assert_eq!(
            attr(&r.attributes, "odd"),
            Some(&Value::BoolValue(i % 2 == 1))
        );
        assert_eq!(attr_str(&r.attributes, "tag"), Some(&*format!("tag-{i}")));
        assert_eq!(attr_str(&r.attributes, "code.namespace"), Some("app::jobs"));
        assert_eq!(
            attr_str(&r.attributes, "code.filepath"),
            Some("src/jobs.rs")
        );
        assert_eq!(attr_int(&r.attributes, "code.lineno"), Some(42));
        assert_eq!(attr_int(&r.attributes, "thread.id"), Some(7));
        assert_eq!(attr_str(&r.attributes, "thread.name"), Some("main"));
        let scope = attr_str(&r.attributes, "span.scope");
        let names = attr(&r.attributes, "span.names");
        if i % 2 == 0 {
            assert_eq!(scope, Some("request{id=9}:handle"));
            let Some(Value::ArrayValue(a)) = names else {
                panic!("span.names of {i}: {names:?}")
            };
            let names: Vec<_> = a.values.iter().filter_map(|v| v.value.clone()).collect();
            assert_eq!(
                names,
                [
                    Value::StringValue("request".into()),
                    Value::StringValue("handle".into())
                ]
            );
        } else {
            assert_eq!((scope, names), (None, None), "record {i}");
        }
        // 4 fields, 3 code.*, 2 thread.*, 2 span.* for even records.
        let expected = if i % 2 == 0 { 11 } else { 9 };
        assert_eq!(r.attributes.len(), expected, "record {i}");
    }
    // In batch order inside a process and target.
    let mut last = std::collections::HashMap::new();
    for f in &flat {
        let i = attr_int(&f.record.attributes, "i").expect("i");
        let key = (attr_int(&f.resource, "process.pid"), f.scope.clone());
        if let Some(prev) = last.insert(key, i) {
            assert!(prev < i, "{prev} before {i}");
        }
    }
}

fn dest(url: &str, gzip: bool) -> Destination {
    Destination::parse(url).expect("url").gzip(gzip)
}

#[test]
fn http_delivers_every_record_on_one_kept_alive_connection() {
    for gzip in [false, true] {
        let rx = HttpReceiver::start();
        let mut ex = super::exporter(&dest(&rx.url(), gzip)).expect("exporter");
        let recs = records(RECORDS);
        export_all(&mut *ex, &recs);
        ex.close();
        let got = rx.wait_records(RECORDS, WAIT);
        check(&got, RECORDS);
        let gzipped = if gzip { got.requests.len() } else { 0 };
        assert_eq!(got.gzipped, gzipped, "gzip {gzip}");
        assert_eq!(got.peers.len(), 1, "keep-alive: {:?}", got.peers);
    }
}

#[test]
fn grpc_delivers_every_record_on_one_connection() {
    for gzip in [false, true] {
        let rx = GrpcReceiver::start();
        let mut ex = super::exporter(&dest(&rx.url(), gzip)).expect("exporter");
        let recs = records(RECORDS);
        export_all(&mut *ex, &recs);
        ex.close();
        drop(ex);
        let got = rx.wait_records(RECORDS, WAIT);
        check(&got, RECORDS);
        let gzipped = if gzip { got.requests.len() } else { 0 };
        assert_eq!(got.gzipped, gzipped, "gzip {gzip}");
        assert_eq!(got.peers.len(), 1, "one channel: {:?}", got.peers);
    }
}

/// Answers 503 (gRPC UNAVAILABLE: `Down`, the message naming `down`), then
/// 400 (INVALID_ARGUMENT: `Refused`, naming `refused`), then 200: the
/// batch arrives once.
fn down_then_refused_then_recovered(rx: &impl Receiver, grpc: bool, down: &str, refused: &str) {
    let mut ex = super::exporter(&dest(&rx.url(), grpc)).expect("exporter");
    let recs = records(10);
    rx.answer_with(503);
    let e = ex.export(&recs).expect_err("down");
    assert!(
        matches!(&e, ExportError::Down(m) if m.contains(down)),
        "{e:?}"
    );
    rx.answer_with(400);
    let e = ex.export(&recs).expect_err("refused");
    assert!(
        matches!(&e, ExportError::Refused(m) if m.contains(refused)),
        "{e:?}"
    );
    rx.answer_with(200);
    ex.export(&recs).expect("recovered");
    drop(ex);
    let got = rx.wait_records(10, WAIT);
    assert_eq!((got.failed, got.record_count()), (2, 10));
}

#[test]
fn http_503_is_down_and_400_refused_then_it_recovers() {
    down_then_refused_then_recovered(&HttpReceiver::start(), false, "503", "400");
}

#[test]
fn grpc_unavailable_is_down_and_invalid_argument_refused_then_it_recovers() {
    let rx = GrpcReceiver::start();
    down_then_refused_then_recovered(&rx, true, "Unavailable", "InvalidArgument");
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn a_closed_port_is_down_quickly_and_the_exporter_connects_once_it_is_up() {
    for scheme in ["otlp+http", "otlp+grpc"] {
        let port = closed_port();
        let mut ex = super::exporter(&dest(&format!("{scheme}://127.0.0.1:{port}"), false))
            .expect("exporter");
        let t0 = Instant::now();
        let e = ex.export(&records(3)).expect_err("closed");
        // The reason names the cause, not just "transport error".
        assert!(
            matches!(&e, ExportError::Down(m) if m.to_lowercase().contains("refused")),
            "{scheme}: {e:?}"
        );
        assert!(
            t0.elapsed() < EXPORT_TIMEOUT,
            "{scheme}: {:?}",
            t0.elapsed()
        );
        // The same exporter reaches a receiver that came up on the port.
        let at = format!("127.0.0.1:{port}");
        let got = if scheme == "otlp+http" {
            let rx = HttpReceiver::start_at(&at);
            ex.export(&records(3)).expect("once up");
            rx.wait_records(3, WAIT).record_count()
        } else {
            let rx = GrpcReceiver::start_at(&at);
            ex.export(&records(3)).expect("once up");
            drop(ex);
            rx.wait_records(3, WAIT).record_count()
        };
        assert_eq!(got, 3, "{scheme}");
    }
}

#[test]
fn grpc_reconnects_to_a_restarted_receiver() {
    let rx = GrpcReceiver::start();
    let at = format!("127.0.0.1:{}", rx.port());
    let mut ex = super::exporter(&dest(&rx.url(), false)).expect("exporter");
    ex.export(&records(2)).expect("first");
    assert_eq!(rx.wait_records(2, WAIT).record_count(), 2);
    drop(rx);
    // The old connection is gone: the export fails or (if the server's
    // goodbye is not seen yet) goes nowhere; either way it is Down.
    let e = ex.export(&records(2)).expect_err("receiver gone");
    assert!(matches!(e, ExportError::Down(_)), "{e:?}");
    let rx = GrpcReceiver::start_at(&at);
    ex.export(&records(4)).expect("after the restart");
    drop(ex);
    assert_eq!(rx.wait_records(4, WAIT).record_count(), 4);
}

#[test]
fn a_silent_receiver_is_down_within_the_timeout() {
    // Accepts connections (the backlog does) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let runs: Vec<_> = ["otlp+http", "otlp+grpc"]
        .into_iter()
        .map(|scheme| {
            let url = format!("{scheme}://127.0.0.1:{port}");
            std::thread::spawn(move || {
                let mut ex = super::exporter(&dest(&url, false)).expect("exporter");
                let t0 = Instant::now();
                let e = ex.export(&records(3)).expect_err("silent");
                (url, e, t0.elapsed())
            })
        })
        .collect();
    for run in runs {
        let (url, e, took) = run.join().expect("no panic");
        assert!(matches!(e, ExportError::Down(_)), "{url}: {e:?}");
        assert!(
            took >= EXPORT_TIMEOUT - Duration::from_millis(100)
                && took < EXPORT_TIMEOUT + Duration::from_secs(2),
            "{url}: {took:?}"
        );
    }
    drop(silent);
}

#[test]
fn ipv6_hosts_are_bracketed_in_urls() {
    assert_eq!(super::authority_host("::1"), "[::1]");
    assert_eq!(super::authority_host("collector"), "collector");
    let d = dest("otlp+grpc://[::1]:4317", false);
    assert!(super::exporter(&d).is_ok());
}

/// A receiver that answers each request 200 and then closes the
/// connection without saying so (no `Connection: close`), as a collector
/// closing an idle kept-alive connection, or restarting, does.
fn closing_receiver(requests: usize) -> (u16, std::thread::JoinHandle<usize>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        let mut records = 0;
        for _ in 0..requests {
            let (conn, _) = l.accept().expect("accept");
            conn.set_read_timeout(Some(WAIT)).expect("timeout");
            let mut r = BufReader::new(conn);
            let mut len = 0;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).expect("header");
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().expect("length");
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).expect("body");
            let req =
                <ExportLogsServiceRequest as prost::Message>::decode(&body[..]).expect("decode");
            records += receivers::count_records(&req);
            let mut conn = r.into_inner();
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n")
                .expect("answer");
            // Let the client read the answer and pool the connection.
            std::thread::sleep(Duration::from_millis(50));
        }
        records
    });
    (port, t)
}

#[test]
fn http_survives_the_receiver_closing_a_kept_alive_connection() {
    // Closed while idle (ureq sees it before reusing the connection), and
    // closed just as the next request goes out on it (the exporter sends
    // that request once more on a new connection).
    for idle in [true, false] {
        let (port, receiver) = closing_receiver(3);
        let mut ex = super::exporter(&dest(&format!("otlp+http://127.0.0.1:{port}"), false))
            .expect("exporter");
        for n in [2, 3, 4] {
            if idle {
                std::thread::sleep(Duration::from_millis(150));
            }
            let t0 = Instant::now();
            ex.export(&records(n))
                .unwrap_or_else(|e| panic!("idle {idle}: export of {n}: {e:?}"));
            assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        }
        assert_eq!(receiver.join().expect("receiver"), 9, "idle {idle}");
    }
}
