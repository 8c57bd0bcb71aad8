//! Sink outages with the default policy (`Backpressure::BlockWithGrace`):
//! real worker processes set up by `worker::init()` with a short
//! `TRACING_MPLOG_OUTAGE_GRACE`, against no sink, a sink that stopped
//! reading, and a sink that appears after the grace.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use mplog_test_support::{Proc, SpawnGuarded, wait_exit};
use support::Setup;

/// The grace the workers get.
const GRACE: Duration = Duration::from_secs(2);
/// `worker::init()`'s flush timeout (the builder's default).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// Room for a loaded machine (2 cores shared by many builds and tests).
const SLACK: Duration = Duration::from_secs(60);

const UNREACHABLE: &str = "is unreachable";
const BACK: &str = "takes events again";

/// Waits for the worker to end, at most `limit`: a worker still running
/// then is killed (by `Proc`'s drop) and the test fails.
fn wait_within(mut child: Proc, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    wait_exit(&mut child, limit, "the worker to end (else it froze)");
    let took = start.elapsed();
    let out = child
        .into_child()
        .wait_with_output()
        .expect("collect the worker's output");
    (out, took)
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// A worker on the test's socket path with a short grace.
fn worker(s: &Setup, id: u64, events: u64, extra: &[&str], grace: Duration) -> Proc {
    s.worker(id, events, extra)
        .env(
            "TRACING_MPLOG_OUTAGE_GRACE",
            format!("{}ms", grace.as_millis()),
        )
        .spawn_guarded()
}

/// What a worker that cannot deliver says: one outage warning naming the
/// endpoint, and the guard's report of what it could not deliver.
fn assert_one_warning(s: &Setup, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "worker failed: {}\n{stderr}",
        out.status
    );
    assert_eq!(count(&stderr, UNREACHABLE), 1, "one warning:\n{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains(UNREACHABLE))
        .unwrap_or_default();
    assert!(
        warning.contains(&format!("unix:{}", s.socket().display()))
            && warning.contains("dropped and counted"),
        "the warning names the endpoint and says events are dropped: {warning}"
    );
    assert!(
        stderr.contains("gave up after") && stderr.contains("not delivered"),
        "the guard says what it could not deliver:\n{stderr}"
    );
}

#[test]
fn an_absent_sink_costs_at_most_the_grace_and_the_flush_timeout() {
    let s = Setup::new();
    let child = worker(&s, 1, 5000, &[], GRACE);
    let (out, _) = wait_within(child, GRACE + FLUSH_TIMEOUT + SLACK);
    assert_one_warning(&s, &out);
}

#[test]
fn a_sink_that_stopped_reading_does_not_freeze_the_worker() {
    let s = Setup::new();
    let dir = s.socket().parent().expect("socket dir").to_owned();
    std::fs::create_dir_all(&dir).expect("socket dir");
    // Connections land in the backlog and are never read: the worker's
    // sender fills the socket buffer and blocks in `send`.
    let listener = UnixListener::bind(s.socket()).expect("bind");
    // Three logging threads: once the outage is declared, none of them
    // waits again per event (20 000 each would take hours at one grace per
    // event).
    let child = worker(&s, 2, 20_000, &["--threads", "3"], GRACE);
    let (out, _) = wait_within(child, GRACE + FLUSH_TIMEOUT + SLACK);
    assert_one_warning(&s, &out);
    drop(listener);
}

#[test]
fn a_sink_that_comes_back_gets_the_later_events_and_the_drop_count() {
    const FIRST: u64 = 20_000;
    // Fewer than the channel holds (1 024): after the flush the channel is
    // empty, so these never wait and a stall of a loaded machine cannot
    // turn into a second outage.
    const LATER: u64 = 1_000;
    let grace = GRACE;
    let s = Setup::new();
    let mut cmd = s.worker(3, FIRST, &["--mode", &format!("outage:{LATER}")]);
    cmd.env(
        "TRACING_MPLOG_OUTAGE_GRACE",
        format!("{}", grace.as_secs_f64()),
    )
    .stdin(Stdio::piped());
    let mut child = cmd.spawn_guarded();

    // The worker logs FIRST events with no sink: it waits out the grace,
    // then drops what does not fit.
    let stdout = child.stdout.take().expect("piped stdout");
    let (said, hear) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if said.send(line).is_err() {
                break;
            }
        }
    });
    let limit = grace + FLUSH_TIMEOUT + SLACK;
    let first = hear
        .recv_timeout(limit)
        .expect("the worker logs with no sink");
    assert_eq!(first, format!("logged {FIRST}"));

    // The sink appears; the worker flushes (reconnects), then logs LATER.
    let sink = s.sink().start().expect("sink starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    writeln!(stdin, "go").expect("tell the worker");
    drop(stdin);
    let back = hear.recv_timeout(limit).expect("the worker reconnects");
    assert_eq!(back, "reconnected");
    let (out, _) = wait_within(child, limit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "worker failed: {}\n{stderr}",
        out.status
    );
    let report = sink.shutdown().expect("shutdown");

    let r: Vec<_> = report
        .processes
        .iter()
        .filter(|p| p.process_name == "worker-3")
        .collect();
    assert_eq!(r.len(), 1, "{report}");
    let (received, dropped) = (r[0].received, r[0].dropped_by_worker);
    assert!(dropped > 0, "the outage dropped events: {report}");
    assert_eq!(received + dropped, FIRST + LATER, "{report}");

    let (all, got) = support::received_in_order(&s.logdir(), 3, received);
    let later: Vec<u64> = got.iter().copied().filter(|&n| n > FIRST).collect();
    let want: Vec<u64> = (FIRST + 1..=FIRST + LATER).collect();
    assert!(
        later == want,
        "every event logged after the sink came back is on disk"
    );
    // The sink writes one WARN line per dropped frame it got.
    let reported = support::reported_drops(&all, "worker-3");
    assert_eq!(reported, dropped, "the files report every dropped event");
    assert_eq!(
        received + reported,
        FIRST + LATER,
        "what landed plus what was reported dropped is what was logged"
    );

    assert_eq!(count(&stderr, UNREACHABLE), 1, "one warning:\n{stderr}");
    assert_eq!(count(&stderr, BACK), 1, "one all-clear:\n{stderr}");
    assert!(
        stderr.contains(&format!("{dropped} event(s) were dropped")),
        "the all-clear gives the count dropped ({dropped}):\n{stderr}"
    );
}
