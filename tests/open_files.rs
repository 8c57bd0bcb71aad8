//! Bounded descriptors (issue 19): a sink under a low `ulimit -n` serves
//! far more short-lived workers with distinct names than it has
//! descriptors, and loses nothing, in the consolidated file or in the
//! per-name files. Real `mplog-sink`, real worker processes.

mod support;

use std::process::Command;
use std::time::Instant;

use mplog_test_support::{RunningSink, SpawnGuarded, fd_targets, wait_ok};
use support::{Setup, assert_files_complete, file_args, sink_bin};

/// Workers, each with its own name (so its own per-key file).
const WORKERS: u64 = 1_200;
/// Events per worker.
const EVENTS: u64 = 10;
/// Workers alive at once: more than the connections that fit beside the
/// files under the limit (53), so some wait in the backlog.
const WAVE: u64 = 80;
/// The sink's descriptor limit, soft and hard (`ulimit -n` sets both).
const LIMIT: u32 = 256;

/// `mplog-sink` under `ulimit -n LIMIT`, consolidated `all.log` plus a file
/// per process name.
fn limited_sink(s: &Setup) -> RunningSink {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {LIMIT} && exec \"$0\" \"$@\""))
        .arg(sink_bin())
        .arg(format!("--listen=unix:{}", s.socket().display()));
    file_args(&mut cmd, &s.logdir(), "name");
    let sink = RunningSink::start(cmd);
    sink.wait_prefix("listening on unix:");
    sink
}

/// The sink's open descriptors now: all, and those of files in `logdir`.
fn open_fds(pid: u32, logdir: &std::path::Path) -> (usize, usize) {
    let links = fd_targets(pid);
    let logs = links.iter().filter(|l| l.starts_with(logdir)).count();
    (links.len(), logs)
}

#[cfg(target_os = "linux")]
#[test]
fn twelve_hundred_named_workers_under_ulimit_256_lose_nothing() {
    let s = Setup::new();
    let sink = limited_sink(&s);
    let pid = sink.pid();
    let started = Instant::now();
    let (mut most_fds, mut most_logs) = (0, 0);
    let mut id = 1;
    while id <= WORKERS {
        let wave: Vec<_> = (id..(id + WAVE).min(WORKERS + 1))
            .map(|w| s.worker(w, EVENTS, &[]).spawn_guarded())
            .collect();
        for worker in wave {
            wait_ok(worker);
        }
        let (fds, logs) = open_fds(pid, &s.logdir());
        most_fds = most_fds.max(fds);
        most_logs = most_logs.max(logs);
        id += WAVE;
    }
    eprintln!(
        "{WORKERS} workers in {:?}; the sink held at most {most_fds} descriptors \
         (limit {LIMIT}), {most_logs} of them log files",
        started.elapsed()
    );
    let stderr = sink.stop();
    assert!(
        !stderr.contains("dropped connection"),
        "a connection was dropped:\n{stderr}"
    );
    assert!(
        stderr.contains("unwritten records: 0"),
        "the report counts unwritten records:\n{stderr}"
    );
    let all = assert_files_complete(&s.logdir(), WORKERS, EVENTS);
    // The shortage is warned about once (and counted in the metrics).
    let warned = all
        .iter()
        .filter(|l| l.contains("descriptor limit:"))
        .count();
    assert_eq!(warned, 1, "descriptor warnings");
    assert!(most_fds < LIMIT as usize, "{most_fds} descriptors");
    // The default cap fits the limit: about half of what was free at start
    // (the consolidated file comes on top).
    assert!(
        (20..=LIMIT as usize / 2 + 1).contains(&most_logs),
        "{most_logs} log files open at once for {WORKERS} names"
    );
}
