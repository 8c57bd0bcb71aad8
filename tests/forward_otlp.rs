//! Forwarding to OTLP end to end. The real `mplog-sink` binary forwards to
//! an OTLP/HTTP and an OTLP/gRPC receiver at once (`--forward`), or to an
//! OTLP/HTTP one with gzip and small batches (a `[[forward]]` table); the
//! receivers are `tests/peers/otlp.rs`, built on `opentelemetry-proto`.
//! Real workers log typed events in spans: the files are complete, and
//! each receiver got every record exactly once with its resource and
//! attributes as mapped.

#[path = "peers/otlp.rs"]
mod otlp;
mod support;

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::any_value::Value;

use mplog_test_support::{RunningSink, TIMEOUT};
use otlp::{
    Flat, GrpcReceiver, HttpReceiver, Received, Receiver as _, attr, attr_int, attr_str, body,
    flatten,
};
use support::{Setup, assert_all_forwarded, assert_files_complete, file_sink, run_typed_workers};

const WORKERS: u64 = 3;
const EVENTS: u64 = 3_000;
const GZIP_BATCH: usize = 100;

/// A receiver under test: its URL, and a wait for `n` records that
/// returns how many it has.
type Peer<'a> = (String, &'a dyn Fn(usize) -> usize);

/// Runs the sink with `extra` arguments and `workers` typed workers of
/// `events` events each; checks every peer got them all, the report says
/// so, and the files are complete. Returns the workers' pids by id.
fn run(
    s: &Setup,
    extra: &[String],
    peers: &[Peer<'_>],
    workers: u64,
    events: u64,
) -> HashMap<u64, u32> {
    let mut cmd = file_sink(&s.socket(), &s.logdir());
    cmd.args(extra).arg("--forward-drain=5s");
    let sink = RunningSink::start(cmd);
    sink.wait_prefix("listening on unix:");

    let pids = run_typed_workers(s, workers, events);
    let total = (workers * events) as usize;
    let counts: Vec<usize> = peers.iter().map(|(_, wait)| wait(total)).collect();
    let stderr = sink.stop();
    assert_all_forwarded(&counts, total, peers.iter().map(|(url, _)| url), &stderr);
    assert_files_complete(&s.logdir(), workers, events);
    pids
}

#[test]
fn otlp_http_and_grpc_get_every_record_once_as_mapped() {
    let s = Setup::new();
    let http = HttpReceiver::start();
    let grpc = GrpcReceiver::start();
    let wait = TIMEOUT;
    let pids = run(
        &s,
        &[
            "--forward".into(),
            http.url(),
            "--forward".into(),
            grpc.url(),
        ],
        &[
            (http.url(), &|n| http.wait_records(n, wait).record_count()),
            (grpc.url(), &|n| grpc.wait_records(n, wait).record_count()),
        ],
        WORKERS,
        EVENTS,
    );
    let host = tracing_mplog::origin::hostname();
    check(&http.received(), &pids, &host, WORKERS * EVENTS, "http");
    check(&grpc.received(), &pids, &host, WORKERS * EVENTS, "grpc");
    assert_eq!((http.received().gzipped, grpc.received().gzipped), (0, 0));
}

#[test]
fn a_forward_table_with_gzip_and_small_batches() {
    let s = Setup::new();
    let rx = HttpReceiver::start();
    let table = format!(
        "[[forward]]\nurl = \"{}\"\ngzip = true\nbatch = {GZIP_BATCH}\n",
        rx.url()
    );
    let config = s.write("sink.toml", &table);
    let wait = TIMEOUT;
    let (workers, events) = (2, 1_000);
    let pids = run(
        &s,
        &[format!("--config={}", config.display())],
        &[(rx.url(), &|n| rx.wait_records(n, wait).record_count())],
        workers,
        events,
    );
    let got = rx.received();
    check(
        &got,
        &pids,
        &tracing_mplog::origin::hostname(),
        workers * events,
        "gzip",
    );
    assert_eq!(got.gzipped, got.requests.len(), "every request gzipped");
    let largest = got.requests.iter().map(otlp::count_records).max();
    assert!(
        largest <= Some(GZIP_BATCH),
        "a request of {largest:?} records"
    );
}

/// Every `w{id} e{n}` exactly once, mapped as `docs/forwarding.md` says.
fn check(got: &Received, pids: &HashMap<u64, u32>, host: &str, total: u64, which: &str) {
    assert_eq!(got.faults, Vec::<String>::new(), "{which}");
    assert_eq!(got.failed, 0, "{which}");
    let flat = flatten(&got.requests);
    let mut seen: HashMap<(u64, u64), usize> = HashMap::new();
    for f in &flat {
        let (id, n) = parse(f, which);
        *seen.entry((id, n)).or_default() += 1;
        check_one(f, id, n, pids[&id], host)
            .unwrap_or_else(|e| panic!("{which}: w{id} e{n}: {e}\n{:#?}", f.record));
    }
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        twice.is_empty(),
        "{which}: records more than once: {twice:?}"
    );
    assert_eq!(seen.len(), total as usize, "{which}");
    // Per process, in the order they were logged.
    let mut last: HashMap<u64, u64> = HashMap::new();
    for f in &flat {
        let (id, n) = parse(f, which);
        if let Some(prev) = last.insert(id, n) {
            assert!(prev < n, "{which}: w{id} e{prev} before e{n}");
        }
    }
}

fn parse(f: &Flat, which: &str) -> (u64, u64) {
    let msg = body(&f.record).unwrap_or_default();
    let parsed = msg
        .strip_prefix('w')
        .and_then(|m| m.split_once(" e"))
        .and_then(|(id, n)| Some((id.parse().ok()?, n.parse().ok()?)));
    parsed.unwrap_or_else(|| panic!("{which}: body {msg:?}"))
}

fn check_one(f: &Flat, id: u64, n: u64, pid: u32, host: &str) -> Result<(), String> {
    let eq = |what: &str, got: Option<Value>, want: Value| {
        if got.as_ref() == Some(&want) {
            Ok(())
        } else {
            Err(format!("{what}: {got:?}, expected {want:?}"))
        }
    };
    let s = |v: &str| Value::StringValue(v.to_owned());
    let res = &f.resource;
    eq(
        "service.name",
        attr(res, "service.name").cloned(),
        s(&format!("worker-{id}")),
    )?;
    eq(
        "process.pid",
        attr(res, "process.pid").cloned(),
        Value::IntValue(pid.into()),
    )?;
    eq("host.name", attr(res, "host.name").cloned(), s(host))?;
    if res.len() != 3 {
        return Err(format!("resource {res:?}"));
    }
    if f.scope != "mplog_test_worker" {
        return Err(format!("scope {:?}", f.scope));
    }
    let r = &f.record;
    let (level, severity) = match n % 4 {
        0 => ("WARN", 13),
        1 => ("INFO", 9),
        2 => ("ERROR", 17),
        _ => ("DEBUG", 5),
    };
    if (r.severity_text.as_str(), r.severity_number) != (level, severity) {
        return Err(format!(
            "severity {} {}",
            r.severity_text, r.severity_number
        ));
    }
    if r.time_unix_nano == 0 || r.observed_time_unix_nano < r.time_unix_nano {
        return Err(format!(
            "times {} observed {}",
            r.time_unix_nano, r.observed_time_unix_nano
        ));
    }
    let a = &r.attributes;
    let get = |k: &str| attr(a, k).cloned();
    let mut want: Vec<(&str, Value)> = vec![("n", Value::IntValue(n as i64))];
    let user = s(&format!("user-{n} \"q\" \\ ]"));
    match n % 4 {
        0 => want.extend([
            ("ratio", Value::DoubleValue(n as f64 / 4.0)),
            ("even", Value::BoolValue(true)),
            ("user", user),
            ("error", s("disk \"full\"]")),
        ]),
        1 => want.extend([
            ("ratio", Value::DoubleValue(n as f64 / 4.0)),
            ("even", Value::BoolValue(false)),
            ("user", user),
        ]),
        2 => want.extend([
            ("neg", Value::IntValue(-(n as i64))),
            ("even", Value::BoolValue(true)),
        ]),
        _ => {}
    }
    let fields = want.len();
    for (k, v) in want {
        eq(k, get(k), v)?;
    }
    // The fields first, in order, then the code, thread and span ones.
    let keys: Vec<&str> = a.iter().map(|kv| kv.key.as_str()).collect();
    let tail = [
        "code.namespace",
        "code.filepath",
        "code.lineno",
        "thread.id",
        "thread.name",
        "span.scope",
        "span.names",
    ];
    if keys.len() != fields + tail.len() || keys[fields..] != tail {
        return Err(format!("attribute keys {keys:?}"));
    }
    eq(
        "code.namespace",
        get("code.namespace"),
        s("mplog_test_worker"),
    )?;
    eq(
        "code.filepath",
        get("code.filepath"),
        s("src/bin/mplog-test-worker.rs"),
    )?;
    if attr_int(a, "code.lineno").is_none_or(|l| l <= 0) || attr_int(a, "thread.id").is_none() {
        return Err("code.lineno or thread.id".into());
    }
    eq("thread.name", get("thread.name"), s("main"))?;
    let scope = format!("job{{worker={id}}}:step{{n={n}}}");
    if attr_str(a, "span.scope") != Some(scope.as_str()) {
        return Err(format!("span.scope {:?}", attr_str(a, "span.scope")));
    }
    match get("span.names") {
        Some(Value::ArrayValue(arr))
            if arr
                .values
                .iter()
                .map(|v| v.value.clone())
                .collect::<Vec<_>>()
                == [Some(s("job")), Some(s("step"))] => {}
        other => return Err(format!("span.names {other:?}")),
    }
    Ok(())
}
