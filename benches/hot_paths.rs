//! Criterion benchmarks of the hot paths, each next to its baseline in the
//! same run (`cargo bench --bench hot_paths`; see BENCHMARKS.md).
//!
//! - `caller/*`: what a thread pays per `info!` (a message + 3 fields inside
//!   2 spans), in wall time and (`*_cpu`) in the logging thread's CPU time,
//!   through `MpLayer` (the real sink drains the socket in this process), through
//!   `fmt` + `tracing_appender::non_blocking` + a rolling file (the usual
//!   setup today), and through `fmt` + `LevelFormatter` + `RotatingFile`.
//! - `caller/mplayer_forksafe*`: the same through `MpLayer` with the
//!   subscriber wrapped in `fork::ForkSafe`; `fork_gate/*`: the event
//!   through a bare `Registry`, with and without `ForkSafe` (the gate alone).
//! - `wire/*`: encoding and decoding one event frame.
//! - `format/*`: `LevelFormatter::format_record` on a record.
//! - `short_lived/*`: a short-lived worker's whole logging life (set up,
//!   one event, guard dropped), through `MpLayer` and through `fmt` +
//!   `non_blocking` + a rolling file opened in the process.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::fmt;
use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use time::OffsetDateTime;
use tracing::{Dispatch, Level};
use tracing_mplog::fork::ForkSafeExt;
use tracing_mplog::wire::{Frame, OwnedEvent, OwnedField, OwnedFrame, OwnedSpan, OwnedValue};
use tracing_mplog::{Endpoint, MpLayer};
use tracing_mplog_sink::format::{FormatLevel, LevelFormatter};
use tracing_mplog_sink::record::RecordView;
use tracing_mplog_sink::{RotatingFile, Sink, SinkHandle};
use tracing_subscriber::prelude::*;

const DEBUG_TEMPLATE: &str =
    "[ %(asctime)s ][ %(levelname)s ][ %(message)s ][ %(module)s.%(funcName)s(%(lineno)d) ]";
const DEFAULT_TEMPLATE: &str = "[ %(asctime)s ][ %(levelname)s ][ %(message)s ]";
const DATEFMT: &str = "%Y-%m-%d,%H:%M:%S.%f";

/// How a caller bench measures: the wall time of the logging loop, or the
/// CPU time the logging thread used (what logging costs the caller itself,
/// without waiting for room in a full channel or for a core).
#[derive(Clone, Copy)]
enum Measure {
    Wall,
    Cpu,
}

/// CPU time the calling thread has used.
fn thread_cpu() -> std::time::Duration {
    // SAFETY: clock_gettime writes into the zeroed struct we own.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Logs the typical event `iters` times inside two spans under `dispatch`.
fn log_typical(dispatch: &Dispatch, iters: u64, measure: Measure) -> std::time::Duration {
    tracing::dispatcher::with_default(dispatch, || {
        let a = tracing::info_span!("request", id = 17u64, path = "/users");
        let _a = a.enter();
        let b = tracing::info_span!("db", table = "users");
        let _b = b.enter();
        let start = std::time::Instant::now();
        let cpu = thread_cpu();
        for i in 0..iters {
            tracing::info!(user = i, ok = true, ratio = 0.25, "saved user");
        }
        match measure {
            Measure::Wall => start.elapsed(),
            Measure::Cpu => thread_cpu().saturating_sub(cpu),
        }
    })
}

/// The caller bench `name` (wall time) and `name_cpu` (the logging
/// thread's CPU time) of the typical event under `dispatch`.
fn wall_and_cpu(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, dispatch: &Dispatch) {
    g.bench_function(name, |b| {
        b.iter_custom(|n| log_typical(dispatch, n, Measure::Wall))
    });
    g.bench_function(format!("{name}_cpu"), |b| {
        b.iter_custom(|n| log_typical(dispatch, n, Measure::Cpu))
    });
}

/// A sink in this process on `{dir}/{name}.sock`, writing one consolidated
/// file under `{dir}/logs` (size rotation keeps the disk use bounded);
/// returns it and its socket.
fn draining_sink(dir: &std::path::Path, name: &str) -> (SinkHandle, std::path::PathBuf) {
    let sock = dir.join(format!("{name}.sock"));
    let sink = Sink::builder()
        .listen(Endpoint::Unix(sock.clone()))
        .logdir(dir.join("logs"))
        .name(name)
        .consolidate(true)
        .process_key([])
        .max_bytes(64 << 20)
        .backup_count(1)
        .start()
        .expect("sink");
    (sink, sock)
}

/// Baseline A: `fmt` + `non_blocking` (lossless) + tracing-appender's
/// rolling file `{dir}/{file}`; drop the guard after the dispatch.
fn baseline_a(
    dir: &std::path::Path,
    file: &str,
) -> (Dispatch, tracing_appender::non_blocking::WorkerGuard) {
    let appender = tracing_appender::rolling::never(dir, file);
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(appender);
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer),
        ),
    );
    (dispatch, guard)
}

fn caller(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("caller");
    g.throughput(Throughput::Elements(1));

    // MpLayer with the real sink draining.
    let (sink, sock) = draining_sink(dir.path(), "bench");
    let (layer, guard) = MpLayer::builder()
        .endpoint(Endpoint::Unix(sock))
        .process_name("bench")
        .build()
        .expect("layer");
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    wall_and_cpu(&mut g, "mplayer", &dispatch);
    drop(dispatch);
    drop(guard);

    // The same, with the subscriber wrapped in `ForkSafe` (what
    // `worker::init` installs): the gate's cost per event.
    let (layer, guard) = MpLayer::builder()
        .endpoint(Endpoint::Unix(dir.path().join("bench.sock")))
        .process_name("bench-forksafe")
        .build()
        .expect("layer");
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer).fork_safe());
    wall_and_cpu(&mut g, "mplayer_forksafe", &dispatch);
    drop(dispatch);
    drop(guard);
    sink.shutdown().expect("sink shutdown");

    let (dispatch, guard) = baseline_a(dir.path(), "baseline_a.log");
    wall_and_cpu(&mut g, "fmt_nonblocking_rolling", &dispatch);
    drop(dispatch);
    drop(guard);

    // Baseline B: fmt + LevelFormatter + RotatingFile, written in the caller.
    let file = RotatingFile::builder()
        .max_bytes(64 << 20)
        .backup_count(2)
        .build(dir.path().join("baseline_b.log"))
        .expect("rotating file");
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .event_format(formatter())
                .with_writer(file),
        ),
    );
    g.bench_function("fmt_levelformatter_rotatingfile", |b| {
        b.iter_custom(|n| log_typical(&dispatch, n, Measure::Wall))
    });
    g.finish();
}

/// The gate alone: the same event through a bare `Registry` (which does
/// nothing with it), with and without `ForkSafe`.
fn fork_gate(c: &mut Criterion) {
    let mut g = c.benchmark_group("fork_gate");
    g.throughput(Throughput::Elements(1));
    let plain = Dispatch::new(tracing_subscriber::registry());
    g.bench_function("registry", |b| {
        b.iter_custom(|n| log_typical(&plain, n, Measure::Cpu))
    });
    let wrapped = Dispatch::new(tracing_subscriber::registry().fork_safe());
    g.bench_function("registry_forksafe", |b| {
        b.iter_custom(|n| log_typical(&wrapped, n, Measure::Cpu))
    });
    g.finish();
}

fn formatter() -> LevelFormatter {
    LevelFormatter::builder()
        .format(FormatLevel::Debug, DEBUG_TEMPLATE)
        .default_format(DEFAULT_TEMPLATE)
        .datefmt(DATEFMT)
        .build()
        .expect("valid templates")
}

fn typical_event() -> OwnedFrame {
    let field = |name: &str, value| OwnedField {
        name: name.into(),
        value,
    };
    OwnedFrame::Event(OwnedEvent {
        seq: 42,
        timestamp_ns: 1_700_000_000_123_456_789,
        level: Level::INFO,
        target: "app::db".into(),
        module_path: Some("app::db".into()),
        file: Some("src/db.rs".into()),
        line: Some(120),
        thread_id: 4242,
        thread_name: Some("worker".into()),
        message: Some("saved user".into()),
        fields: vec![
            field("user", OwnedValue::U64(7)),
            field("ok", OwnedValue::Bool(true)),
            field("ratio", OwnedValue::F64(0.25)),
        ],
        spans: vec![
            OwnedSpan {
                name: "request".into(),
                fields: vec![
                    field("id", OwnedValue::U64(17)),
                    field("path", OwnedValue::Str("/users".into())),
                ],
            },
            OwnedSpan {
                name: "db".into(),
                fields: vec![field("table", OwnedValue::Str("users".into()))],
            },
        ],
    })
}

fn wire(c: &mut Criterion) {
    let frame = typical_event();
    let mut buf = Vec::with_capacity(512);
    frame.encode(&mut buf);
    let body = buf[4..].to_vec();
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_event", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&frame).encode(&mut buf);
            black_box(buf.len())
        })
    });
    g.bench_function("decode_event", |b| {
        b.iter(|| match Frame::decode(black_box(&body)) {
            Ok(Frame::Event(e)) => black_box(e.fields().count() + e.spans().count()),
            _ => panic!("the bench frame decodes"),
        })
    });
    g.finish();
}

/// A record with fixed parts, as the sink's decoded records present them.
struct Rec {
    time: OffsetDateTime,
}

impl RecordView for Rec {
    fn timestamp(&self) -> OffsetDateTime {
        self.time
    }
    fn level(&self) -> Level {
        Level::INFO
    }
    fn target(&self) -> &str {
        "app::db"
    }
    fn module_path(&self) -> Option<&str> {
        Some("app::db")
    }
    fn file(&self) -> Option<&str> {
        Some("src/db.rs")
    }
    fn line(&self) -> Option<u32> {
        Some(120)
    }
    fn pid(&self) -> u32 {
        4242
    }
    fn process_name(&self) -> &str {
        "worker-1"
    }
    fn thread_name(&self) -> Option<&str> {
        Some("worker")
    }
    fn thread_id(&self) -> u64 {
        4243
    }
    fn host(&self) -> &str {
        "box"
    }
    fn write_message(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str("saved user")
    }
    fn write_fields(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str("user=7 ok=true ratio=0.25")
    }
    fn has_fields(&self) -> bool {
        true
    }
    fn innermost_span(&self) -> Option<&str> {
        Some("db")
    }
    fn write_spans(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str("request{id=17 path=\"/users\"}:db{table=\"users\"}")
    }
}

fn format(c: &mut Criterion) {
    let f = formatter();
    let mut out = String::with_capacity(256);
    let mut rec = Rec {
        time: OffsetDateTime::now_utc(),
    };
    let mut g = c.benchmark_group("format");
    g.throughput(Throughput::Elements(1));
    g.bench_function("format_record", |b| {
        b.iter(|| {
            // One microsecond later each time: the date cache is hit within a second.
            rec.time += time::Duration::microseconds(1);
            out.clear();
            f.format_record(black_box(&rec), &mut out).expect("formats");
            black_box(out.len())
        })
    });
    g.finish();
}

/// A short-lived worker's whole logging life, one per iteration: set up
/// the subscriber, log one event, drop the guard (which waits until the
/// event is written, acknowledged by the sink for `MpLayer`). What
/// thousands of short jobs pay each: the connection and its handshake
/// against opening the log file in every process.
fn short_lived(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (sink, sock) = draining_sink(dir.path(), "short");
    let mut g = c.benchmark_group("short_lived");
    g.throughput(Throughput::Elements(1));
    let log_one = |dispatch: &Dispatch| {
        tracing::dispatcher::with_default(dispatch, || tracing::info!(job = 7u64, "job done"));
    };
    g.bench_function("mplayer", |b| {
        b.iter(|| {
            let (layer, guard) = MpLayer::builder()
                .endpoint(Endpoint::Unix(sock.clone()))
                .process_name("short")
                .build()
                .expect("layer");
            let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
            log_one(&dispatch);
            drop(dispatch);
            drop(guard);
        })
    });
    g.bench_function("fmt_nonblocking_rolling", |b| {
        b.iter(|| {
            let (dispatch, guard) = baseline_a(dir.path(), "short_baseline.log");
            log_one(&dispatch);
            drop(dispatch);
            drop(guard);
        })
    });
    g.finish();
    sink.shutdown().expect("sink shutdown");
}

criterion_group!(benches, caller, fork_gate, wire, format, short_lived);
criterion_main!(benches);
