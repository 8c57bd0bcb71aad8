//! Forwarding to destinations that are down for the whole run, with the
//! real `mplog-sink` binary and real workers: the files are complete, the
//! sink stays small (each queue is bounded), every record is counted as
//! dropped (metrics and the shutdown report), each destination is reported
//! down once, and shutdown takes the drain time, not longer.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use mplog_test_support::{
    RunningSink, SpawnGuarded, TIMEOUT, metric, peak_rss_kib, scrape_until, wait_ok,
};
use support::{Setup, assert_files_complete, file_sink};

const WORKERS: u64 = 3;
const EVENTS: u64 = 60_000;
const QUEUE: u64 = 1_000;

/// A loopback port nobody listens on (bound, then closed).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn destinations_down_for_the_whole_run_cost_drops_not_files_or_memory() {
    let s = Setup::new();
    let syslog = format!("syslog+tcp://127.0.0.1:{}", closed_port());
    let otlp = format!("otlp+http://127.0.0.1:{}", closed_port());
    let config = s.write(
        "sink.toml",
        &format!(
            "[[forward]]\nurl = \"{syslog}\"\nqueue = {QUEUE}\n\n\
             [[forward]]\nurl = \"{otlp}\"\nqueue = {QUEUE}\n"
        ),
    );
    let mut cmd = file_sink(&s.socket(), &s.logdir());
    cmd.arg(format!("--config={}", config.display()))
        .arg("--metrics-listen=127.0.0.1:0")
        .arg("--forward-drain=1s");
    let sink = RunningSink::start(cmd);
    let addr = sink.metrics_addr();
    sink.wait_prefix("listening on unix:");

    let workers: Vec<_> = (1..=WORKERS)
        .map(|id| s.worker(id, EVENTS, &[]).spawn_guarded())
        .collect();
    for w in workers {
        wait_ok(w);
    }
    let total = (WORKERS * EVENTS) as f64;
    // Every record reached the queues: the writer took them all.
    let received = |body: &str| -> f64 {
        (1..=WORKERS)
            .filter_map(|id| {
                let name = format!("worker-{id}");
                metric(
                    body,
                    "mplog_events_received_total",
                    &[("process", &name), ("level", "info")],
                )
            })
            .sum()
    };
    let body = scrape_until(&addr, TIMEOUT, "every record received", |body| {
        received(body) == total
    });
    for url in [&syslog, &otlp] {
        let d = [("destination", url.as_str())];
        assert_eq!(metric(&body, "mplog_forward_up", &d), Some(0.0), "{body}");
        assert_eq!(metric(&body, "mplog_forwarded_total", &d), Some(0.0));
        let queued = metric(&body, "mplog_forward_queued", &d).expect("queued");
        assert!(queued <= QUEUE as f64, "queue over its bound: {queued}");
        let dropped = metric(&body, "mplog_forward_dropped_total", &d).expect("dropped");
        // All but what the queue holds and the batch the thread retries.
        assert!(
            dropped >= total - QUEUE as f64 - 512.0,
            "{url}: {dropped} dropped of {total}"
        );
    }
    let peak_mib = peak_rss_kib(sink.pid()) / 1024;

    let stopping = Instant::now();
    let stderr = sink.stop();
    let took = stopping.elapsed();
    // The drain time (1 s) and at most one export's timeout (5 s).
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    for url in [&syslog, &otlp] {
        let want = format!(
            "forwarded to {url}: 0 records, dropped {}",
            WORKERS * EVENTS
        );
        assert!(stderr.contains(&want), "no `{want}` in:\n{stderr}");
    }

    let all = assert_files_complete(&s.logdir(), WORKERS, EVENTS);
    for url in [&syslog, &otlp] {
        let down = all
            .iter()
            .filter(|l| l.contains(&format!("forward to {url}: the destination is down")))
            .count();
        assert_eq!(down, 1, "{url} reported down {down} times");
    }
    // The queues hold at most 2 × 1 000 records: 16 MiB measured, where
    // 180 000 records held in unbounded queues take 66 MiB.
    assert!(peak_mib < 40, "sink peak RSS {peak_mib} MiB");
    eprintln!("sink peak RSS {peak_mib} MiB, shutdown {took:?}");
}
