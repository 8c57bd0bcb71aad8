//! Python processes (the machine's `python3`, standard library only) and a
//! Rust worker log at once into the real `mplog-sink`, which writes them to
//! the same consolidated and per-key files; a hostile pickle is refused and
//! nothing of it runs; Python records are forwarded to a real rsyslogd and
//! an OTLP receiver with their levels and tracebacks. Skipped, saying so,
//! where `python3` is missing.

#[path = "peers/otlp.rs"]
mod otlp;
#[path = "peers/rsyslog.rs"]
mod rsyslog;
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use mplog_test_support::{RunningSink, read, wait_exit};
use otlp::Receiver as _;
use support::{WORKER, sink_bin};

const EVENTS: u64 = 5000;
const DEFAULT: &str = "%(processName)s|%(levelname)s|%(levelno)d|%(name)s|%(funcName)s|%(message)s";
const ERROR: &str = "E|%(processName)s|%(levelname)s|%(levelno)d|%(name)s|%(funcName)s|%(message)s";

fn python() -> Option<&'static str> {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        mplog_test_support::skip_unless_ci("python3 is not installed (apt-get install python3)");
    }
    ok.then_some("python3")
}

fn script() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/socket_clients.py"
    )
}

/// The script's 3 client processes (`py-1`, `py-2` on the Unix socket
/// `sock`, `py-3` on TCP `port`), `events` records each.
fn clients(py: &str, sock: &Path, port: &str, events: u64) -> Command {
    let mut cmd = Command::new(py);
    cmd.arg(script())
        .arg("clients")
        .arg(sock)
        .arg(port)
        .arg(events.to_string());
    cmd
}

/// Runs `cmd` to its end (bounded), returns its stdout; fails on a non-zero
/// exit.
fn run(mut cmd: Command, what: &str) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    wait_exit(
        &mut child,
        Duration::from_secs(180),
        &format!("{what} to end"),
    );
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Record lines of a file (traceback lines and the sink's own left out),
/// counted.
fn records(path: &Path) -> (HashMap<String, u32>, Vec<String>) {
    let text = read(path);
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut counts = HashMap::new();
    for l in &lines {
        if l.starts_with("py-") || l.starts_with("E|py-") || l.starts_with("worker-") {
            *counts.entry(l.clone()).or_insert(0) += 1;
        }
    }
    (counts, lines)
}

/// The line a Python client's record `n` must render as.
fn py_line(i: u64, n: u64) -> String {
    let head = |t: &str, lv: &str, no: u32| format!("{t}py-{i}|{lv}|{no}|app.py{i}|work|p{i} e{n}");
    if n % 100 == 0 {
        format!("{} boom", head("E|", "ERROR", 40))
    } else {
        match n % 3 {
            0 => head("", "INFO", 20),
            1 => head("", "WARNING", 30),
            _ => head("E|", "CRITICAL", 50),
        }
    }
}

#[test]
fn python_and_rust_processes_share_the_files_and_hostile_pickles_run_nothing() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let rs_sock = dir.path().join("run/rs.sock");
    let py_sock = dir.path().join("run/py.sock");
    let logs = dir.path().join("logs");
    let mut cmd = Command::new(sink_bin());
    cmd.arg(format!("--listen=unix:{}", rs_sock.display()))
        .arg(format!("--python-listen=unix:{}", py_sock.display()))
        .arg("--python-listen=tcp://127.0.0.1:0")
        .arg(format!("--logdir={}", logs.display()))
        .args(["--name=all", "--consolidate", "--process-key=name"])
        .arg(format!("--format=default={DEFAULT}"))
        .arg(format!("--format=error={ERROR}"))
        .env("TZ", "UTC");
    let sink = RunningSink::start(cmd);
    let tcp = sink.wait_prefix("listening for Python on tcp://");
    let port = tcp.rsplit(':').next().expect("port").to_owned();
    sink.wait_prefix("listening for Python on unix:");

    // A pickle that calls os.system when Python unpickles it.
    let marker = dir.path().join("pwned");
    let mut hostile = Command::new(py);
    hostile
        .arg(script())
        .arg("hostile")
        .arg(&py_sock)
        .arg(&marker);
    let said = run(hostile, "the hostile client");
    assert_eq!(said.trim(), "closed", "the sink must close that connection");
    assert!(!marker.exists(), "the hostile pickle ran");

    // Then, at once: 3 Python processes and a Rust worker.
    let clients = clients(py, &py_sock, &port, EVENTS);
    let mut worker = Command::new(WORKER);
    worker
        .args(["--id", "9", "--events", &EVENTS.to_string()])
        .env(
            "TRACING_MPLOG_ENDPOINT",
            format!("unix:{}", rs_sock.display()),
        )
        .env("TRACING_MPLOG_PROCESS_NAME", "worker-9")
        .env("RUST_LOG", "info");
    let rust = std::thread::spawn(move || run(worker, "the Rust worker"));
    let said = run(clients, "the Python clients");
    assert!(said.contains("exit codes [0, 0, 0]"), "{said}");
    rust.join().expect("rust worker thread");
    assert!(!marker.exists(), "the hostile pickle ran");
    let stderr = sink.stop();

    let (all, all_lines) = records(&logs.join("all.log"));
    for i in 1..=3 {
        let (own, own_lines) = records(&logs.join(format!("py-{i}.log")));
        for n in 1..=EVENTS {
            let want = py_line(i, n);
            assert_eq!(all.get(&want), Some(&1), "{want} in all.log");
            assert_eq!(own.get(&want), Some(&1), "{want} in py-{i}.log");
        }
        assert_eq!(own.len() as u64, EVENTS, "py-{i}.log holds only py-{i}");
        // Each exception is followed by its traceback, as Python's
        // Formatter writes it.
        for (k, l) in own_lines.iter().enumerate() {
            if l.ends_with(" boom") {
                assert_eq!(own_lines[k + 1], "Traceback (most recent call last):");
                let tail = &own_lines[k + 2..(k + 8).min(own_lines.len())];
                assert!(
                    tail.iter()
                        .any(|t| t == "ZeroDivisionError: division by zero"),
                    "no exception line after {l}: {tail:?}"
                );
                assert!(tail.iter().any(|t| t.contains("in work")), "{tail:?}");
            }
        }
        let tracebacks = own_lines
            .iter()
            .filter(|l| *l == "Traceback (most recent call last):")
            .count() as u64;
        assert_eq!(tracebacks, EVENTS / 100);
    }
    let (rust_own, _) = records(&logs.join("worker-9.log"));
    for n in 1..=EVENTS {
        let want = format!("|w9 e{n} n={n}");
        let hits = |m: &HashMap<String, u32>| -> u32 {
            m.iter()
                .filter(|(l, _)| l.starts_with("worker-9|INFO|20|") && l.ends_with(&want))
                .map(|(_, c)| *c)
                .sum()
        };
        assert_eq!(hits(&all), 1, "w9 e{n} in all.log");
        assert_eq!(hits(&rust_own), 1, "w9 e{n} in worker-9.log");
    }
    let tracebacks = all_lines
        .iter()
        .filter(|l| *l == "Traceback (most recent call last):")
        .count() as u64;
    assert_eq!(tracebacks, 3 * EVENTS / 100);
    assert!(
        all_lines
            .iter()
            .any(|l| l.contains("refused pickle") && l.contains("GLOBAL")),
        "the refusal is logged; stderr:\n{stderr}"
    );
}

/// What a forwarded copy of Python record `n` of client `i` must carry:
/// (syslog severity, OTLP severity number, severity text).
fn py_severity(n: u64) -> (u16, i32, &'static str) {
    if n % 100 == 0 {
        (3, 17, "ERROR")
    } else {
        match n % 3 {
            0 => (6, 9, "INFO"),
            1 => (4, 13, "WARNING"),
            _ => (2, 21, "CRITICAL"),
        }
    }
}

/// `(i, n)` of a forwarded message `p{i} e{n}[ boom]…`.
fn py_numbers(msg: &str) -> (u64, u64) {
    let mut words = msg.split([' ', '\n', '#']);
    let i = words.next().and_then(|w| w.strip_prefix('p')?.parse().ok());
    let n = words.next().and_then(|w| w.strip_prefix('e')?.parse().ok());
    i.zip(n)
        .unwrap_or_else(|| panic!("not a client message: {msg:?}"))
}

#[test]
fn python_records_are_forwarded_with_their_levels_and_tracebacks() {
    const N: u64 = 300;
    let Some(py) = python() else { return };
    let Some(mut relay) = rsyslog::Rsyslog::start() else {
        return;
    };
    let collector = otlp::HttpReceiver::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let py_sock = dir.path().join("run/py.sock");
    let mut cmd = Command::new(sink_bin());
    cmd.arg(format!(
        "--listen=unix:{}",
        dir.path().join("run/rs.sock").display()
    ))
    .arg(format!("--python-listen=unix:{}", py_sock.display()))
    .arg("--python-listen=tcp://127.0.0.1:0")
    .arg(format!("--logdir={}", dir.path().join("logs").display()))
    .arg(format!(
        "--forward=syslog+tcp://127.0.0.1:{}",
        relay.tcp_port
    ))
    .arg(format!("--forward={}", collector.url()));
    let sink = RunningSink::start(cmd);
    let tcp = sink.wait_prefix("listening for Python on tcp://");
    let port = tcp.rsplit(':').next().expect("port").to_owned();
    let clients = clients(py, &py_sock, &port, N);
    let said = run(clients, "the Python clients");
    assert!(said.contains("exit codes [0, 0, 0]"), "{said}");
    let stderr = sink.stop();
    for url in [
        format!("syslog+tcp://127.0.0.1:{}", relay.tcp_port),
        collector.url(),
    ] {
        let want = format!("forwarded to {url}: {} records, dropped 0", 3 * N);
        assert!(stderr.contains(&want), "no `{want}` in:\n{stderr}");
    }

    let mut seen = HashMap::new();
    for line in relay.wait_lines(3 * N as usize) {
        let (i, n) = py_numbers(&line.msg);
        *seen.entry((i, n)).or_insert(0) += 1;
        let (severity, _, _) = py_severity(n);
        assert_eq!(line.pri, 8 + severity, "PRI of p{i} e{n}");
        assert_eq!(line.app_name, format!("py-{i}"));
        assert_eq!(line.msgid, format!("app.py{i}"));
        if n % 100 == 0 {
            // rsyslog shows the newlines as #012.
            assert!(
                line.msg.contains("#012Traceback (most recent call last):")
                    && line.msg.contains("ZeroDivisionError: division by zero"),
                "{}",
                line.msg
            );
        }
    }
    assert_eq!(seen.len() as u64, 3 * N, "rsyslog got every record");
    assert!(seen.values().all(|c| *c == 1), "rsyslog got one copy each");

    let got = collector.wait_records(3 * N as usize, Duration::from_secs(60));
    let mut seen = HashMap::new();
    for f in otlp::flatten(&got.requests) {
        let text = otlp::body(&f.record).expect("a string body");
        let (i, n) = py_numbers(text);
        *seen.entry((i, n)).or_insert(0) += 1;
        let (_, number, name) = py_severity(n);
        assert_eq!(f.record.severity_number, number, "p{i} e{n}");
        assert_eq!(f.record.severity_text, name, "p{i} e{n}");
        assert_eq!(f.scope, format!("app.py{i}"));
        let service = otlp::attr_str(&f.resource, "service.name");
        assert_eq!(service, Some(format!("py-{i}").as_str()));
        assert!(otlp::attr_int(&f.resource, "process.pid").is_some_and(|p| p > 0));
        assert_eq!(
            otlp::attr_int(&f.record.attributes, "code.lineno").map(|l| l > 0),
            Some(true)
        );
        if n % 100 == 0 {
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[0], format!("p{i} e{n} boom"));
            assert_eq!(lines[1], "Traceback (most recent call last):");
            assert_eq!(lines.last(), Some(&"ZeroDivisionError: division by zero"));
        } else {
            assert_eq!(text, format!("p{i} e{n}"));
        }
    }
    assert_eq!(seen.len() as u64, 3 * N, "the collector got every record");
    assert!(
        seen.values().all(|c| *c == 1),
        "the collector got one copy each"
    );
}
