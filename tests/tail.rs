//! `mplog-sink tail` with real processes: the `mplog-sink` binary with
//! `--metrics-listen`, real test workers, and the `tail` subcommand as a
//! child process whose stdout is checked line by line.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mplog_test_support::{RunningSink, SpawnGuarded, http_get, metric, wait_ok, wait_until};
use support::{Setup, sink_bin};

/// The bound on every wait of these tests (a loaded machine is slow).
const WAIT: Duration = Duration::from_secs(60);

/// Starts `mplog-sink` with metrics on a free loopback port; returns it
/// and the metrics address.
fn start_sink(s: &Setup) -> (RunningSink, String) {
    let mut cmd = Command::new(sink_bin());
    cmd.arg(format!("--listen=unix:{}", s.socket().display()))
        .arg(format!("--logdir={}", s.logdir().display()))
        .arg("--metrics-listen=127.0.0.1:0")
        .args(["--name", "all", "--consolidate"])
        .arg("--format=default={process_name} {level} {message}");
    let sink = RunningSink::start(cmd);
    let addr = sink.metrics_addr();
    sink.wait_prefix("listening on unix:");
    (sink, addr)
}

/// A running `mplog-sink tail`, its stdout lines arriving on a channel.
struct Tail {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Tail {
    /// Starts `mplog-sink tail --metrics-listen ADDR args…` and waits until
    /// it follows the sink.
    fn start(addr: &str, args: &[&str]) -> Tail {
        let mut child = Command::new(sink_bin())
            .args(["tail", "--metrics-listen", addr])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mplog-sink tail");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut first = String::new();
        stderr.read_line(&mut first).expect("tail's first word");
        assert!(first.starts_with("mplog-sink tail: following"), "{first}");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Tail { child, lines }
    }

    /// Exactly `n` lines: waits for them, then a moment longer for any
    /// line beyond them.
    fn exactly(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => got.push(line),
                Err(_) => panic!("tail printed {} of {n} lines: {got:#?}", got.len()),
            }
        }
        while let Ok(extra) = self.lines.recv_timeout(Duration::from_millis(500)) {
            got.push(extra);
        }
        got
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A worker of the `typed` mode named `name`: `events` events, WARN for
/// `n % 4 == 0`, INFO for 1, ERROR for 2, DEBUG (not sent) for 3.
fn worker(s: &Setup, id: u64, name: &str, events: u64) -> Command {
    let mut cmd = s.worker(id, events, &["--mode", "typed"]);
    cmd.env("TRACING_MPLOG_PROCESS_NAME", name);
    cmd
}

/// The message of a typed event's line: `NAME LEVEL wID eN …` → (LEVEL, N).
fn level_and_n(line: &str) -> (String, u64) {
    let mut words = line.split(' ');
    let _name = words.next();
    let level = words.next().unwrap_or("").to_owned();
    let n = words
        .nth(1)
        .and_then(|e| e.strip_prefix('e'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a typed event's line: {line}"));
    (level, n)
}

#[test]
fn tail_shows_exactly_the_filtered_records_live_then_the_last_ones() {
    let s = Setup::new();
    let (_sink, addr) = start_sink(&s);
    let tail = Tail::start(&addr, &["--level", "warn", "--process", "w1"]);
    let json = Tail::start(&addr, &["--level", "error", "--process", "w2", "--json"]);
    let w1 = worker(&s, 1, "w1", 40).spawn_guarded();
    let w2 = worker(&s, 2, "w2", 40).spawn_guarded();
    drop((wait_ok(w1), wait_ok(w2)));

    let lines = tail.exactly(20);
    let want: Vec<(String, u64)> = (1..=40)
        .filter_map(|n| match n % 4 {
            0 => Some(("WARN".to_owned(), n)),
            2 => Some(("ERROR".to_owned(), n)),
            _ => None,
        })
        .collect();
    assert!(lines.iter().all(|l| l.starts_with("w1 ")), "{lines:#?}");
    let got: Vec<(String, u64)> = lines.iter().map(|l| level_and_n(l)).collect();
    assert_eq!(got, want);

    // As JSON lines: w2's ERROR records (n % 4 == 2).
    let objects: Vec<serde_json::Value> = (json.exactly(10).iter())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    for (o, n) in objects.iter().zip((2..=40).step_by(4)) {
        assert_eq!(
            (&o["process"], &o["level"]),
            (&"w2".into(), &"ERROR".into()),
            "{o}"
        );
        assert_eq!(o["fields"]["message"], format!("w2 e{n}"), "{o}");
        assert_eq!(o["fields"]["neg"], -(n as i64), "{o}");
    }

    // The last 5 records of w2 the sink took (its DEBUG ones were never
    // sent), printed first; nothing more comes while w2 is gone.
    let last = Tail::start(&addr, &["--lines", "5", "--process", "w2"]);
    let got: Vec<(String, u64)> = last.exactly(5).iter().map(|l| level_and_n(l)).collect();
    let want: Vec<(String, u64)> = [
        (34, "ERROR"),
        (36, "WARN"),
        (37, "INFO"),
        (38, "ERROR"),
        (40, "WARN"),
    ]
    .into_iter()
    .map(|(n, l)| (l.to_owned(), n))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn a_stopped_tail_gets_counted_drops_and_never_slows_the_sink() {
    let s = Setup::new();
    let (sink, addr) = start_sink(&s);
    // A follower that never reads its answer.
    let mut stopped = TcpStream::connect(&addr).expect("connect");
    write!(stopped, "GET /tail HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("ask");
    wait_until(WAIT, "the follower to register", || {
        metric(&http_get(&addr, "/metrics"), "mplog_tail_followers", &[]) == Some(1.0)
    });
    // Long lines, so that they outgrow the follower's queue and the
    // socket's buffers: 3 of 4 typed events are sent (no DEBUG).
    let events = 60_000;
    let a = worker(&s, 1, "worker-1", events).spawn_guarded();
    let b = worker(&s, 2, "worker-2", events).spawn_guarded();
    drop((wait_ok(a), wait_ok(b)));
    let events = events / 4 * 3;
    // Every event reaches the files although the follower takes none, and
    // what did not fit its queue is counted.
    let all = [("file", "all.log")];
    let deadline = Instant::now() + WAIT;
    let body = loop {
        let body = http_get(&addr, "/metrics");
        if metric(&body, "mplog_file_lines_total", &all) == Some((2 * events) as f64) {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the sink never wrote every line:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let dropped = metric(&body, "mplog_tail_dropped_total", &[]).unwrap_or(0.0);
    assert!(
        dropped > 0.0,
        "nothing dropped for the stopped follower:\n{body}"
    );
    let stderr = sink.stop();
    let text = std::fs::read_to_string(s.logdir().join("all.log")).expect("all.log");
    let lines = text.lines().filter(|l| l.starts_with("worker-")).count() as u64;
    assert_eq!(lines, 2 * events, "{stderr}");
    drop(stopped);
}
