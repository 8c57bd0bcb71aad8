//! This project: worker processes → the sink.

use std::error::Error;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use tracing_mplog::Endpoint;
use tracing_mplog_sink::format::FormatLevel;
use tracing_mplog_sink::{ProcessKey, Sink};

use crate::common::{self, Args, DATEFMT, MAX_BYTES, Outcome, PAD, TEMPLATE};

/// The sink process: starts the sink, spawns the workers, waits, shuts the
/// sink down (drained, flushed, synced) and counts every line on disk.
pub(crate) fn run(args: &Args) -> Result<Outcome, Box<dyn Error>> {
    let logdir = args.dir.join("logs");
    let handle = Sink::builder()
        .listen(Endpoint::Unix(args.dir.join("sink.sock")))
        .logdir(&logdir)
        .name("bench")
        .consolidate(true)
        .process_key([ProcessKey::Name])
        .format(FormatLevel::Default, TEMPLATE)
        .datefmt(DATEFMT)
        .max_bytes(MAX_BYTES)
        .start()?;
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let children = (0..args.workers)
        .map(|w| {
            let mut cmd = Command::new(&exe);
            cmd.args([
                "--worker-id",
                &w.to_string(),
                "--events",
                &args.events.to_string(),
            ])
            .env("TRACING_MPLOG_PROCESS_NAME", format!("worker-{w}"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped());
            handle.configure_command(&mut cmd);
            cmd.spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut caller_ns = 0.0;
    let mut caller_cpu_ns = 0.0;
    let mut first_event = f64::MAX;
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!("a worker failed: {}", out.status).into());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        for kv in text.split_whitespace() {
            if let Some(v) = kv.strip_prefix("caller_ns=") {
                caller_ns += v.parse::<f64>()?;
            }
            if let Some(v) = kv.strip_prefix("caller_cpu_ns=") {
                caller_cpu_ns += v.parse::<f64>()?;
            }
            if let Some(v) = kv.strip_prefix("started_after_s=") {
                first_event = first_event.min(v.parse::<f64>()?);
            }
        }
    }
    let report = handle.shutdown()?;
    let seconds = start.elapsed().as_secs_f64();
    eprintln!("{report}");
    // `started_after_s` is each worker's own clock since its start; the time
    // from our spawn to a worker's first event is process start-up, which the
    // in-process baselines do not pay: subtract the earliest.
    let seconds = seconds - first_event.min(seconds / 2.0).max(0.0);
    let mut lost = 0;
    let mut duplicated = 0;
    let consolidated = common::files_with_prefix(&logdir, "bench.log")?;
    let (l, d) = common::count_records(&consolidated, args.workers, args.events)?;
    lost += l;
    duplicated += d;
    for w in 0..args.workers {
        let files = common::files_with_prefix(&logdir, &format!("worker-{w}.log"))?;
        let (l, d) = common::count_records(&files, args.workers, args.events)?;
        // A per-process file holds only its worker's records.
        lost += l - (args.workers as u64 - 1) * args.events;
        duplicated += d;
    }
    Ok(Outcome {
        name: "pipeline".into(),
        events: args.workers as u64 * args.events,
        seconds,
        caller_ns: Some(caller_ns / args.workers as f64),
        caller_cpu_ns: Some(caller_cpu_ns / args.workers as f64),
        lost,
        duplicated,
        peak_rss_kib: common::peak_rss_kib(),
    })
}

/// A worker process: `worker::init()`, M events, flush, report its cost.
pub(crate) fn worker(id: usize, events: u64) -> Result<(), Box<dyn Error>> {
    let boot = Instant::now();
    let guard = tracing_mplog::worker::init()?;
    let started_after_s = boot.elapsed().as_secs_f64();
    let start = Instant::now();
    let cpu = common::thread_cpu_ns();
    for i in 0..events {
        tracing::info!("worker {id} event {i} {PAD}");
    }
    let caller_cpu_ns = (common::thread_cpu_ns() - cpu) / events as f64;
    let caller_ns = start.elapsed().as_nanos() as f64 / events as f64;
    guard.flush()?;
    drop(guard);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "caller_ns={caller_ns:.1} caller_cpu_ns={caller_cpu_ns:.1} started_after_s={started_after_s:.6}"
    )?;
    Ok(())
}
