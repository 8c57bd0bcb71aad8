//! Many connections at once, shutdown draining and exact report counts.

mod support;

use std::sync::{Arc, Barrier};
use std::thread;

use mplog_test_support::assert_series;
use support::*;

#[test]
fn two_hundred_fifty_six_concurrent_workers_each_get_every_line() {
    const WORKERS: u32 = 256;
    const EVENTS: u64 = 20;
    let env = Env::new();
    let sink = env.start_consolidated("many");
    let barrier = Arc::new(Barrier::new(WORKERS as usize));
    let conns: Vec<_> = (1..=WORKERS)
        .map(|w| {
            let mut conn = connect(&sink);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                send(&mut conn, &hello(10_000 + w, 1, &format!("w{w}")));
                // Every connection is open before any finishes.
                barrier.wait();
                for n in 1..=EVENTS {
                    send(&mut conn, &events(w, n, n));
                }
                send(&mut conn, &goodbye(EVENTS));
            })
        })
        .collect();
    for c in conns {
        c.join().expect("worker");
    }
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(report.processes.len(), WORKERS as usize);
    assert!(
        report
            .processes
            .iter()
            .all(|p| p.received == EVENTS && p.clean && p.connections == 1)
    );
    let all = env.lines("many.log");
    assert_eq!(all.len(), (WORKERS as u64 * EVENTS) as usize);
    for w in 1..=WORKERS {
        assert_series(&env.lines(&format!("w{w}.log")), w.into(), EVENTS);
        assert_series(&all, w.into(), EVENTS);
    }
}

#[test]
fn shutdown_drains_open_connections_and_counts_clean_and_unclean_exactly() {
    let env = Env::new();
    let sink = env.builder().name("drain").start().expect("start");
    // Clean: a goodbye, then closed.
    deliver(&sink, &session(1, 101, 50));
    // Closed without a goodbye (a crash).
    let mut bytes = hello(102, 1, "w2");
    bytes.extend(events(2, 1, 30));
    deliver(&sink, &bytes);
    // Still open at shutdown, its events queued but maybe not yet read.
    let mut open = connect(&sink);
    let mut bytes = hello(103, 1, "w3");
    bytes.extend(events(3, 1, 2_000));
    send(&mut open, &bytes);

    let started = std::time::Instant::now();
    let report = sink.shutdown().expect("shutdown");
    // The open connection is shut down and read to its end, not waited for
    // until the drain timeout (5 s here).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(open);
    let by_pid = |pid| {
        report
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .unwrap_or_else(|| panic!("pid {pid} in {report}"))
    };
    let (w1, w2, w3) = (by_pid(101), by_pid(102), by_pid(103));
    assert_eq!((w1.received, w1.clean, w1.connections), (50, true, 1));
    assert_eq!((w2.received, w2.clean, w2.connections), (30, false, 1));
    assert_eq!((w3.received, w3.clean, w3.connections), (2_000, false, 1));
    assert_eq!(
        (
            report.write_errors,
            report.unwritten,
            report.rejected_connections
        ),
        (0, 0, 0)
    );
    assert_series(&env.lines("w1.log"), 1, 50);
    assert_series(&env.lines("w2.log"), 2, 30);
    assert_series(&env.lines("w3.log"), 3, 2_000);
    let table = report.to_string();
    assert!(
        table.lines().count() == 5 && table.contains("w3"),
        "{table}"
    );
}

#[test]
fn dropping_the_handle_shuts_down_and_writes_everything() {
    let env = Env::new();
    let sink = env.builder().start().expect("start");
    deliver(&sink, &session(1, 111, 100));
    drop(sink);
    assert_series(&env.lines("w1.log"), 1, 100);
    assert!(!env.socket().exists(), "the socket file is removed");
}

#[test]
fn lines_appear_without_shutdown_when_the_sink_is_idle() {
    let env = Env::new();
    let sink = env.builder().start().expect("start");
    let mut conn = connect(&sink);
    let mut bytes = hello(121, 1, "w1");
    bytes.extend(events(1, 1, 3));
    send(&mut conn, &bytes);
    // Buffered files are flushed when the writer has nothing else to do.
    env.wait_lines("w1.log", 3);
    send(&mut conn, &session_end());
    drop(conn);
    sink.shutdown().expect("shutdown");
}

fn session_end() -> Vec<u8> {
    goodbye(3)
}
