//! Python peers (acrilog 1.1.4, stdlib QueueListener, and the same Python
//! workers through `SocketHandler` into `mplog-sink --python-listen`), when
//! Python 3 is here.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::args::Args;
use crate::common::Count;
use crate::outcome::Outcome;

/// Runs `scripts/bench_python.sh` and turns its JSON lines into outcomes.
/// Python is slow: acrilog runs a smaller workload (its events/s is what
/// is compared).
pub(crate) fn run(args: &Args, root: &Path) -> Result<Vec<Outcome>, Box<dyn Error>> {
    let stdlib_events = args.events.min(50_000);
    let acrilog_events = args.events.min(5_000);
    let out = Command::new("bash")
        .arg("scripts/bench_python.sh")
        .arg(root.join("python"))
        .arg(args.workers.to_string())
        .arg(acrilog_events.to_string())
        .arg(stdlib_events.to_string())
        .args(sink_bin())
        .output()?;
    if !out.status.success() {
        eprintln!(
            "bench: python peers skipped ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        );
        return Ok(Vec::new());
    }
    let mut v = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(o) = parse_json(line) {
            v.push(o);
        }
    }
    Ok(v)
}

/// The `mplog-sink` binary of this build profile, built if missing
/// (`None`: it could not be; the SocketHandler row is left out).
fn sink_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/examples/bench -> target/<profile>/mplog-sink
    let profile_dir = exe.parent()?.parent()?;
    let bin = profile_dir.join("mplog-sink");
    if !bin.exists() {
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "tracing-mplog-sink", "--bin", "mplog-sink"]);
        if release {
            cmd.arg("--release");
        }
        if !cmd.status().is_ok_and(|s| s.success()) {
            eprintln!("bench: mplog-sink could not be built; its Python row is skipped");
            return None;
        }
    }
    bin.exists().then_some(bin)
}

/// Reads the few keys we need from a flat JSON object of bench_peers.py.
fn parse_json(line: &str) -> Option<Outcome> {
    let get = |key: &str| -> Option<&str> {
        let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = line[at..].trim_start();
        let end = rest.find([',', '}'])?;
        Some(rest[..end].trim().trim_matches('"'))
    };
    let procs: u64 = get("procs")?.parse().ok()?;
    let events: u64 = procs * get("events")?.parse::<u64>().ok()?;
    Some(Outcome {
        name: format!("python-{}", get("impl")?),
        workers: usize::try_from(procs).ok()?,
        events,
        seconds: get("seconds")?.parse().ok()?,
        count: Count {
            lost: get("lost")?.parse().ok()?,
            duplicated: get("duplicated")?.parse().ok()?,
        },
        ..Outcome::default()
    })
}
