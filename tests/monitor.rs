//! The monitor with real processes: the `mplog-sink` binary with
//! `--metrics-listen` and `[[alert]]` rules on loopback, real test workers,
//! a real HTTP scrape, a webhook receiver in the test, `mplog-sink status`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mplog_test_support::{
    RunningSink, SpawnGuarded, http_get as get, lines_so_far, metric, wait_ok, wait_until,
};
use support::{Setup, TEMPLATE, sink_bin};

/// The bound on every wait of these tests (a loaded machine is slow).
const WAIT: Duration = Duration::from_secs(60);

/// Starts `mplog-sink` on the test's socket with metrics on a free
/// loopback port and `config` as its config file; returns it and the
/// metrics address.
fn start_sink(s: &Setup, config: &str) -> (RunningSink, String) {
    let file = s.write("sink.toml", config);
    let mut cmd = Command::new(sink_bin());
    cmd.arg(format!("--listen=unix:{}", s.socket().display()))
        .arg(format!("--logdir={}", s.logdir().display()))
        .arg("--metrics-listen=127.0.0.1:0")
        .arg(format!("--config={}", file.display()))
        .arg(format!("--format=default={TEMPLATE}"));
    let sink = RunningSink::start(cmd);
    let addr = sink.metrics_addr();
    sink.wait_prefix("listening on unix:");
    (sink, addr)
}

/// Scrapes until `ready` holds for the body (bounded); returns that body.
fn scrape_until(addr: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
    mplog_test_support::scrape_until(addr, WAIT, what, ready)
}

/// The JSON lines of an alert log, waiting until there are at least `n`.
fn alert_lines(path: &Path, n: usize) -> Vec<serde_json::Value> {
    wait_until(WAIT, &format!("{n} firings in {}", path.display()), || {
        let lines: Vec<serde_json::Value> = lines_so_far(path)
            .iter()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        if lines.len() >= n {
            Ok(lines)
        } else {
            Err(format!("{} so far: {lines:?}", lines.len()))
        }
    })
}

/// A loopback HTTP receiver: answers 200 and hands each request body over.
fn webhook_receiver() -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
    let addr = listener.local_addr().expect("address");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(WAIT));
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let mut stream = reader.into_inner();
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            if tx
                .send(String::from_utf8_lossy(&body).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    (addr, rx)
}

#[test]
fn metrics_scraped_over_http_and_status_show_exactly_what_workers_sent() {
    let s = Setup::new();
    let (sink, addr) = start_sink(&s, "");
    let a = wait_ok(s.worker(1, 25, &[]).spawn_guarded());
    let b = wait_ok(s.worker(2, 40, &[]).spawn_guarded());
    drop((a, b));
    // Both ended cleanly: every batch before their goodbye is counted.
    let body = scrape_until(&addr, "both workers ended", |b| {
        ["worker-1", "worker-2"].iter().all(|w| {
            metric(
                b,
                "mplog_process_state",
                &[("process", w), ("state", "clean")],
            ) == Some(1.0)
        })
    });
    for (name, n) in [("worker-1", 25.0), ("worker-2", 40.0)] {
        let who = [("process", name)];
        let at = |level| [who[0], ("level", level)];
        assert_eq!(
            metric(&body, "mplog_events_received_total", &at("info")),
            Some(n)
        );
        for level in ["trace", "debug", "warn", "error"] {
            assert_eq!(
                metric(&body, "mplog_events_received_total", &at(level)),
                Some(0.0)
            );
        }
        for reason in ["channel_full", "oversized"] {
            let l = [who[0], ("reason", reason)];
            assert_eq!(metric(&body, "mplog_events_dropped_total", &l), Some(0.0));
        }
        let last = metric(&body, "mplog_process_last_event_timestamp_seconds", &who);
        assert!(last.is_some_and(|t| t > 1.0e9), "{body}");
    }
    let unix = [("transport", "unix")];
    assert_eq!(metric(&body, "mplog_connections_total", &unix), Some(2.0));
    assert_eq!(metric(&body, "mplog_connections_active", &unix), Some(0.0));
    assert_eq!(
        metric(&body, "mplog_connections_total", &[("transport", "tcp")]),
        Some(0.0)
    );
    assert_eq!(
        metric(&body, "mplog_disconnects_total", &[("clean", "true")]),
        Some(2.0)
    );
    assert_eq!(
        metric(&body, "mplog_disconnects_total", &[("clean", "false")]),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &body,
            "mplog_connections_rejected_total",
            &[("reason", "hello")]
        ),
        Some(0.0)
    );
    // Each worker's per-name file: exactly its lines, as on disk.
    for (name, n) in [("worker-1", 25.0), ("worker-2", 40.0)] {
        let file = format!("{name}.log");
        let on_disk = std::fs::read_to_string(s.logdir().join(&file)).expect("log file");
        assert_eq!(on_disk.lines().count() as f64, n);
        let f = [("file", file.as_str())];
        assert_eq!(
            metric(&body, "mplog_file_lines_total", &f),
            Some(n),
            "{body}"
        );
        assert_eq!(
            metric(&body, "mplog_file_bytes_total", &f),
            Some(on_disk.len() as f64)
        );
        assert_eq!(metric(&body, "mplog_rotations_total", &f), Some(0.0));
        assert_eq!(metric(&body, "mplog_write_errors_total", &f), Some(0.0));
    }

    let status = Command::new(sink_bin())
        .args(["status", "--metrics-listen", &addr])
        .output()
        .expect("run status");
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{table}");
    for (name, n) in [("worker-1", "25"), ("worker-2", "40")] {
        let row = table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        // process pid host state(2 words) trace debug info warn error dropped last
        assert_eq!(&cols[3..6], ["ended", "clean", "0"], "{row}");
        assert_eq!(cols[7], n, "{row}");
        assert_eq!(cols[10], "0", "{row}");
    }
    sink.stop();

    let status = Command::new(sink_bin())
        .args(["status", "--metrics-listen", &addr])
        .output()
        .expect("run status");
    assert_eq!(status.status.code(), Some(1));
    let err = String::from_utf8_lossy(&status.stderr);
    assert!(err.contains("no sink answers at"), "{err}");
}

#[test]
fn a_sigkilled_worker_fires_unclean_disconnect_once_to_log_webhook_and_command() {
    let s = Setup::new();
    let (hook, bodies) = webhook_receiver();
    let cmd_out = s.dir.path().join("command.jsonl");
    let config = format!(
        r#"
[[alert]]
name = "worker-crashed"
on = "unclean-disconnect"
process = "worker-*"
log = "alerts.jsonl"
webhook = "http://{hook}/hook"
command = ["sh", "-c", "cat >> '{out}'; echo \"$MPLOG_ALERT_NAME $MPLOG_ALERT_PID\" >> '{out}.env'"]
"#,
        out = cmd_out.display()
    );
    let (sink, addr) = start_sink(&s, &config);
    // A clean worker fires nothing.
    wait_ok(s.worker(1, 5, &[]).spawn_guarded());
    // Nor one the sink itself disconnects when it shuts down (below).
    let mut still = s
        .worker(7, 5, &["--mode", "hang-after-flush"])
        .spawn_guarded();
    let mut line = String::new();
    BufReader::new(still.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read flushed");
    assert_eq!(line.trim(), "flushed");
    let mut hung = s
        .worker(2, 5, &["--mode", "hang-after-flush"])
        .spawn_guarded();
    let pid = hung.id();
    let mut out = BufReader::new(hung.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("read flushed");
    assert_eq!(line.trim(), "flushed");
    // SAFETY: signals our own child, not yet waited for.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let _ = hung.wait();

    let firings = alert_lines(&s.logdir().join("alerts.jsonl"), 1);
    let f = &firings[0];
    assert_eq!(f["alert"], "worker-crashed");
    assert_eq!(f["on"], "unclean-disconnect");
    assert_eq!(f["process"], "worker-2");
    assert_eq!(f["pid"], pid);
    assert!(f["host"].as_str().is_some_and(|h| !h.is_empty()), "{f}");
    assert!(
        f["summary"]
            .as_str()
            .is_some_and(|t| t.contains("worker-2")),
        "{f}"
    );
    let time = f["time"].as_str().expect("time");
    assert!(time.len() >= 20 && time.as_bytes()[10] == b'T', "{time}");

    let hooked: serde_json::Value =
        serde_json::from_str(&bodies.recv_timeout(WAIT).expect("a webhook POST")).expect("JSON");
    assert_eq!(hooked, *f);
    let env_file = format!("{}.env", cmd_out.display());
    wait_until(WAIT, "the command to run", || {
        std::fs::read_to_string(&env_file).is_ok_and(|t| t.contains('\n'))
    });
    let stdin: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&cmd_out)
            .expect("stdin copy")
            .trim(),
    )
    .expect("JSON on stdin");
    assert_eq!(stdin, *f);
    let env = std::fs::read_to_string(&env_file).expect("env");
    assert_eq!(env.trim(), format!("worker-crashed {pid}"));

    // Exactly once: nothing more comes.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(alert_lines(&s.logdir().join("alerts.jsonl"), 1).len(), 1);
    assert!(bodies.try_recv().is_err(), "a second webhook POST");
    let body = get(&addr, "/metrics");
    let rule = [("alert", "worker-crashed")];
    assert_eq!(metric(&body, "mplog_alerts_fired_total", &rule), Some(1.0));
    assert_eq!(
        metric(&body, "mplog_alert_action_failures_total", &rule),
        Some(0.0)
    );
    assert_eq!(
        metric(&body, "mplog_disconnects_total", &[("clean", "false")]),
        Some(1.0)
    );
    let stderr = sink.stop();
    assert!(stderr.contains("worker-7"), "{stderr}");
    assert_eq!(alert_lines(&s.logdir().join("alerts.jsonl"), 1).len(), 1);
    assert!(bodies.try_recv().is_err(), "a webhook POST at shutdown");
    drop(still);
}

#[test]
fn an_error_burst_fires_level_once_per_cooldown_and_a_panic_fires_match() {
    let s = Setup::new();
    let config = r#"
[[alert]]
name = "error-burst"
on = "level"
level = "error"
count = 5
window = "1m"
cooldown = "1h"
log = "alerts.jsonl"

[[alert]]
name = "panics"
on = "match"
regex = "panicked at"
log = "alerts.jsonl"

[[alert]]
name = "never"
on = "level"
process = "nobody-*"
log = "alerts.jsonl"
"#;
    let (sink, addr) = start_sink(&s, config);
    wait_ok(s.worker(3, 20, &["--mode", "errors"]).spawn_guarded());
    scrape_until(&addr, "the worker ended", |b| {
        metric(
            b,
            "mplog_process_state",
            &[("process", "worker-3"), ("state", "clean")],
        ) == Some(1.0)
    });
    let firings = alert_lines(&s.logdir().join("alerts.jsonl"), 2);
    std::thread::sleep(Duration::from_millis(500));
    let firings_after = alert_lines(&s.logdir().join("alerts.jsonl"), 2);
    assert_eq!(firings.len(), firings_after.len());
    let of = |name: &str| -> Vec<&serde_json::Value> {
        firings_after
            .iter()
            .filter(|f| f["alert"] == name)
            .collect()
    };
    let burst = of("error-burst");
    assert_eq!(burst.len(), 1, "{firings_after:?}");
    assert_eq!(burst[0]["on"], "level");
    assert_eq!(burst[0]["count"], 5);
    assert_eq!(burst[0]["level"], "error");
    assert_eq!(burst[0]["process"], "worker-3");
    assert!(
        burst[0]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("w3 e5 n=5")),
        "{:?}",
        burst[0]
    );
    let panics = of("panics");
    assert_eq!(panics.len(), 1, "{firings_after:?}");
    assert_eq!(panics[0]["on"], "match");
    assert!(
        panics[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("panicked at src/job.rs:7:5: boom")),
        "{:?}",
        panics[0]
    );
    assert!(of("never").is_empty());
    let body = get(&addr, "/metrics");
    assert_eq!(
        metric(
            &body,
            "mplog_alerts_fired_total",
            &[("alert", "error-burst")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&body, "mplog_alerts_fired_total", &[("alert", "panics")]),
        Some(1.0)
    );
    assert_eq!(
        metric(&body, "mplog_alerts_fired_total", &[("alert", "never")]),
        Some(0.0)
    );
    sink.stop();
}

#[test]
fn a_silent_worker_fires_silence_once_and_a_hanging_action_never_blocks_logging() {
    let s = Setup::new();
    let config = r#"
[[alert]]
name = "quiet"
on = "silence"
after = "1s"
log = "alerts.jsonl"

[[alert]]
name = "slow-action"
on = "match"
regex = " w5 e1 n=1$"
command = ["sleep", "600"]
"#;
    let (sink, addr) = start_sink(&s, config);
    let mut quiet = s
        .worker(4, 3, &["--mode", "hang-after-flush"])
        .spawn_guarded();
    let pid = quiet.id();
    let mut out = BufReader::new(quiet.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("read flushed");
    assert_eq!(line.trim(), "flushed");

    // The slow action hangs on the first event of worker 5; the worker's
    // 2000 events all land meanwhile.
    wait_ok(s.worker(5, 2000, &[]).spawn_guarded());
    scrape_until(&addr, "worker 5 fully counted", |b| {
        metric(
            b,
            "mplog_events_received_total",
            &[("process", "worker-5"), ("level", "info")],
        ) == Some(2000.0)
    });
    wait_until(WAIT, "2000 lines in worker-5.log", || {
        let written = s.lines_so_far("worker-5.log").len();
        if written == 2000 {
            Ok(())
        } else {
            Err(format!("{written} written"))
        }
    });

    let firings = alert_lines(&s.logdir().join("alerts.jsonl"), 1);
    let f = firings
        .iter()
        .find(|f| f["pid"] == pid)
        .unwrap_or_else(|| panic!("no firing for worker 4: {firings:?}"));
    assert_eq!(f["alert"], "quiet");
    assert_eq!(f["on"], "silence");
    assert_eq!(f["pid"], pid);
    assert_eq!(f["process"], "worker-4");
    // The hung command is killed after its timeout and counted.
    scrape_until(&addr, "the slow action counted as failed", |b| {
        metric(
            b,
            "mplog_alert_action_failures_total",
            &[("alert", "slow-action")],
        ) == Some(1.0)
    });
    // Once per quiet spell.
    let quiet_firings = alert_lines(&s.logdir().join("alerts.jsonl"), 1)
        .iter()
        .filter(|f| f["alert"] == "quiet" && f["pid"] == pid)
        .count();
    assert_eq!(quiet_firings, 1);
    drop(quiet);
    sink.stop();
}

#[test]
fn processes_that_ended_leave_the_metrics_after_the_retention() {
    let s = Setup::new();
    let sink = s
        .sink()
        .metrics_listen("127.0.0.1:0")
        .metrics_retention(Duration::from_secs(2))
        .start()
        .expect("start the sink");
    let addr = sink.metrics_addr().expect("metrics address");
    assert!(addr.ip().is_loopback());
    let addr = addr.to_string();
    wait_ok(s.worker_for(&sink, 6, 10, &[]).spawn_guarded());
    let ended = Instant::now();
    let body = scrape_until(&addr, "worker 6 ended", |b| {
        metric(
            b,
            "mplog_process_state",
            &[("process", "worker-6"), ("state", "clean")],
        ) == Some(1.0)
    });
    // Still there within the retention (unless the machine was very slow).
    if ended.elapsed() < Duration::from_secs(1) {
        assert!(body.contains("process=\"worker-6\""), "{body}");
    }
    scrape_until(&addr, "worker 6 dropped from the series", |b| {
        !b.contains("process=\"worker-6\"")
    });
    assert!(ended.elapsed() >= Duration::from_secs(2));
    // The counts that are not per process stay.
    let body = get(&addr, "/metrics");
    assert_eq!(
        metric(&body, "mplog_disconnects_total", &[("clean", "true")]),
        Some(1.0)
    );
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(report.processes[0].received, 10);
}

#[test]
fn dropped_events_are_counted_exactly_and_fire_the_dropped_rule_once() {
    use tracing_mplog_sink::sink::{AlertOn, AlertRule};
    const EVENTS: u64 = 20_000;
    let s = Setup::new();
    let mut rule = AlertRule::new("drops", AlertOn::Dropped);
    rule.process = Some("worker-?".into());
    rule.cooldown = Duration::from_secs(3600);
    rule.log = Some("alerts.jsonl".into());
    let sink = s
        .sink()
        .metrics_listen("127.0.0.1:0")
        .alert(rule)
        .start()
        .expect("start the sink");
    let addr = sink.metrics_addr().expect("metrics address").to_string();
    let out = wait_ok(
        s.worker_for(&sink, 8, EVENTS, &["--mode", "drop-newest:8"])
            .spawn_guarded(),
    );
    assert!(out.contains(&format!("logged {EVENTS}")), "{out}");
    let body = scrape_until(&addr, "worker 8 ended", |b| {
        metric(
            b,
            "mplog_process_state",
            &[("process", "worker-8"), ("state", "clean")],
        ) == Some(1.0)
    });
    let who = ("process", "worker-8");
    let info = metric(
        &body,
        "mplog_events_received_total",
        &[who, ("level", "info")],
    );
    let full = metric(
        &body,
        "mplog_events_dropped_total",
        &[who, ("reason", "channel_full")],
    );
    let (Some(info), Some(full)) = (info, full) else {
        panic!("no counts for worker-8:\n{body}");
    };
    assert!(full > 0.0, "a channel of 8 must overflow:\n{body}");
    assert_eq!(info + full, EVENTS as f64);
    let firings = alert_lines(&s.logdir().join("alerts.jsonl"), 1);
    std::thread::sleep(Duration::from_millis(500));
    let firings_after = alert_lines(&s.logdir().join("alerts.jsonl"), 1);
    assert_eq!(firings.len(), 1, "once per cooldown: {firings_after:?}");
    assert_eq!(
        firings_after.len(),
        1,
        "once per cooldown: {firings_after:?}"
    );
    assert_eq!(firings[0]["on"], "dropped");
    assert_eq!(firings[0]["process"], "worker-8");
    assert!(
        firings[0]["count"].as_u64().is_some_and(|n| n > 0),
        "{:?}",
        firings[0]
    );
    let report = sink.shutdown().expect("shutdown");
    let p = report
        .processes
        .iter()
        .find(|p| p.process_name == "worker-8")
        .expect("worker-8 in the report");
    assert_eq!(p.dropped_by_worker as f64, full);
    assert_eq!(p.received as f64, info);
}
