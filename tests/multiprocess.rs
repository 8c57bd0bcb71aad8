//! Real worker processes → the sink → real files, checked line by line.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use mplog_test_support::{SpawnGuarded, assert_series, series, wait_ok};
use support::{Setup, report_for};

#[test]
fn every_event_once_and_in_order_in_consolidated_and_per_key_files() {
    const WORKERS: u64 = 6;
    const EVENTS: u64 = 2000;
    let s = Setup::new();
    let sink = s.sink().max_bytes(64 * 1024).start().expect("sink starts");
    let children: Vec<_> = (1..=WORKERS)
        .map(|id| s.worker_for(&sink, id, EVENTS, &[]).spawn_guarded())
        .collect();
    for child in children {
        wait_ok(child);
    }
    let report = sink.shutdown().expect("shutdown");

    let consolidated = s.log_files("all.log");
    assert!(
        consolidated.len() >= 4,
        "the consolidated log rotated: {consolidated:?}"
    );
    let map = series(&s.log_lines("all.log"));
    for id in 1..=WORKERS {
        assert_series(&map, id, EVENTS);
        let own = series(&s.log_lines(&format!("worker-{id}.log")));
        assert_series(&own, id, EVENTS);
        assert_eq!(
            own.len(),
            1,
            "worker-{id}.log holds only worker {id}'s events"
        );
        let r = report_for(&report, &format!("worker-{id}"));
        assert_eq!(r.len(), 1, "one report per process: {report}");
        assert_eq!(
            (r[0].received, r[0].dropped_by_worker, r[0].clean),
            (EVENTS, 0, true),
            "{report}"
        );
    }
}

#[test]
fn workers_started_before_the_sink_wait_and_reconnect() {
    let s = Setup::new();
    let children: Vec<_> = (1..=3)
        .map(|id| s.worker(id, 300, &["--sleep-us", "200"]).spawn_guarded())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let sink = s.sink().start().expect("sink starts");
    for child in children {
        wait_ok(child);
    }
    let report = sink.shutdown().expect("shutdown");
    let map = series(&s.log_lines("all.log"));
    for id in 1..=3 {
        assert_series(&map, id, 300);
    }
    assert!(report.processes.iter().all(|p| p.clean), "{report}");
}

#[test]
fn a_graceful_sink_restart_mid_run_loses_nothing_under_block() {
    const EVENTS: u64 = 3000;
    let s = Setup::new();
    let first = s.sink().start().expect("first sink");
    let children: Vec<_> = (1..=4)
        .map(|id| s.worker(id, EVENTS, &["--sleep-us", "100"]).spawn_guarded())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let first_report = first.shutdown().expect("first shutdown");
    let during: u64 = first_report.processes.iter().map(|p| p.received).sum();
    assert!(
        during > 0 && during < 4 * EVENTS,
        "the restart happened mid-run ({during} events before it)"
    );
    let second = s.sink().start().expect("second sink");
    for child in children {
        wait_ok(child);
    }
    second.shutdown().expect("second shutdown");
    let map = series(&s.log_lines("all.log"));
    for id in 1..=4 {
        assert_series(&map, id, EVENTS);
    }
}

#[test]
fn drop_newest_reports_the_exact_drop_count() {
    const EVENTS: u64 = 20_000;
    let s = Setup::new();
    let sink = s.sink().start().expect("sink");
    let out = wait_ok(
        s.worker_for(&sink, 7, EVENTS, &["--mode", "drop-newest:8"])
            .spawn_guarded(),
    );
    assert!(out.contains(&format!("logged {EVENTS}")), "{out}");
    let report = sink.shutdown().expect("shutdown");
    let r = report_for(&report, "worker-7");
    assert_eq!(r.len(), 1, "{report}");
    let (received, dropped) = (r[0].received, r[0].dropped_by_worker);
    assert!(dropped > 0, "a channel of 8 must overflow: {report}");
    assert_eq!(received + dropped, EVENTS, "{report}");
    let (all, _) = support::received_in_order(&s.logdir(), 7, received);
    // The worker reports drops as they happen, in one or more frames; the
    // sink writes one WARN line per frame.
    let reported = support::reported_drops(&all, "worker-7");
    assert_eq!(reported, dropped, "WARN lines report every dropped event");
}

#[test]
fn a_forked_child_logs_through_the_inherited_layer() {
    let s = Setup::new();
    let sink = s.sink().start().expect("sink");
    wait_ok(s.worker(3, 200, &["--mode", "fork:500"]).spawn_guarded());
    let report = sink.shutdown().expect("shutdown");
    let map = series(&s.log_lines("all.log"));
    assert_series(&map, 3, 200);
    assert_series(&map, 1003, 500); // the child
    assert_series(&map, 2003, 500); // the parent's busy thread during the fork
    let pids: std::collections::HashSet<u32> = report
        .processes
        .iter()
        .filter(|p| p.process_name == "worker-3")
        .map(|p| p.pid)
        .collect();
    assert_eq!(
        pids.len(),
        2,
        "parent and child report separately: {report}"
    );
}

#[test]
fn a_worker_killed_after_flush_loses_nothing_flushed_and_others_go_on() {
    let s = Setup::new();
    let sink = s.sink().start().expect("sink");
    let mut victim = s
        .worker(1, 1500, &["--mode", "hang-after-flush"])
        .spawn_guarded();
    let other = s.worker(2, 3000, &["--sleep-us", "200"]).spawn_guarded();
    let stdout = victim.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read marker");
    assert_eq!(line.trim(), "flushed");
    victim.kill().expect("SIGKILL");
    victim.wait().expect("reaped");
    wait_ok(other);
    let report = sink.shutdown().expect("shutdown");
    let map = series(&s.log_lines("all.log"));
    assert_series(&map, 1, 1500);
    assert_series(&map, 2, 3000);
    let victim_report = report_for(&report, "worker-1");
    assert!(
        !victim_report[0].clean,
        "a killed worker is an unclean disconnect: {report}"
    );
    assert!(report_for(&report, "worker-2")[0].clean, "{report}");
}

#[test]
fn garbage_and_a_truncated_frame_close_only_their_connection() {
    let s = Setup::new();
    let sink = s.sink().start().expect("sink");
    let worker = s.worker(5, 2000, &["--sleep-us", "100"]).spawn_guarded();
    // Garbage from the first byte.
    let mut garbage = UnixStream::connect(s.socket()).expect("connect");
    let _ = garbage.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    // A valid hello, then half an event, then the connection ends.
    let mut truncated = UnixStream::connect(s.socket()).expect("connect");
    use support::fixtures;
    use tracing_mplog::wire::OwnedFrame;
    let mut hello = fixtures::hello();
    (hello.pid, hello.process_name) = (999_999, "truncated".into());
    let mut bytes = fixtures::encode(&OwnedFrame::Hello(hello));
    let hello_len = bytes.len();
    let mut event = fixtures::minimal_event();
    event.message = Some("never whole".into());
    OwnedFrame::Event(event).encode(&mut bytes);
    let cut = hello_len + (bytes.len() - hello_len) / 2;
    truncated.write_all(&bytes[..cut]).expect("write");
    drop(truncated);
    wait_ok(worker);
    let report = sink.shutdown().expect("shutdown");
    let all = s.log_lines("all.log");
    assert_series(&all, 5, 2000);
    assert!(
        !all.iter().any(|l| l.contains("never whole")),
        "a partial frame is never written"
    );
    let warns: Vec<&String> = all
        .iter()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert!(
        warns.len() >= 2,
        "each bad connection is reported with a reason: {warns:#?}"
    );
    assert!(report_for(&report, "worker-5")[0].clean, "{report}");
}
