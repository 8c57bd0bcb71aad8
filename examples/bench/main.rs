//! End-to-end benchmark: this project's pipeline against the single-process
//! setups people use today, side by side in one run (see BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release --example bench -- --workers 4 --events 1000000 [--python]
//! ```
//!
//! Every scenario runs in a child process of its own (so its peak RSS is its
//! own) and writes into `target/bench-run/<scenario>/`:
//!
//! 1. `pipeline`: N worker processes (`worker::init`, `Block`) → the sink
//!    (consolidated + per-process files, size rotation at 50 MB), timed from
//!    the first event to the last line synced on disk;
//! 2. `baseline-a`: one process, N threads, `fmt` + `tracing_appender::non_blocking`
//!    (lossy off) + `tracing_appender::rolling`;
//! 3. `baseline-b`: one process, N threads, `fmt` + `LevelFormatter` + `RotatingFile`;
//! 4. `floor`: raw pre-encoded frames from N threads over Unix sockets into a
//!    `BufWriter` file — the hardware's floor for the same bytes, no formatting;
//! 5. with `--python`, Python peers (acrilog 1.1.4, stdlib QueueListener) via
//!    `scripts/bench_python.sh`.
//!
//! Every line written is read back and counted: a lost or duplicated record
//! fails the run.

mod common;
mod peers;
mod pipeline;
mod single;

use std::error::Error;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use common::{Args, Outcome};

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
            "pipeline" => pipeline::run(&args)?,
            "baseline-a" => single::baseline_a(&args)?,
            "baseline-b" => single::baseline_b(&args)?,
            "floor" => single::floor(&args)?,
            other => return Err(format!("unknown scenario `{other}`").into()),
        };
        println!("{}", outcome.to_line());
        return Ok(ExitCode::SUCCESS);
    }

    println!(
        "bench: {} workers x {} events, {} core(s)",
        args.workers,
        args.events,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let root = PathBuf::from("target").join("bench-run");
    let mut outcomes = Vec::new();
    for scenario in ["pipeline", "baseline-a", "baseline-b", "floor"] {
        if !args.only.is_empty() && !args.only.iter().any(|s| s == scenario) {
            continue;
        }
        let dir = root.join(scenario);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        eprintln!("bench: running {scenario} ...");
        let out = Command::new(std::env::current_exe()?)
            .args([
                "--scenario",
                scenario,
                "--workers",
                &args.workers.to_string(),
            ])
            .args(["--events", &args.events.to_string(), "--dir"])
            .arg(&dir)
            .output()?;
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
        outcomes.push(
            Outcome::from_line(line)
                .ok_or_else(|| format!("scenario {scenario}: no result in {stdout:?}"))?,
        );
        if !args.keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    if args.python {
        outcomes.extend(peers::run(&args, &root)?);
    }
    let ok = common::print_table(&outcomes);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
