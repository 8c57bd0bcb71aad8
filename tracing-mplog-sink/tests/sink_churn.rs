//! A sink that outlives thousands of workers: what it remembers of the
//! ended ones stays bounded (`max_ended_processes`), and what it lets go of
//! is summed, not lost. Real sockets, real files.

mod support;

use std::time::Duration;

use mplog_test_support::{assert_series, metric, scrape_until};
use support::*;

const WORKERS: u32 = 12;
const EVENTS: u64 = 5;
const KEEP: usize = 3;

/// Twelve workers one after another, each with a clean goodbye, into a
/// sink that keeps 3 ended processes one by one: the metrics count the
/// other 9 as forgotten while it runs, the report lists the newest 3 and
/// sums the rest, and every line is in the file.
#[test]
fn ended_processes_beyond_the_limit_are_summed_not_listed() {
    let env = Env::new();
    let sink = env
        .builder()
        .name("all")
        .consolidate(true)
        .process_key([])
        .max_ended_processes(KEEP)
        .metrics_listen("127.0.0.1:0")
        // Ended processes leave the metrics at once, so the writer may
        // forget them while it runs.
        .metrics_retention(Duration::ZERO)
        .start()
        .expect("start");
    for w in 1..=WORKERS {
        let mut bytes = hello(100 + w, 1, &format!("w{w}"));
        bytes.extend(events(w, 1, EVENTS));
        bytes.extend(goodbye(EVENTS));
        deliver(&sink, &bytes);
        // In order: each process says hello after the one before.
        env.wait_lines("all.log", w as usize * EVENTS as usize);
    }
    let addr = sink.metrics_addr().expect("metrics served").to_string();
    let forgotten = u64::from(WORKERS) - KEEP as u64;
    scrape_until(&addr, WAIT, "the ended processes forgotten", |body| {
        metric(body, "mplog_processes_forgotten_total", &[]) == Some(forgotten as f64)
    });

    let report = sink.shutdown().expect("shutdown");
    let pids: Vec<u32> = report.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, [110, 111, 112], "the newest {KEEP} are listed");
    assert!(
        report
            .processes
            .iter()
            .all(|p| p.clean && p.received == EVENTS)
    );
    let g = &report.forgotten;
    assert_eq!(g.processes, forgotten);
    assert_eq!(g.received, forgotten * EVENTS);
    assert_eq!(
        (g.connections, g.unclean, g.dropped_by_worker),
        (forgotten, 0, 0)
    );
    let text = report.to_string();
    assert!(
        text.contains("earlier processes") && text.contains("(9 ended earlier, 0 unclean)"),
        "{text}"
    );
    let all = env.lines("all.log");
    assert_eq!(all.len(), WORKERS as usize * EVENTS as usize);
    for w in 1..=WORKERS {
        assert_series(&all, w.into(), EVENTS);
    }
}

/// Without metrics retention to wait for, the limit applies when the
/// report is made: a short job run with fewer ended processes than the
/// limit lists every one.
#[test]
fn a_run_within_the_limit_lists_every_process() {
    let env = Env::new();
    let sink = env
        .builder()
        .name("all")
        .consolidate(true)
        .process_key([])
        .start()
        .expect("start");
    for w in 1..=WORKERS {
        let mut bytes = hello(100 + w, 1, &format!("w{w}"));
        bytes.extend(events(w, 1, EVENTS));
        bytes.extend(goodbye(EVENTS));
        deliver(&sink, &bytes);
    }
    env.wait_lines("all.log", WORKERS as usize * EVENTS as usize);
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(report.processes.len(), WORKERS as usize);
    assert_eq!(report.forgotten.processes, 0);
    assert!(!report.to_string().contains("earlier processes"));
}
