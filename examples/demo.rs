//! The multi-process demo: a port of acrilog's `MpLogger` example.
//!
//! ```sh
//! cargo run --release --example demo
//! ```
//!
//! The parent starts the sink in-process with acrilog's `level_formats` and
//! `datefmt`, logs its own events through `SinkLayer` (no socket), spawns 4
//! worker processes (`tracing_mplog::worker::init`), one of which `fork()`s a
//! child that names itself `worker-3-child`
//! (`tracing_mplog::fork::after_fork_guard_named`). Each logs acrilog's `proc [pid]: i/limit - sleep Xsec` lines, then a
//! burst big enough to rotate. Everything lands in `./logs/`: a consolidated
//! `mplogger.log` and one file per process name, rotated at 256 KiB. The demo
//! ends by listing the files and the sink's per-process report, and fails if
//! a single event was lost.

use std::error::Error;
use std::fs;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use tracing_mplog::Endpoint;
use tracing_mplog_sink::format::FormatLevel;
use tracing_mplog_sink::{ProcessKey, Sink};
use tracing_subscriber::{EnvFilter, prelude::*};

/// Workers spawned with `Command`.
const WORKERS: usize = 4;
/// Events of each process's burst (after acrilog's lines).
const BURST: u64 = 2_000;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match (args.next().as_deref(), args.next()) {
        (Some("--worker"), Some(k)) => k
            .parse()
            .map_err(|e| format!("--worker: {e}").into())
            .and_then(worker),
        (None, _) => parent(),
        _ => Err("usage: demo (the workers are started by the demo itself)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How many events worker `k` logs in acrilog's loop.
fn limit(k: usize) -> u64 {
    [1, 1, 2, 3][k % 4]
}

fn parent() -> Result<(), Box<dyn Error>> {
    let socket_dir = std::env::temp_dir().join(format!("mplog-demo-{}", std::process::id()));
    let logdir = Path::new("logs");
    let sink = Sink::builder()
        .listen(Endpoint::Unix(socket_dir.join("sink.sock")))
        .logdir(logdir)
        .name("mplogger")
        .consolidate(true)
        .process_key([ProcessKey::Name])
        .level(tracing::Level::DEBUG)
        .format(
            FormatLevel::Debug,
            "[ %(asctime)s ][ %(levelname)s ][ %(message)s ][ %(module)s.%(funcName)s(%(lineno)d) ]",
        )
        .format(FormatLevel::Default, "[ %(asctime)s ][ %(levelname)s ][ %(message)s ]")
        .datefmt("%Y-%m-%d,%H:%M:%S.%f")
        .max_bytes(256 * 1024)
        .backup_count(50)
        .start()?;
    // The parent's own events go straight to the sink's writer.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug"));
    tracing_subscriber::registry()
        .with(filter)
        .with(sink.layer())
        .init();

    tracing::debug!("starting sub processes");
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for k in 0..WORKERS {
        let mut cmd = Command::new(&exe);
        cmd.args(["--worker", &k.to_string()])
            .env("TRACING_MPLOG_PROCESS_NAME", format!("worker-{k}"))
            .env("RUST_LOG", "info");
        sink.configure_command(&mut cmd);
        children.push(cmd.spawn()?);
    }
    for mut child in children {
        let status = child.wait()?;
        if !status.success() {
            tracing::error!("a worker ended with {status}");
        }
    }
    tracing::debug!("sub processes completed");

    let report = sink.shutdown()?;
    let _ = fs::remove_dir(&socket_dir);
    println!("files in {}:", logdir.display());
    let mut files: Vec<_> = fs::read_dir(logdir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files.iter().filter(|p| p.is_file()) {
        let text = fs::read(path)?;
        let lines = text.iter().filter(|&&b| b == b'\n').count();
        println!(
            "  {:<48} {:>8} bytes {lines:>6} lines",
            path.display(),
            text.len()
        );
    }
    println!("\n{report}");

    let expected: u64 = (0..WORKERS).map(|k| limit(k) + BURST).sum::<u64>() + fork_child_events();
    let received: u64 = report.processes.iter().map(|p| p.received).sum();
    let parent_events = report
        .processes
        .iter()
        .filter(|p| p.pid == std::process::id())
        .map(|p| p.received)
        .sum::<u64>();
    let lost = expected.saturating_sub(received - parent_events);
    println!(
        "workers logged {expected} events, the sink received {}: lost = {lost}",
        received - parent_events
    );
    if lost > 0
        || report
            .processes
            .iter()
            .any(|p| p.pid != std::process::id() && !p.clean)
    {
        return Err("events were lost or a worker disconnected uncleanly".into());
    }
    let child_name = format!("worker-{}-child", WORKERS - 1);
    if cfg!(unix)
        && !report
            .processes
            .iter()
            .any(|p| p.process_name == child_name)
    {
        return Err(format!("the forked child did not report as {child_name}").into());
    }
    Ok(())
}

/// Events the forked child logs (Unix only).
fn fork_child_events() -> u64 {
    if cfg!(unix) { 1 + BURST } else { 0 }
}

/// A spawned worker: acrilog's loop, a burst, and (worker 3, on Unix) a
/// forked child doing the same.
fn worker(k: usize) -> Result<(), Box<dyn Error>> {
    let guard = tracing_mplog::worker::init()?;
    acrilog_loop(limit(k));
    burst(&format!("worker-{k}"));
    if k == WORKERS - 1 {
        fork_child()?;
    }
    guard.flush()?;
    Ok(())
}

/// acrilog's `subproc`: sleep a little, log `proc [pid]: i/limit - sleep Xsec`.
fn acrilog_loop(limit: u64) {
    let pid = std::process::id();
    for i in 0..limit {
        // A pseudo-random pause of 0.05–0.3 s, different per process.
        let sleep = 0.05
            + f64::from((pid.wrapping_mul(2_654_435_761).wrapping_add(i as u32 * 97)) % 250)
                / 1000.0;
        std::thread::sleep(Duration::from_secs_f64(sleep));
        tracing::info!(
            "proc [{pid}]: {i}/{limit} - sleep {:>4.4}sec",
            sleep.to_string()
        );
    }
}

fn burst(who: &str) {
    let span = tracing::info_span!("burst", who);
    let _entered = span.enter();
    for i in 0..BURST {
        tracing::info!(
            i,
            "{who} burst event {i}/{BURST}: enough text to make the files rotate a few times"
        );
    }
}

#[cfg(unix)]
fn fork_child() -> Result<(), Box<dyn Error>> {
    // SAFETY: the child only logs through tracing-mplog (which builds fresh
    // state after a fork) and leaves with `_exit`.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error().into()),
        0 => {
            // Its own name first, so its hello, its report line and its
            // per-name file read `worker-3-child`, not its parent's name.
            let guard = tracing_mplog::fork::after_fork_guard_named(format!(
                "worker-{}-child",
                WORKERS - 1
            ));
            acrilog_loop(1);
            burst("forked-child");
            // Flush this process's events, then leave without running the
            // parent's destructors.
            drop(guard);
            // SAFETY: ends the child immediately.
            unsafe { libc::_exit(0) }
        }
        child => {
            let mut status = 0;
            // SAFETY: waits for our own child.
            if unsafe { libc::waitpid(child, &mut status, 0) } < 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
                return Err(format!("the forked child ended with status {status}").into());
            }
            Ok(())
        }
    }
}

#[cfg(not(unix))]
fn fork_child() -> Result<(), Box<dyn Error>> {
    Ok(())
}
