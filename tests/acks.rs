//! Acknowledged delivery with real processes: four test workers log over
//! loopback TCP (acknowledged by default there) into the `mplog-sink`
//! binary, which is SIGKILLed mid-stream and restarted on the same port and
//! log folder. Every event must be in the files (the workers resend what
//! was not acknowledged), and what is written twice (written by the killed
//! sink, not yet acknowledged, and not yet in its saved high-water marks)
//! must stay under 1 %.

mod cluster_support;
mod support;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use cluster_support::{RunningSink, sink_bin};
use support::{Proc, Setup, SpawnGuarded, lines, log_files, series, wait_ok};

const WORKERS: u64 = 4;
const EVENTS: u64 = 20_000;

fn sink(s: &Setup, listen: &str) -> RunningSink {
    let mut cmd = Command::new(sink_bin());
    cmd.arg("--listen")
        .arg(listen)
        .arg("--logdir")
        .arg(s.logdir())
        .args(["--name", "all", "--consolidate", "--process-key", "none"])
        .args(["--format", &format!("default={}", support::TEMPLATE)]);
    RunningSink::start(cmd)
}

/// How many lines of the consolidated file hold worker events.
fn written(s: &Setup) -> usize {
    let files = log_files(&s.logdir(), "all.log");
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|t| t.lines().filter(|l| l.contains(" w")).count())
        .sum()
}

#[test]
fn a_sigkilled_sink_loses_nothing_in_ack_mode_and_duplicates_little() {
    let s = Setup::new();
    let first = sink(&s, "tcp://127.0.0.1:0");
    let endpoint = first.endpoint("tcp");
    let workers: Vec<Proc> = (0..WORKERS)
        .map(|id| {
            let mut cmd = s.worker(id, EVENTS, &["--sleep-us", "50"]);
            cmd.env("TRACING_MPLOG_ENDPOINT", &endpoint)
                // The restart must not count as an outage.
                .env("TRACING_MPLOG_OUTAGE_GRACE", "120s");
            cmd.spawn_guarded()
        })
        .collect();

    // Kill the sink once a good part, not all, of the events is written.
    let deadline = Instant::now() + Duration::from_secs(60);
    while written(&s) < (WORKERS * EVENTS / 5) as usize {
        assert!(Instant::now() < deadline, "the first sink wrote too little");
        std::thread::sleep(Duration::from_millis(5));
    }
    let at_kill = written(&s);
    drop(first); // SIGKILL, then wait for it
    assert!(
        at_kill < (WORKERS * EVENTS) as usize,
        "the sink was killed mid-stream ({at_kill} lines written)"
    );
    std::thread::sleep(Duration::from_millis(200));
    let second = sink(&s, &endpoint);
    second.wait_line("listening on tcp://");
    for w in workers {
        wait_ok(w);
    }
    let stderr = second.stop();

    let all = lines(&log_files(&s.logdir(), "all.log"));
    let map = series(&all);
    let mut duplicated = 0;
    for id in 0..WORKERS {
        let got = map.get(&id).cloned().unwrap_or_default();
        let mut seen: HashMap<u64, u32> = HashMap::new();
        for n in &got {
            *seen.entry(*n).or_default() += 1;
        }
        let missing: Vec<u64> = (1..=EVENTS).filter(|n| !seen.contains_key(n)).collect();
        assert!(
            missing.is_empty(),
            "worker {id}: {} events missing (first {:?}); second sink said:\n{stderr}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        assert!(
            seen.keys().all(|n| (1..=EVENTS).contains(n)),
            "worker {id}: only its own events"
        );
        duplicated += got.len() as u64 - EVENTS;
    }
    let total = WORKERS * EVENTS;
    eprintln!(
        "ack mode, sink SIGKILLed after {at_kill} lines: {total} events all present, {duplicated} duplicated"
    );
    assert!(
        duplicated * 100 <= total,
        "{duplicated} of {total} events written twice (more than 1 %)"
    );
}
