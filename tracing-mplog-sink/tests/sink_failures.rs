//! What the sink does with bad peers and bad settings: each bad connection
//! is closed alone with a WARN record naming the reason; settings errors name
//! the field or path.

mod support;

use std::io::Write;
use std::os::unix::net::UnixStream;

use mplog_test_support::assert_series;
use support::*;
use tracing::Level;
use tracing_mplog::wire::{OwnedFrame, OwnedValue};
use tracing_mplog_sink::{SinkError, SinkHandle};

/// The sink's own records (`name` "sink", no consolidated file).
fn own_lines(env: &Env) -> Vec<String> {
    env.lines("sink.log")
}

#[test]
fn garbage_and_a_truncated_frame_close_only_their_connections() {
    let env = Env::new();
    let sink = env.builder().name("sink").start().expect("start");
    let mut good = connect(&sink);
    send(&mut good, &hello(10, 1, "w1"));
    send(&mut good, &events(1, 1, 5));
    env.wait_lines("w1.log", 5);

    let mut garbage = connect(&sink);
    send(&mut garbage, &[5, 0, 0, 0, 0x99, 1, 2, 3, 4]);
    let mut truncated = connect(&sink);
    let mut bytes = hello(20, 1, "w2");
    bytes.extend(events(2, 1, 2));
    let cut = event(3, Level::INFO, "w2 e3");
    bytes.extend(&cut[..cut.len() / 2]);
    send(&mut truncated, &bytes);
    drop(truncated);
    env.wait_line_with("sink.log", "corrupt frame");
    env.wait_line_with("sink.log", "truncated frame");

    send(&mut good, &events(1, 6, 10));
    send(&mut good, &goodbye(10));
    drop(good);
    drop(garbage);
    let report = sink.shutdown().expect("shutdown");

    assert_series(&env.lines("w1.log"), 1, 10);
    assert_series(&env.lines("w2.log"), 2, 2);
    let own = own_lines(&env);
    let warn_garbage: Vec<_> = own.iter().filter(|l| l.contains("corrupt frame")).collect();
    assert_eq!(warn_garbage.len(), 1, "{own:?}");
    assert!(warn_garbage[0].contains(" WARN ") && warn_garbage[0].contains("before its hello"));
    assert!(
        warn_garbage[0].contains("unknown frame type 0x99"),
        "{}",
        warn_garbage[0]
    );
    let warn_cut: Vec<_> = own
        .iter()
        .filter(|l| l.contains("truncated frame"))
        .collect();
    assert_eq!(warn_cut.len(), 1, "{own:?}");
    assert!(
        warn_cut[0].contains(" WARN ") && warn_cut[0].contains("w2[20]"),
        "{}",
        warn_cut[0]
    );

    let w1 = &report.processes[0];
    assert_eq!(
        (w1.pid, w1.received, w1.clean, w1.error.as_deref()),
        (10, 10, true, None)
    );
    let w2 = &report.processes[1];
    assert_eq!((w2.pid, w2.received, w2.clean), (20, 2, false));
    assert!(
        w2.error
            .as_deref()
            .is_some_and(|e| e.contains("truncated frame")),
        "{w2:?}"
    );
}

#[test]
fn an_oversized_frame_closes_its_connection_with_the_reason() {
    let env = Env::new();
    let sink = env
        .builder()
        .name("sink")
        .max_frame_size(1024)
        .start()
        .expect("start");
    let mut other = connect(&sink);
    send(&mut other, &hello(31, 1, "w1"));
    let mut big = connect(&sink);
    let mut bytes = hello(32, 1, "w2");
    bytes.extend(events(2, 1, 1));
    bytes.extend(event(2, Level::INFO, &"x".repeat(2_000)));
    bytes.extend(events(2, 3, 3));
    let _ = big.write_all(&bytes); // the sink may close before it all arrives
    send(&mut other, &session_tail(1, 4));
    drop(other);
    env.wait_line_with("sink.log", "oversized");
    drop(big);
    let report = sink.shutdown().expect("shutdown");
    assert_series(&env.lines("w1.log"), 1, 4);
    assert_series(&env.lines("w2.log"), 2, 1);
    let own = own_lines(&env);
    let warn: Vec<_> = own
        .iter()
        .filter(|l| l.contains("oversized frame"))
        .collect();
    assert_eq!(warn.len(), 1, "{own:?}");
    assert!(warn[0].contains("exceeds the limit of 1024"), "{}", warn[0]);
    // Processes are reported in no fixed order: find w2 by its pid.
    let w2 = report
        .processes
        .iter()
        .find(|p| p.pid == 32)
        .expect("w2 reported");
    assert!(
        w2.error.as_deref().is_some_and(|e| e.contains("oversized")),
        "{report}"
    );
}

/// Events 1..=n and a goodbye, for a connection that said hello already.
fn session_tail(w: u32, n: u64) -> Vec<u8> {
    let mut b = events(w, 1, n);
    b.extend(goodbye(n));
    b
}

#[test]
fn a_connection_without_a_hello_is_closed() {
    let env = Env::new();
    let sink = env.builder().name("sink").start().expect("start");
    let mut conn = connect(&sink);
    let _ = conn.write_all(&events(1, 1, 3));
    env.wait_lines("sink.log", 1);
    drop(conn);
    let report = sink.shutdown().expect("shutdown");
    let own = own_lines(&env);
    assert_eq!(own.len(), 1, "{own:?}");
    assert!(
        own[0].contains(" WARN ") && own[0].contains("the first frame is not a hello"),
        "{}",
        own[0]
    );
    assert!(report.processes.is_empty());
    assert!(!env.log("w1.log").exists());
}

#[test]
fn resent_frames_are_written_once() {
    let env = Env::new();
    let sink = env.builder().name("sink").start().expect("start");
    let mut first = connect(&sink);
    let mut bytes = hello(50, 7, "w1");
    bytes.extend(events(1, 1, 5));
    send(&mut first, &bytes);
    drop(first); // lost without a goodbye: the worker reconnects
    env.wait_lines("w1.log", 5);
    let mut bytes = hello(50, 7, "w1");
    bytes.extend(events(1, 3, 8)); // 3..=5 resent
    bytes.extend(goodbye(8));
    deliver(&sink, &bytes);
    // Same pid, new start time: a new process, its seq starts again.
    deliver(&sink, &named_session("w1", 50, 8, 9, 2));
    let report = sink.shutdown().expect("shutdown");
    let lines = env.lines("w1.log");
    assert_eq!(lines.len(), 10, "{lines:?}");
    assert_series(&lines, 1, 8);
    assert_series(&lines, 9, 2);
    assert_eq!(report.processes.len(), 2);
    let p = &report.processes[0];
    assert_eq!((p.received, p.connections, p.clean), (8, 2, true));
    assert_eq!(report.processes[1].received, 2);
}

#[test]
fn a_dropped_count_becomes_a_warning_and_is_counted() {
    let env = Env::new();
    let sink = env.start_consolidated("sink");
    let mut bytes = hello(60, 1, "w1");
    bytes.extend(events(1, 1, 3));
    bytes.extend(dropped(7));
    bytes.extend(dropped(2));
    bytes.extend(goodbye(3));
    deliver(&sink, &bytes);
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(report.processes[0].dropped_by_worker, 9);
    let all = env.lines("sink.log");
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(
        all[3].contains(" WARN worker w1[60] dropped 7 events (channel full)"),
        "{}",
        all[3]
    );
    assert!(all[4].contains("dropped 2 events"), "{}", all[4]);
    assert!(all[3].starts_with(&format!("sink[{}]", std::process::id())));
}

#[test]
fn a_peer_uid_not_allowed_is_refused_and_counted() {
    let env = Env::new();
    let sink = env
        .builder()
        .name("sink")
        .allowed_uids([4_000_000_000])
        .start()
        .expect("start");
    let mut conn = connect(&sink);
    let _ = conn.write_all(&session(1, 70, 3));
    env.wait_lines("sink.log", 1);
    drop(conn);
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(report.rejected_connections, 1);
    assert!(report.processes.is_empty());
    assert!(!env.log("w1.log").exists());
    let own = own_lines(&env);
    assert!(
        own[0].contains(" WARN ") && own[0].contains("not in allowed_uids"),
        "{}",
        own[0]
    );
}

#[test]
fn an_unusable_logdir_fails_at_start_naming_the_path() {
    let env = Env::new();
    let file = env.dir.path().join("plain-file");
    std::fs::write(&file, "x").expect("write");
    let logdir = file.join("logs");
    let err = env
        .builder()
        .logdir(&logdir)
        .start()
        .expect_err("must fail");
    match &err {
        SinkError::Io { path, .. } => assert_eq!(path, &logdir),
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string().contains(&*logdir.to_string_lossy()),
        "{err}"
    );
    assert!(!env.socket().exists(), "nothing bound");
}

#[test]
fn settings_errors_name_the_field() {
    let env = Env::new();
    let err = tracing_mplog_sink::Sink::builder()
        .start()
        .expect_err("no listen");
    assert!(
        matches!(
            err,
            SinkError::Config {
                field: "listen",
                ..
            }
        ),
        "{err:?}"
    );
    let err = env
        .builder()
        .max_frame_size(10)
        .start()
        .expect_err("tiny frames");
    assert!(
        matches!(
            err,
            SinkError::Config {
                field: "max_frame_size",
                ..
            }
        ),
        "{err:?}"
    );
    let err = env.builder().allowed_uids([]).start().expect_err("nobody");
    assert!(
        matches!(
            err,
            SinkError::Config {
                field: "allowed_uids",
                ..
            }
        ),
        "{err:?}"
    );
    let err = env
        .builder()
        .process_key([])
        .start()
        .expect_err("no output");
    assert!(
        matches!(
            err,
            SinkError::Config {
                field: "process_key",
                ..
            }
        ),
        "{err:?}"
    );
    let err = env.builder().name("").start().expect_err("no name");
    assert!(
        matches!(err, SinkError::Config { field: "name", .. }),
        "{err:?}"
    );
    let err = env
        .builder()
        .default_format("%(nope)s")
        .start()
        .expect_err("template");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = env.builder().interval(0).start().expect_err("interval");
    assert!(err.to_string().contains("interval"), "{err}");
}

#[test]
fn a_second_sink_on_a_live_socket_is_refused_and_a_stale_one_replaced() {
    let env = Env::new();
    let sink = env.builder().start().expect("start");
    let err = env.builder().start().expect_err("live socket");
    assert!(
        matches!(&err, SinkError::Io { path, .. } if path == &env.socket()),
        "{err:?}"
    );
    drop(sink);
    // A socket file left behind (bound, nobody listening) is replaced.
    let stale = std::os::unix::net::UnixListener::bind(env.socket()).expect("bind stale");
    drop(stale);
    assert!(env.socket().exists());
    let sink = env.builder().start().expect("start over a stale socket");
    deliver(&sink, &session(1, 80, 1));
    assert_eq!(sink.shutdown().expect("shutdown").processes[0].received, 1);
}

#[test]
fn fields_and_spans_of_worker_events_are_formatted() {
    let env = Env::new();
    let sink = env
        .builder()
        .default_format("%(msg)s | %(fields)s | %(spans)s")
        .start()
        .expect("start");
    let mut bytes = hello(90, 1, "w1");
    let mut e = with_field(event_at(1, Level::INFO, "w1 e1"), "n", 5);
    e.spans.push(tracing_mplog::wire::OwnedSpan {
        name: "req".into(),
        fields: vec![tracing_mplog::wire::OwnedField {
            name: "path".into(),
            value: OwnedValue::Str("/a".into()),
        }],
    });
    bytes.extend(encoded(OwnedFrame::Event(e)));
    bytes.extend(goodbye(1));
    deliver(&sink, &bytes);
    sink.shutdown().expect("shutdown");
    assert_eq!(env.lines("w1.log"), [r#"w1 e1 | n=5 | req{path="/a"}"#]);
}

/// A sink named "sink" to which worker `w1` (pid `pid`) has sent events
/// 1 to 3, all written to `w1.log`; its connection stays open.
fn three_lines_written(env: &Env, pid: u32) -> (SinkHandle, UnixStream) {
    let sink = env.builder().name("sink").start().expect("start");
    let mut conn = connect(&sink);
    send(&mut conn, &hello(pid, 1, "w1"));
    send(&mut conn, &events(1, 1, 3));
    env.wait_lines("w1.log", 3);
    (sink, conn)
}

/// Removes the log folder and puts a plain file in its place: nothing can
/// be written there until the file goes.
fn put_a_file_in_place_of_the_logdir(env: &Env) {
    std::fs::remove_dir_all(env.logdir()).expect("remove the log folder");
    std::fs::write(env.logdir(), "in the way").expect("a file in the way");
}

#[test]
fn a_removed_log_folder_is_recreated_and_no_line_is_lost() {
    let env = Env::new();
    let (sink, mut conn) = three_lines_written(&env, 130);
    std::fs::remove_dir_all(env.logdir()).expect("remove the log folder");
    send(&mut conn, &events(1, 4, 6));
    send(&mut conn, &goodbye(6));
    drop(conn);
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(
        env.lines("w1.log"),
        [
            "w1[130] INFO w1 e4",
            "w1[130] INFO w1 e5",
            "w1[130] INFO w1 e6"
        ]
    );
    assert_eq!((report.write_errors, report.unwritten), (0, 0));
}

#[test]
fn write_errors_are_counted_reported_and_retried() {
    let env = Env::new();
    let (sink, mut conn) = three_lines_written(&env, 140);
    // The folder becomes a file: nothing can be written until it is back.
    put_a_file_in_place_of_the_logdir(&env);
    send(&mut conn, &events(1, 4, 6));
    // The writer cannot say it failed except by writing; give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::remove_file(env.logdir()).expect("remove the file in the way");
    send(&mut conn, &events(1, 7, 9));
    send(&mut conn, &goodbye(9));
    drop(conn);
    let report = sink.shutdown().expect("shutdown");
    assert!(report.write_errors > 0, "{report}");
    assert_eq!(report.unwritten, 0, "{report}");
    let lines = env.lines("w1.log");
    assert_eq!(lines.len(), 6, "{lines:?}");
    let nums: Vec<String> = lines
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(nums, ["e4", "e5", "e6", "e7", "e8", "e9"]);
    let own = own_lines(&env);
    assert!(
        own.iter()
            .any(|l| l.contains(" ERROR cannot write") && l.contains("w1.log")),
        "{own:?}"
    );
    assert!(
        own.iter()
            .any(|l| l.contains(" WARN writing") && l.contains("w1.log again")),
        "{own:?}"
    );
}

#[test]
fn records_still_failing_at_shutdown_are_counted_as_unwritten() {
    let env = Env::new();
    let (sink, mut conn) = three_lines_written(&env, 150);
    put_a_file_in_place_of_the_logdir(&env);
    send(&mut conn, &events(1, 4, 6));
    send(&mut conn, &goodbye(6));
    drop(conn);
    let report = sink.shutdown().expect("shutdown");
    assert!(report.write_errors > 0, "{report}");
    // w1's three lines, and the sink's own ERROR record about them (its
    // file, sink.log, cannot be created either).
    assert_eq!(report.unwritten, 4, "{report}");
    assert_eq!(report.processes[0].received, 6);
}
