//! End-to-end benchmark: this project's pipeline against the single-process
//! setups people use today, on the same events (see BENCHMARKS.md;
//! `scripts/bench.sh` runs the whole set).
//!
//! ```sh
//! cargo run --release --example bench -- --workers 4 --events 250000 --runs 3 [--python]
//! cargo run --release --example bench -- --scaling 1,2,4,8,16,64 --svg docs/bench-scaling.svg
//! ```
//!
//! Every run of every scenario is a child process of its own (so its peak
//! RSS is its own, and the baselines install the global default subscriber
//! as a program would) and writes into `target/bench-run/<scenario>/`. Every
//! scenario logs the same event mix (`common::log_mix`):
//!
//! 1. `pipeline`: N worker processes (`worker::init`, default backpressure) → the sink,
//!    consolidated + per-process files (each line written twice), size
//!    rotation at 50 MB, timed from the first event to the last line synced;
//! 2. `pipeline-consolidated`: the same, the consolidated file only;
//! 3. `baseline-a`: one process, N threads, `registry().with(EnvFilter)
//!    .with(fmt::layer().with_writer(non_blocking))` (lossy off) into
//!    `tracing_appender::rolling::never`, `.init()`;
//! 4. `baseline-b`: one process, N threads, `fmt` + `LevelFormatter` +
//!    `RotatingFile` written by the logging threads;
//! 5. with `--network`, `pipeline-tcp`, `pipeline-tls` (and `-ack`): the
//!    `pipeline` scenario over loopback `tcp://` and `tls://` (a certificate
//!    made with rcgen), without and with acknowledged delivery;
//! 6. `pipeline-forward` (named in `--only`): `pipeline` with the sink also
//!    forwarding every record to a real rsyslogd (`syslog+tcp`, into its
//!    own file) and to an OTLP/HTTP receiver (`otlp+http`), timed until the
//!    files are synced and both destinations took every record; the run
//!    fails unless rsyslog's file and the receiver hold every record.
//!    `pipeline-forward-syslog` and `pipeline-forward-otlp` forward to one;
//! 7. `floor`: raw pre-encoded frames from N threads over Unix sockets into a
//!    `BufWriter` file: the hardware's floor for the same bytes;
//! 8. with `--python`, Python peers (acrilog 1.1.4, stdlib QueueListener, and
//!    `python-mplog-sink`: Python workers through `SocketHandler` into
//!    `mplog-sink --python-listen`) via
//!    `scripts/bench_python.sh`, once.
//!
//! The scenarios run `--runs` times, interleaved; the table gives medians
//! and the spread, and the machine's load average around every run. Every
//! line written is read back and counted: a lost or duplicated record fails
//! the run.

mod args;
mod common;
mod forward;
mod outcome;
mod peers;
mod pipeline;
mod report;
mod scaling;
mod single;

use std::error::Error;
use std::path::Path;
use std::process::{Command, ExitCode};

use args::Args;
use outcome::Outcome;
use pipeline::Transport;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn Error>> {
    let args = Args::parse(std::env::args().skip(1))?;
    if let Some(id) = args.worker_id {
        pipeline::worker(id, args.events)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(scenario) = &args.scenario {
        let outcome = match scenario.as_str() {
            "pipeline" => pipeline::run(&args, false, Transport::Unix)?,
            "pipeline-consolidated" => pipeline::run(&args, true, Transport::Unix)?,
            "pipeline-monitor" => pipeline::run(&args, false, Transport::Unix)?,
            "pipeline-forward" | "pipeline-forward-syslog" | "pipeline-forward-otlp" => {
                pipeline::run(&args, false, Transport::Unix)?
            }
            "pipeline-tcp" => pipeline::run(&args, false, Transport::Tcp { ack: false })?,
            "pipeline-tcp-ack" => pipeline::run(&args, false, Transport::Tcp { ack: true })?,
            "pipeline-tls" => pipeline::run(&args, false, Transport::Tls { ack: false })?,
            "pipeline-tls-ack" => pipeline::run(&args, false, Transport::Tls { ack: true })?,
            "baseline-a" => single::baseline_a(&args)?,
            "baseline-b" => single::baseline_b(&args)?,
            "floor" => single::floor(&args)?,
            other => return Err(format!("unknown scenario `{other}`").into()),
        };
        println!("{}", outcome.to_line());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "bench: {} core(s), load before: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        common::loadavg_line()
    );
    let ok = if args.scaling.is_empty() {
        table(&args)?
    } else {
        scaling::run(&args)?
    };
    println!("bench: load after: {}", common::loadavg_line());
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The table mode: every selected scenario `--runs` times, interleaved.
fn table(args: &Args) -> Result<bool, Box<dyn Error>> {
    println!(
        "bench: {} workers × {} events, {} run(s) of {}",
        args.workers,
        args.events,
        args.runs,
        args.selected().join(", ")
    );
    let root = args.root.clone();
    let mut outcomes = Vec::new();
    for run in 1..=args.runs {
        for scenario in args.selected() {
            let o = run_child(scenario, args.workers, args.events, &root, args.keep)?;
            eprintln!("bench: run {run}/{} {}", args.runs, describe(&o));
            outcomes.push(o);
        }
    }
    if args.python {
        outcomes.extend(peers::run(args, &root)?);
    }
    Ok(report::print(&outcomes, args.workers, args.events))
}

/// One line about one run, for the log.
pub(crate) fn describe(o: &Outcome) -> String {
    let (before, after) = o.load.unwrap_or((f64::NAN, f64::NAN));
    let mut s = format!(
        "{} {}×{}: {:.2} s, {:.0} events/s, load {before:.2}→{after:.2}",
        o.name,
        o.workers,
        o.events / o.workers.max(1) as u64,
        o.seconds,
        o.per_second()
    );
    if !o.exact() {
        s.push_str(&format!(
            " — FAILED: {} lost, {} duplicated",
            o.count.lost, o.count.duplicated
        ));
    }
    s
}

/// Runs one scenario in a child process of its own, in a fresh folder under
/// `root`, and reads its outcome; records the load average around it.
pub(crate) fn run_child(
    scenario: &str,
    workers: usize,
    events: u64,
    root: &Path,
    keep: bool,
) -> Result<Outcome, Box<dyn Error>> {
    let dir = root.join(scenario);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let before = common::load_1min();
    let out = Command::new(std::env::current_exe()?)
        .args(["--scenario", scenario, "--workers", &workers.to_string()])
        .args(["--events", &events.to_string(), "--dir"])
        .arg(&dir)
        .output()?;
    let after = common::load_1min();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "scenario {scenario} failed ({}):\n{}\n{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let line = stdout.lines().last().unwrap_or_default();
    let mut outcome = Outcome::from_line(line)
        .ok_or_else(|| format!("scenario {scenario}: no result in {stdout:?}"))?;
    outcome.load = before.zip(after);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(outcome)
}
