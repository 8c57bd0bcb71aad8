//! The sink's files: consolidated and per-key, naming, threshold, SinkLayer,
//! rotation. Real sockets, real files.

mod support;

use std::os::unix::net::UnixStream;
use std::thread;

use mplog_test_support::{assert_series, log_through_the_bridge, wait_until};
use support::*;
use tracing::Level;
use tracing_mplog::wire::OwnedFrame;
use tracing_mplog_sink::{ProcessKey, SinkHandle};
use tracing_subscriber::prelude::*;

/// Workers 1 to 3 (process `w1` to `w3`, pid 101 to 103), each on its own
/// connection and thread, run `work`; returns once all are done.
fn three_workers(sink: &SinkHandle, work: fn(u32, &mut UnixStream)) {
    let workers: Vec<_> = (1..=3u32)
        .map(|w| {
            let mut conn = connect(sink);
            thread::spawn(move || work(w, &mut conn))
        })
        .collect();
    for w in workers {
        w.join().expect("worker thread");
    }
}

/// `all.log` holds each worker's `events` events once and in order, and so
/// does each worker's own file.
fn assert_both_copies(env: &Env, events: u64) {
    let all = env.lines("all.log");
    assert_eq!(all.len(), 3 * events as usize);
    for w in 1..=3 {
        assert_series(&all, w, events);
        let own = env.lines(&format!("w{w}.log"));
        assert_eq!(own.len(), events as usize);
        assert_series(&own, w, events);
    }
}

#[test]
fn consolidated_and_per_key_files_hold_every_event_once_in_order() {
    let env = Env::new();
    let sink = env.start_consolidated("all");
    three_workers(&sink, |w, conn| {
        send(conn, &hello(100 + w, 1, &format!("w{w}")));
        // Many small writes, so the connections interleave.
        for n in 1..=300 {
            send(conn, &events(w, n, n));
        }
        send(conn, &goodbye(300));
    });
    let report = sink.shutdown().expect("shutdown");
    assert_both_copies(&env, 300);
    for w in 1..=3 {
        let own = env.lines(&format!("w{w}.log"));
        assert!(
            own[0].starts_with(&format!("w{w}[{}] INFO ", 100 + w)),
            "{}",
            own[0]
        );
    }
    assert_eq!(report.processes.len(), 3);
    assert!(
        report
            .processes
            .iter()
            .all(|p| p.received == 300 && p.clean)
    );
}

/// Busy connections fill the buffers of both copies (consolidated and
/// per-key files), so flushes hand the consolidated file's write to the
/// writer's flush thread while the writer writes the per-key files: every
/// line still lands once, in order, in each copy.
#[test]
fn two_copies_written_by_two_threads_hold_every_event_once_in_order() {
    const EVENTS: u64 = 6_000;
    let env = Env::new();
    let sink = env.start_consolidated("all");
    three_workers(&sink, |w, conn| {
        let mut all = hello(100 + w, 1, &format!("w{w}"));
        all.extend(events(w, 1, EVENTS));
        send(conn, &all);
        send(conn, &goodbye(EVENTS));
    });
    env.wait_lines("all.log", 3 * EVENTS as usize);
    #[cfg(target_os = "linux")]
    {
        // The flush thread starts at the first flush it takes part in.
        let names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .expect("tasks")
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("mplog-sink-flu")),
            "no flush thread among {names:?}"
        );
    }
    sink.shutdown().expect("shutdown");
    assert_both_copies(&env, EVENTS);
}

#[test]
fn names_use_prefix_suffix_and_every_key_in_order() {
    let env = Env::new();
    let sink = env
        .builder()
        .name("main")
        .consolidate(true)
        .file_prefix("pre")
        .file_suffix("suf")
        .process_key([ProcessKey::Name, ProcessKey::Pid])
        .start()
        .expect("start");
    deliver(&sink, &session(1, 4242, 2));
    sink.shutdown().expect("shutdown");
    assert_eq!(
        env.file_names(),
        ["pre.main.suf.log", "pre.w1.4242.suf.log"]
    );
    assert_eq!(env.lines("pre.w1.4242.suf.log").len(), 2);
    assert_eq!(env.lines("pre.main.suf.log").len(), 2);
}

#[test]
fn key_values_are_sanitized_for_file_names() {
    let env = Env::new();
    let sink = env
        .builder()
        .process_key([ProcessKey::Target])
        .start()
        .expect("start");
    let mut bytes = hello(7, 1, "w");
    let mut e = event_at(1, Level::INFO, "w1 e1");
    e.target = "../up/and\nout".into();
    bytes.extend(encoded(OwnedFrame::Event(e)));
    bytes.extend(goodbye(1));
    deliver(&sink, &bytes);
    sink.shutdown().expect("shutdown");
    assert_eq!(env.lines("_._up_and_out.log").len(), 1);
}

#[test]
fn a_record_whose_key_file_is_the_consolidated_file_is_written_once() {
    let env = Env::new();
    let sink = env.start_consolidated("same");
    deliver(&sink, &named_session("same", 9, 1, 1, 5));
    sink.shutdown().expect("shutdown");
    let lines = env.lines("same.log");
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_series(&lines, 1, 5);
}

#[test]
fn the_level_threshold_keeps_only_as_severe_or_more() {
    let env = Env::new();
    let sink = env.builder().level(Level::WARN).start().expect("start");
    deliver(&sink, &one_event_per_level(5, "lv"));
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(
        env.lines("lv.log"),
        ["lv[5] WARN at WARN", "lv[5] ERROR at ERROR"]
    );
    assert_eq!(
        report.processes[0].received, 5,
        "received counts before the threshold"
    );
}

#[test]
fn each_output_can_have_a_stricter_threshold() {
    let env = Env::new();
    let sink = env
        .builder()
        .name("all")
        .consolidate(true)
        .level(Level::DEBUG)
        .consolidated_level(Level::WARN)
        .start()
        .expect("start");
    deliver(&sink, &one_event_per_level(6, "po"));
    // The parent's own events follow the same thresholds.
    let subscriber = tracing_subscriber::registry().with(sink.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("parent info");
        tracing::error!("parent error");
    });
    sink.shutdown().expect("shutdown");
    assert_eq!(
        env.lines("po.log"),
        [
            "po[6] DEBUG at DEBUG",
            "po[6] INFO at INFO",
            "po[6] WARN at WARN",
            "po[6] ERROR at ERROR"
        ],
        "the per-key file keeps the sink's level"
    );
    let all: Vec<String> = env.lines("all.log");
    let worker: Vec<&String> = all.iter().filter(|l| l.contains(" at ")).collect();
    assert_eq!(
        worker,
        ["po[6] WARN at WARN", "po[6] ERROR at ERROR"],
        "the consolidated file keeps WARN and above only"
    );
    assert!(all.iter().any(|l| l.contains("parent error")));
    assert!(!all.iter().any(|l| l.contains("parent info")));
}

#[test]
fn sink_layer_writes_the_parents_events_under_the_sink_name() {
    let env = Env::new();
    let sink = env
        .builder()
        .name("parent")
        .default_format("%(processName)s[%(process)d] %(levelname)s %(name)s %(msg)s | %(fields)s | %(spans)s | %(funcName)s")
        .start()
        .expect("start");
    let subscriber = tracing_subscriber::registry().with(sink.layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("job", id = 3);
        let _in = span.enter();
        tracing::warn!(n = 5, "p e1");
        tracing::info!("p e2");
    });
    sink.shutdown().expect("shutdown");
    let lines = env.lines("parent.log");
    let pid = std::process::id();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        lines[0],
        format!("parent[{pid}] WARN sink_files p e1 | n=5 | job{{id=3}} | job")
    );
    assert!(lines[1].starts_with(&format!("parent[{pid}] INFO sink_files p e2")));
}

#[test]
fn sink_layer_writes_a_log_record_with_its_own_target_module_file_and_line() {
    let env = Env::new();
    let sink = env
        .builder()
        .name("parent")
        .default_format(
            "%(levelname)s %(name)s %(module)s %(pathname)s:%(lineno)d %(msg)s|%(fields)s|",
        )
        .start()
        .expect("start");
    let subscriber = tracing_subscriber::registry().with(sink.layer());
    tracing::subscriber::with_default(subscriber, || log_through_the_bridge(7));
    sink.shutdown().expect("shutdown");
    assert_eq!(
        env.lines("parent.log"),
        ["WARN dep dep::inner dep/src/inner.rs:42 from log 7||"]
    );
}

#[test]
fn size_rotation_through_the_sink_keeps_every_line() {
    let env = Env::new();
    let sink = env
        .builder()
        .name("rot")
        .process_key([])
        .consolidate(true)
        .max_bytes(2_000)
        .start()
        .expect("start");
    deliver(&sink, &session(1, 11, 400));
    sink.shutdown().expect("shutdown");
    let files = env.file_names();
    assert!(files.len() > 3, "rotated: {files:?}");
    let mut all = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(env.log(f)).expect("read");
        assert!(text.len() <= 2_000, "{f} has {} bytes", text.len());
        all.extend(text.lines().map(str::to_owned));
    }
    all.sort_by_key(|l| {
        l.rsplit(" e")
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    });
    assert_series(&all, 1, 400);
}

#[test]
fn files_lists_the_outputs_and_they_are_0640() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let sink = env.start_consolidated("c");
    let mut conn = connect(&sink);
    send(&mut conn, &session(1, 12, 1));
    wait_until(WAIT, "both files", || sink.files().len() == 2);
    let mut files = sink.files();
    files.sort();
    assert_eq!(files, [env.log("c.log"), env.log("w1.log")]);
    drop(conn);
    sink.shutdown().expect("shutdown");
    let mode = std::fs::metadata(env.log("w1.log"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640 & !umask());
    let dir_mode = std::fs::metadata(env.socket().parent().expect("parent"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .expect("Umask line");
    u32::from_str_radix(line.trim(), 8).expect("octal umask")
}

/// Set in the child process of [`echo_copies_every_line_to_stderr`].
const ECHO_CHILD: &str = "MPLOG_SINK_TEST_ECHO_CHILD";

#[test]
fn echo_copies_every_line_to_stderr() {
    if let Some(dir) = std::env::var_os(ECHO_CHILD) {
        // The child: a sink with echo on, fed one worker.
        let sink = tracing_mplog_sink::Sink::builder()
            .listen(tracing_mplog::Endpoint::Unix(
                std::path::Path::new(&dir).join("log.sock"),
            ))
            .logdir(std::path::Path::new(&dir).join("logs"))
            .default_format(TEMPLATE)
            .echo(true)
            .start()
            .expect("start");
        deliver(&sink, &session(1, 140, 3));
        sink.shutdown().expect("shutdown");
        return;
    }
    let env = Env::new();
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "echo_copies_every_line_to_stderr", "--nocapture"])
        .env(ECHO_CHILD, env.dir.path())
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let echoed: Vec<String> = stderr
        .lines()
        .filter(|l| l.starts_with("w1[140] INFO"))
        .map(str::to_owned)
        .collect();
    assert_series(&echoed, 1, 3);
    assert_eq!(echoed, env.lines("w1.log"), "stderr and the file agree");
}

#[test]
fn the_socket_folder_gets_the_configured_mode_when_the_sink_creates_it() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let sink = env.builder().socket_dir_mode(0o750).start().expect("start");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&env.dir.path().join("run")), 0o750);
    sink.shutdown().expect("shutdown");
    // An existing folder keeps its mode.
    std::fs::set_permissions(
        env.dir.path().join("run"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let sink = env.builder().start().expect("start again");
    assert_eq!(mode(&env.dir.path().join("run")), 0o755);
    sink.shutdown().expect("shutdown");
}

#[test]
fn whole_formatter_and_rotation_builders_are_taken_as_components() {
    use tracing_mplog_sink::LevelFormatter;
    use tracing_mplog_sink::format::FormatLevel;
    use tracing_mplog_sink::rotate::RotatingFile;
    let env = Env::new();
    let sink = env
        .builder()
        .formatter(
            LevelFormatter::builder().format(FormatLevel::Default, "%(processName)s %(message)s"),
        )
        // Lines are 9 bytes: six fit in 60, the seventh rotates.
        .rotation(RotatingFile::builder().max_bytes(60))
        .start()
        .expect("start");
    deliver(&sink, &session(1, 7, 8));
    sink.shutdown().expect("shutdown");
    let rotated: Vec<String> = env
        .file_names()
        .into_iter()
        .filter(|n| n.starts_with("w1.log."))
        .collect();
    assert_eq!(rotated.len(), 1, "{:?}", env.file_names());
    assert_eq!(env.lines(&rotated[0]).len(), 6);
    assert_eq!(env.lines("w1.log"), ["w1 w1 e7", "w1 w1 e8"]);
}
