//! Last words with real processes: what a test worker logs just before it
//! ends reaches the sink's files — a panic (recorded at ERROR by the panic
//! hook `worker::init` installs), everything before a `process::exit` that
//! skips the guard's drop (the exit flush), and an event over the frame
//! limit (cut to fit with a marker, not dropped).

mod support;

use std::time::Duration;

use mplog_test_support::{SpawnGuarded, assert_series, read, wait_ok};
use support::Setup;

/// The text of every `all.log` file, in order.
fn all_text(s: &Setup) -> String {
    s.log_files("all.log").iter().map(read).collect()
}

#[test]
fn a_panicking_worker_leaves_its_panic_in_the_files_at_error() {
    let s = Setup::new();
    let handle = s.sink().start().expect("sink");
    let child = s
        .worker(3, 500, &["--mode", "panic"])
        .env("RUST_BACKTRACE", "1")
        .spawn_guarded();
    let out = child.into_child().wait_with_output().expect("worker");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "a panic's exit: {stderr}");
    assert!(
        stderr.contains("panicked at") && stderr.contains("boom from worker 3"),
        "the previous hook (std's) still prints it: {stderr}"
    );
    let report = handle.shutdown().expect("shutdown");
    let text = all_text(&s);
    // std's own words: thread 'main' panicked at FILE:LINE:COL:\nMSG
    let head = "ERROR thread 'main' panicked at src/bin/mplog-test-worker.rs:";
    let at = text
        .find(head)
        .unwrap_or_else(|| panic!("no panic record:\n{stderr}"));
    let record = &text[at..];
    let (first, rest) = record.split_once('\n').expect("two lines");
    let location = first[head.len()..].trim_end_matches(':');
    let mut numbers = location.split(':').map(str::parse::<u32>);
    assert!(
        matches!((numbers.next(), numbers.next()), (Some(Ok(_)), Some(Ok(_)))),
        "the location has line and column: {first}"
    );
    assert!(
        rest.starts_with("boom from worker 3 "),
        "then the message: {record}"
    );
    let (rest, _) = rest.split_once('\n').expect("one line of fields");
    assert!(
        rest.contains(&format!(
            r#"location="src/bin/mplog-test-worker.rs:{location}""#
        )) && rest.contains(r#"thread="main""#),
        "location and thread as fields: {rest}"
    );
    assert!(
        rest.contains(r#"backtrace="   0: "#) && rest.contains("mplog_test_worker::run"),
        "RUST_BACKTRACE=1 asked for the backtrace: {rest}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("worker-3 ") && l.contains("panicked at")),
        "in the worker's own record, as the `panicked at` alert rule sees it"
    );
    assert_series(&s.log_lines("all.log"), 3, 500);
    let p = &report.processes[0];
    assert_eq!(p.received, 501, "500 events and the panic: {report}");
}

#[test]
fn process_exit_after_20_000_events_loses_none() {
    let s = Setup::new();
    let handle = s.sink().start().expect("sink");
    let child = s.worker(1, 20_000, &["--mode", "exit"]).spawn_guarded();
    let out = child.into_child().wait_with_output().expect("worker");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("gave up"), "flushed in time: {stderr}");
    let report = handle.shutdown().expect("shutdown");
    assert_series(&s.log_lines("all.log"), 1, 20_000);
    let p = &report.processes[0];
    assert!(p.clean, "the exit flush says goodbye: {report}");
}

#[test]
fn a_2_mb_event_leaves_its_truncated_text_and_the_events_after_it_arrive() {
    const BIG: usize = 2_000_000;
    let s = Setup::new();
    let handle = s.sink().start().expect("sink");
    let child = s
        .worker(2, 1_000, &["--mode", &format!("oversized:{BIG}")])
        .spawn_guarded();
    wait_ok(child);
    // The sink's WARN notice comes with the next flush of the worker's
    // reports; the worker is gone, so everything is in by now.
    std::thread::sleep(Duration::from_millis(50));
    let report = handle.shutdown().expect("shutdown");
    let all = s.log_lines("all.log");
    assert_series(&all, 2, 1_000);
    let big = all
        .iter()
        .find(|l| l.contains("w2 bigxxx"))
        .expect("the big event's line");
    let marker = big
        .rsplit_once("… [truncated ")
        .and_then(|(_, tail)| tail.strip_suffix(" bytes]"))
        .expect("ends with the marker");
    let cut: usize = marker.parse().expect("a byte count");
    let kept = big.matches('x').count();
    assert_eq!(kept + cut, BIG, "kept and cut make the whole");
    assert!(kept > BIG / 4, "most of the 1 MiB frame is the text");
    let p = &report.processes[0];
    assert_eq!(
        (p.truncated_by_worker, p.dropped_by_worker),
        (1, 0),
        "{report}"
    );
    let notice = all
        .iter()
        .find(|l| l.contains(" WARN ") && l.contains("worker-2["))
        .expect("the sink's notice");
    assert!(
        notice.contains("truncated 1 events") && !notice.contains("dropped"),
        "{notice}"
    );
}
