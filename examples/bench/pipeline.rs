//! This project: worker processes → the sink.

use std::error::Error;
use std::io::Write as _;
use std::process::{Command, Stdio};

use tracing_mplog::Endpoint;
use tracing_mplog_sink::format::FormatLevel;
use tracing_mplog_sink::{ProcessKey, Sink};

use crate::args::Args;
use crate::common::{self, Caller, DATEFMT, MAX_BYTES, TEMPLATE};
use crate::outcome::Outcome;

/// The sink process: starts the sink (consolidated file, plus one file per
/// worker unless `consolidated_only`), spawns the workers, waits, shuts the
/// sink down (drained, flushed, synced) and counts every line on disk.
pub(crate) fn run(args: &Args, consolidated_only: bool) -> Result<Outcome, Box<dyn Error>> {
    let logdir = args.dir.join("logs");
    let keys = if consolidated_only {
        Vec::new()
    } else {
        vec![ProcessKey::Name]
    };
    let handle = Sink::builder()
        .listen(Endpoint::Unix(args.dir.join("sink.sock")))
        .logdir(&logdir)
        .name("bench")
        .consolidate(true)
        .process_key(keys)
        .format(FormatLevel::Default, TEMPLATE)
        .datefmt(DATEFMT)
        .max_bytes(MAX_BYTES)
        .start()?;
    let exe = std::env::current_exe()?;
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
    let mut wall_ns = 0.0;
    let mut cpu_ns = 0.0;
    let mut first_event_ns = f64::MAX;
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!("a worker failed: {}", out.status).into());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        for kv in text.split_whitespace() {
            if let Some(v) = kv.strip_prefix("caller_ns=") {
                wall_ns += v.parse::<f64>()?;
            }
            if let Some(v) = kv.strip_prefix("caller_cpu_ns=") {
                cpu_ns += v.parse::<f64>()?;
            }
            if let Some(v) = kv.strip_prefix("first_event_ns=") {
                first_event_ns = first_event_ns.min(v.parse::<f64>()?);
            }
        }
    }
    let report = handle.shutdown()?;
    // From the first event any worker logged (the machine's monotonic clock)
    // to every connection drained and every file flushed and fsynced: the
    // workers' process start-up, which the in-process baselines do not pay,
    // is not counted.
    let seconds = (common::monotonic_ns() - first_event_ns) / 1e9;
    eprintln!("{report}");
    let consolidated = common::files_with_prefix(&logdir, "bench.log")?;
    let mut count = common::count_records(&consolidated, args.workers, None, args.events)?;
    if !consolidated_only {
        for w in 0..args.workers {
            let files = common::files_with_prefix(&logdir, &format!("worker-{w}.log"))?;
            count += common::count_records(&files, args.workers, Some(w), args.events)?;
        }
    }
    let name = if consolidated_only {
        "pipeline-consolidated"
    } else {
        "pipeline"
    };
    let n = args.workers as f64;
    let caller = Caller {
        wall_ns: wall_ns / n,
        cpu_ns: cpu_ns / n,
    };
    Ok(Outcome::new(name, args, seconds, Some(caller), count))
}

/// A worker process: `worker::init()`, the event mix, flush, report its cost
/// and when its first event was logged.
pub(crate) fn worker(id: usize, events: u64) -> Result<(), Box<dyn Error>> {
    let guard = tracing_mplog::worker::init()?;
    let first_event_ns = common::monotonic_ns();
    let cpu = common::thread_cpu_ns();
    common::log_mix(id, events);
    let caller_cpu_ns = (common::thread_cpu_ns() - cpu) / events as f64;
    let caller_ns = (common::monotonic_ns() - first_event_ns) / events as f64;
    guard.flush()?;
    drop(guard);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "caller_ns={caller_ns:.1} caller_cpu_ns={caller_cpu_ns:.1} first_event_ns={first_event_ns:.0}"
    )?;
    Ok(())
}
