//! Issue 10, item 1: a forked child of a multi-threaded parent never hangs,
//! whatever `RUST_LOG` says. One real worker (`worker::init()`,
//! `RUST_LOG='info,[handle]=debug'`, so `EnvFilter` takes a per-span lock
//! on every `handle` span) forks 1 000 children while 3 threads call
//! `#[instrument] fn handle(req)` in a loop; every child must finish (the
//! worker kills and counts one that does not within 30 s) and its 50
//! events must reach the real sink and its files.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use mplog_test_support::{SpawnGuarded, wait_exit};
use support::Setup;

const FORKS: u64 = 1_000;
const CHILD_REQUESTS: u64 = 50;

#[test]
fn a_thousand_forks_under_span_filter_load_never_hang() {
    fork_load("fork-load", FORKS, None);
}

/// The composer's way: `registry().with(EnvFilter).with(MpLayer)
/// .with(fmt::layer())` wrapped with `.fork_safe()`; the `fmt` layer writes
/// to stderr (a file here), whose lock the child must not inherit either.
#[test]
fn forks_with_a_composed_fork_safe_subscriber_and_a_fmt_layer_never_hang() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stderr.txt");
    let file = std::fs::File::create(&path).expect("stderr file");
    fork_load("fork-load-composed", 300, Some(file));
    // The fmt layer wrote the children's lines too.
    let text = std::fs::read_to_string(&path).expect("stderr file");
    let child_lines = text
        .lines()
        .filter(|l| {
            l.contains("DEBUG")
                && l.contains("req=")
                && l.ends_with(&format!("req {}", CHILD_REQUESTS - 1))
        })
        .count();
    assert_eq!(
        child_lines, 300,
        "one last `req 49` line per child on stderr"
    );
}

/// Runs the worker in `mode` with `forks` forks and checks everything.
fn fork_load(mode: &str, forks: u64, stderr: Option<std::fs::File>) {
    let s = Setup::new();
    let sink = s
        .sink()
        .level(tracing::Level::DEBUG)
        .start()
        .expect("sink starts");
    let mut cmd = s.worker_for(&sink, 7, 0, &["--mode", &format!("{mode}:{forks}")]);
    cmd.env("RUST_LOG", "info,[handle]=debug");
    if let Some(file) = stderr {
        cmd.stderr(file);
    }
    let mut worker = cmd.spawn_guarded();
    let worker_pid = worker.id();
    // The worker bounds each child's wait itself; this bounds the worker.
    wait_exit(
        &mut worker,
        Duration::from_secs(300),
        "the fork-load worker to finish",
    );
    let out = worker
        .into_child()
        .wait_with_output()
        .expect("worker output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fork-load worker failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), format!("forked {forks} hung 0 failed 0"));
    let report = sink.shutdown().expect("shutdown");

    // Every child reached the sink with all its events and a goodbye.
    let children: Vec<_> = report
        .processes
        .iter()
        .filter(|p| p.process_name == "worker-7" && p.pid != worker_pid)
        .collect();
    assert_eq!(children.len() as u64, forks, "one connection per child");
    for c in &children {
        assert_eq!(c.received, CHILD_REQUESTS, "child {}", c.pid);
        assert!(c.clean, "child {} ended without a goodbye", c.pid);
    }

    // And the files hold each child's 50 debug lines (`req 0` … `req 49`),
    // which only the `[handle]=debug` span directive lets through.
    let mut per_child: HashMap<String, Vec<u64>> = HashMap::new();
    for line in s.log_lines("all.log") {
        let mut words = line.split(' ');
        let (Some(_name), Some(pid), Some(level), Some("req"), Some(req)) = (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) else {
            continue;
        };
        if pid == worker_pid.to_string() {
            continue;
        }
        assert_eq!(level, "DEBUG", "{line}");
        per_child
            .entry(pid.to_owned())
            .or_default()
            .push(req.parse().expect("request number"));
    }
    assert_eq!(per_child.len() as u64, forks);
    let want: Vec<u64> = (0..CHILD_REQUESTS).collect();
    for (pid, reqs) in &per_child {
        assert_eq!(reqs, &want, "child {pid}");
    }
}
