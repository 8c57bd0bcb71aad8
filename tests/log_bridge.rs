//! Records of the `log` crate in a worker (feature `log` of tracing-mplog,
//! on by default): `worker::init()` bridges them, and they land in the
//! sink's files with the record's own target, module path, file and line.

mod support;

use mplog_test_support::{SpawnGuarded, wait_ok};
use support::Setup;
use tracing_mplog_sink::format::FormatLevel;

const EVENTS: u64 = 200;

#[test]
fn a_dependency_logging_through_log_lands_in_the_files_with_its_target_and_module() {
    let s = Setup::new();
    let sink = s
        .sink()
        .format(
            FormatLevel::Default,
            "{process_name} {level} {target} {module_path} {file} {line} {message}",
        )
        .start()
        .expect("sink");
    let out = s
        .worker_for(&sink, 4, EVENTS, &["--mode", "log-dep"])
        .spawn_guarded();
    wait_ok(out);
    sink.shutdown().expect("shutdown");

    let all = s.log_lines("worker-4.log");
    assert_eq!(
        all.len() as u64,
        EVENTS,
        "every record once, the debug one filtered: {all:?}"
    );
    for (n, line) in (1..=EVENTS).zip(&all) {
        // `w4 eN line=L`: the worker wrote the line of its `log::warn!`.
        let words: Vec<&str> = line.split(' ').collect();
        let [name, level, target, module, file, line_no, w, e, at] = words[..] else {
            panic!("unexpected line: {line}");
        };
        assert_eq!(
            (name, level, target, module),
            ("worker-4", "WARN", "dep", "mplog_test_worker::dep"),
            "{line}"
        );
        assert!(file.ends_with("mplog-test-worker.rs"), "{line}");
        assert_eq!(
            format!("line={line_no}"),
            at,
            "the record's own line: {line}"
        );
        assert_eq!((w, e), ("w4", format!("e{n}").as_str()), "{line}");
    }
}

#[test]
fn a_log_logger_installed_before_init_is_kept_and_init_succeeds() {
    let s = Setup::new();
    let sink = s.sink().start().expect("sink");
    let child = s
        .worker_for(&sink, 5, 3, &["--mode", "log-own"])
        .spawn_guarded()
        .into_child();
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "init succeeded: {stderr}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("own-logger: w5 e"))
            .count(),
        3,
        "the program's own logger got the records: {stdout}"
    );
    assert!(
        stderr.contains("a `log` logger is already installed"),
        "one line says where `log` records go: {stderr}"
    );
    sink.shutdown().expect("shutdown");
    let all = s.log_lines("worker-5.log");
    assert!(all.is_empty(), "nothing went to the sink twice: {all:?}");
}
