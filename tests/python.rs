//! Python processes (the machine's `python3`, standard library only) and a
//! Rust worker log at once into the real `mplog-sink`, which writes them to
//! the same consolidated and per-key files; a hostile pickle is refused and
//! nothing of it runs. Skipped, saying so, where `python3` is missing.

mod cluster_support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cluster_support::{RunningSink, sink_bin};

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
        eprintln!("SKIPPED: no python3 on this machine; the Python tests need one");
    }
    ok.then_some("python3")
}

fn script() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/socket_clients.py"
    )
}

/// Runs `cmd` to its end (bounded), returns its stdout; fails on a non-zero
/// exit.
fn run(mut cmd: Command, what: &str) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
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
    let tcp = sink.wait_line("listening for Python on tcp://");
    let port = tcp.rsplit(':').next().expect("port").to_owned();
    sink.wait_line("listening for Python on unix:");

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
    let mut clients = Command::new(py);
    clients
        .arg(script())
        .arg("clients")
        .arg(&py_sock)
        .arg(&port)
        .arg(EVENTS.to_string());
    let mut worker = Command::new(env!("CARGO_BIN_EXE_mplog-test-worker"));
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
