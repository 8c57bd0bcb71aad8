//! Bounded open files and any key as a file (issue 19): the sink keeps at
//! most `max_open_files` per-key files open, closes the least recently
//! written to open another, and reopens it later with its rotation state
//! intact; keys too long for a file name or whose sanitised names collide
//! still get files of their own. Real sockets, real files, a fake clock.

mod support;

use std::path::Path;

use mplog_test_support::{assert_series, fd_targets, http_get, metric};
use support::*;
use time::macros::datetime;
use tracing_mplog_sink::ProcessKey;
use tracing_mplog_sink::clock::ManualClock;
use tracing_mplog_sink::rotate::{FileMode, When};

/// Hello, events `first..=last` of worker `w` (seq = event number),
/// goodbye: one connection of process `name`.
fn part(name: &str, w: u32, first: u64, last: u64) -> Vec<u8> {
    let mut out = hello(100 + w, 1, name);
    out.extend(events(w, first, last));
    out.extend(goodbye(last));
    out
}

/// The descriptors of this process open on files in `dir`.
fn open_in(dir: &Path) -> usize {
    fd_targets(std::process::id())
        .iter()
        .filter(|target| target.starts_with(dir))
        .count()
}

/// `GET /metrics` of the sink.
fn metrics(sink: &tracing_mplog_sink::SinkHandle) -> String {
    let addr = sink.metrics_addr().expect("metrics on").to_string();
    http_get(&addr, "/metrics")
}

/// The value of an unlabelled metric `name`.
fn value(body: &str, name: &str) -> f64 {
    metric(body, name, &[]).unwrap_or_else(|| panic!("no {name} in\n{body}"))
}

#[test]
fn a_closed_file_reopens_with_its_size_time_boundary_and_numbering() {
    let env = Env::new();
    std::fs::create_dir_all(env.logdir()).expect("logdir");
    // Truncated at the sink's start, never at a reopen.
    std::fs::write(env.log("a.log"), "from an earlier run\n").expect("old file");
    let clock = ManualClock::new(datetime!(2024-05-01 10:00:00 UTC));
    let sink = env
        .builder()
        .clock(clock.clone())
        .utc(true)
        .when(When::Hours)
        // Lines are 16 bytes: three fit, the fourth rotates.
        .max_bytes(60)
        .file_mode(FileMode::Truncate)
        .process_key([ProcessKey::Name])
        .max_open_files(1)
        .start()
        .expect("start");
    deliver(&sink, &part("a", 1, 1, 2));
    env.wait_line_with("a.log", "w1 e2");
    // Writing b closes a (one open file at most).
    deliver(&sink, &part("b", 2, 1, 1));
    env.wait_line_with("b.log", "w2 e1");
    // a reopens: e3 fills it to 48 bytes, e4 rotates by size.
    deliver(&sink, &part("a", 1, 3, 5));
    // (a.log held two lines before these too: wait for the last one.)
    env.wait_line_with("a.log", "w1 e5");
    deliver(&sink, &part("b", 2, 2, 2));
    env.wait_line_with("b.log", "w2 e2");
    // The hour passes while a is closed: its next line rotates it under
    // the old hour, with the next number.
    clock.set(datetime!(2024-05-01 11:00:30 UTC));
    deliver(&sink, &part("a", 1, 6, 6));
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(
        env.lines("a.log.2024-05-01_10-00-00.0000"),
        [
            "a[101] INFO w1 e1",
            "a[101] INFO w1 e2",
            "a[101] INFO w1 e3"
        ]
    );
    assert_eq!(
        env.lines("a.log.2024-05-01_10-00-00.0001"),
        ["a[101] INFO w1 e4", "a[101] INFO w1 e5"]
    );
    assert_eq!(env.lines("a.log"), ["a[101] INFO w1 e6"]);
    assert_eq!(
        env.lines("b.log"),
        ["b[102] INFO w2 e1", "b[102] INFO w2 e2"]
    );
    assert_eq!((report.write_errors, report.unwritten), (0, 0));
}

#[test]
fn many_keys_hold_at_most_max_open_files_descriptors_and_lose_nothing() {
    let env = Env::new();
    let sink = env
        .builder()
        .process_key([ProcessKey::Name])
        // 5 open, and 4 x 5 closed remembered: all 20 names stay known
        // (`sink_churn.rs` lets them go).
        .max_open_files(5)
        .metrics_listen("127.0.0.1:0")
        .start()
        .expect("start");
    let mut most = 0;
    // Two rounds over 20 names: the second reopens every file.
    for round in 0..2u64 {
        for w in 1..=20u32 {
            let name = format!("job-{w}");
            deliver(&sink, &part(&name, w, round * 5 + 1, round * 5 + 5));
            env.wait_lines(&format!("{name}.log"), (round as usize + 1) * 5);
            most = most.max(open_in(&env.logdir()));
        }
    }
    assert!(most <= 5, "{most} log files open at once");
    let body = metrics(&sink);
    assert!(value(&body, "mplog_open_files") <= 5.0, "{body}");
    // The second round reopened the 20 files (the last 5 were open still,
    // but were closed again as the round went on).
    let reopens = value(&body, "mplog_file_reopens_total");
    assert!((15.0..=20.0).contains(&reopens), "{reopens} reopens");
    let report = sink.shutdown().expect("shutdown");
    for w in 1..=20 {
        assert_series(&env.lines(&format!("job-{w}.log")), w, 10);
    }
    assert_eq!((report.write_errors, report.unwritten), (0, 0));
}

#[test]
fn long_and_colliding_names_each_get_a_file_of_their_own() {
    let env = Env::new();
    let sink = env
        .builder()
        .process_key([ProcessKey::Name])
        .start()
        .expect("start");
    let long = "n".repeat(300);
    let names = [long.as_str(), "a/b", "a_b", "a\\b"];
    for (w, name) in (1..).zip(names) {
        deliver(&sink, &part(name, w, 1, 3));
    }
    let report = sink.shutdown().expect("shutdown");
    assert_eq!((report.write_errors, report.unwritten), (0, 0));
    let files = env.file_names();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(files.iter().all(|f| f.len() <= 215), "{files:?}");
    // Each file holds exactly one worker's three lines.
    let mut workers = Vec::new();
    for file in &files {
        let lines = env.lines(file);
        assert_eq!(lines.len(), 3, "{file}: {lines:?}");
        let w: u64 = lines[0]
            .rsplit_once(" w")
            .and_then(|(_, rest)| rest.split(' ').next())
            .and_then(|w| w.parse().ok())
            .expect("worker number");
        assert_series(&lines, w, 3);
        workers.push(w);
    }
    workers.sort_unstable();
    assert_eq!(workers, [1, 2, 3, 4]);
    // The first of the colliding names keeps the plain name.
    assert!(files.contains(&"a_b.log".to_owned()), "{files:?}");
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("nnnn") && f.contains('~')),
        "{files:?}"
    );
}
