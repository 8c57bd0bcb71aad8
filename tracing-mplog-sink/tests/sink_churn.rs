//! A sink that outlives thousands of workers: what it remembers of the
//! ended ones stays bounded (`max_ended_processes`), and what it lets go of
//! is summed, not lost. Real sockets, real files.

mod support;

use std::time::Duration;

use mplog_test_support::{assert_series, metric, scrape_until};
use support::*;
use tracing_mplog_sink::SinkHandle;

const WORKERS: u32 = 12;
const EVENTS: u64 = 5;
const KEEP: usize = 3;

/// Worker `w`'s whole connection (process `w{w}`, pid `100 + w`): hello,
/// events `first..=last`, goodbye.
fn life(w: u32, first: u64, last: u64) -> Vec<u8> {
    let mut bytes = hello(100 + w, 1, &format!("w{w}"));
    bytes.extend(events(w, first, last));
    bytes.extend(goodbye(last));
    bytes
}

/// A sink writing `all.log` alone, from `builder`.
fn consolidated_only(builder: tracing_mplog_sink::sink::Builder) -> SinkHandle {
    builder
        .name("all")
        .consolidate(true)
        .process_key([])
        .start()
        .expect("start")
}

/// Workers 1 to [`WORKERS`] one after another into a sink writing
/// `all.log`, each with [`EVENTS`] events and a clean goodbye; each says
/// hello after the one before has written everything.
fn workers_one_after_another(env: &Env, sink: &SinkHandle) {
    for w in 1..=WORKERS {
        deliver(sink, &life(w, 1, EVENTS));
        env.wait_lines("all.log", w as usize * EVENTS as usize);
    }
}

/// Twelve workers one after another, each with a clean goodbye, into a
/// sink that keeps 3 ended processes one by one: the metrics count the
/// other 9 as forgotten while it runs, the report lists the newest 3 and
/// sums the rest, and every line is in the file.
#[test]
fn ended_processes_beyond_the_limit_are_summed_not_listed() {
    let env = Env::new();
    let sink = consolidated_only(
        env.builder()
            .max_ended_processes(KEEP)
            .metrics_listen("127.0.0.1:0")
            // Ended processes leave the metrics at once, so the writer may
            // forget them while it runs.
            .metrics_retention(Duration::ZERO),
    );
    workers_one_after_another(&env, &sink);
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
    let sink = consolidated_only(env.builder());
    workers_one_after_another(&env, &sink);
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(report.processes.len(), WORKERS as usize);
    assert_eq!(report.forgotten.processes, 0);
    assert!(!report.to_string().contains("earlier processes"));
}

/// A sink keyed by name, with 2 files open at most, remembers at most 4 x 2
/// closed per-key files: 20 workers with their own names leave it listing
/// few files, each worker's file whole on disk, and a worker whose file
/// was let go of appends to it when it comes back.
#[test]
fn closed_per_key_files_nobody_writes_are_let_go_of_and_come_back_whole() {
    let env = Env::new();
    let sink = env
        .builder()
        .process_key([tracing_mplog_sink::ProcessKey::Name])
        .max_open_files(2)
        .start()
        .expect("start");
    for w in 1..=20 {
        deliver(&sink, &life(w, 1, EVENTS));
        env.wait_lines(&format!("w{w}.log"), EVENTS as usize);
    }
    // At most 2 open and 8 closed are remembered (the excess goes down to
    // 6 at a time).
    let listed = sink.files().len();
    assert!(listed <= 10, "{listed} files listed: {:?}", sink.files());
    assert!(
        !sink.files().iter().any(|p| p.ends_with("w1.log")),
        "{:?}",
        sink.files()
    );
    // w1's file was let go of: it comes back, appending.
    deliver(&sink, &life(1, EVENTS + 1, 2 * EVENTS));
    env.wait_lines("w1.log", 2 * EVENTS as usize);
    let report = sink.shutdown().expect("shutdown");
    assert_eq!((report.write_errors, report.unwritten), (0, 0));
    assert_series(&env.lines("w1.log"), 1, 2 * EVENTS);
    for w in 2..=20u32 {
        let own = env.lines(&format!("w{w}.log"));
        assert_eq!(own.len(), EVENTS as usize, "w{w}.log");
        assert_series(&own, w.into(), EVENTS);
    }
}
