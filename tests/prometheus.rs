//! The sink's `/metrics` as the tools operators run read it: a real
//! Prometheus (`tests/peers/prometheus.rs`) scrapes the `mplog-sink`
//! binary while real workers log, and its query API must sum exactly what
//! they sent; `promtool check metrics` lints the text format; `HEAD` and
//! the content types are checked on the wire.

#[path = "peers/prometheus.rs"]
mod prometheus;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use mplog_test_support::{RunningSink, SpawnGuarded, http_get, wait_ok};
use prometheus::{Prometheus, promtool_check_metrics};
use support::{Setup, sink_bin};

/// Starts `mplog-sink` on the test's socket with metrics on a free
/// loopback port; returns it and the metrics address.
fn start_sink(s: &Setup) -> (RunningSink, String) {
    let mut cmd = Command::new(sink_bin());
    cmd.arg(format!("--listen=unix:{}", s.socket().display()))
        .arg(format!("--logdir={}", s.logdir().display()))
        .arg("--metrics-listen=127.0.0.1:0");
    let sink = RunningSink::start(cmd);
    let addr = sink.metrics_addr();
    sink.wait_prefix("listening on unix:");
    (sink, addr)
}

/// One raw request: the answer's head (status line and headers) and body.
fn request(addr: &str, head: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "{head}Host: {addr}\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read the answer");
    let (h, b) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    (h.to_ascii_lowercase(), b.to_owned())
}

#[test]
fn a_real_prometheus_scrapes_openmetrics_and_sums_exactly_what_workers_sent() {
    let s = Setup::new();
    let (_sink, addr) = start_sink(&s);
    let Some(mut prom) = Prometheus::start(&[&addr]) else {
        return;
    };
    drop((
        wait_ok(s.worker(1, 25, &[]).spawn_guarded()),
        wait_ok(s.worker(2, 40, &[]).spawn_guarded()),
    ));
    let per_process = "sum by (process) (mplog_events_received_total)";
    prom.wait_until("summed both workers' events", |p| {
        let mut got: Vec<(String, f64)> = (p.query(per_process).into_iter())
            .map(|(m, v)| (m["process"].as_str().unwrap_or("").to_owned(), v))
            .filter(|(name, _)| name.starts_with("worker-"))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        got == [("worker-1".to_owned(), 25.0), ("worker-2".to_owned(), 40.0)]
    });
    // The scrape is healthy, and Prometheus was answered in OpenMetrics:
    // its metadata knows the counter by its family name (the text format
    // the sink serves other clients names it `mplog_events_received_total`).
    let targets = prom.api("/api/v1/targets").expect("targets");
    let active = targets["activeTargets"].as_array().expect("active targets");
    assert_eq!(active.len(), 1, "{targets}");
    assert_eq!(active[0]["health"], "up", "{targets}");
    assert_eq!(active[0]["lastError"], "", "{targets}");
    let meta = prom
        .api("/api/v1/metadata?metric=mplog_events_received")
        .expect("metadata");
    assert_eq!(
        meta["mplog_events_received"][0]["type"], "counter",
        "{meta}"
    );
    let clean = "mplog_process_state{state=\"clean\"} == 1";
    prom.wait_until("saw both workers end cleanly", |p| {
        p.query(clean).len() == 2
    });
}

#[test]
fn metrics_answer_head_declare_their_format_and_pass_promtool() {
    let s = Setup::new();
    let (_sink, addr) = start_sink(&s);
    drop(wait_ok(s.worker(1, 5, &[]).spawn_guarded()));

    // No Accept: the text format 0.0.4, which promtool lints clean.
    let (head, body) = request(&addr, "GET /metrics HTTP/1.1\r\n");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert!(!body.contains("# EOF"), "{body}");
    assert!(
        body.contains("# TYPE mplog_events_received_total counter"),
        "{body}"
    );
    if prometheus::missing().is_none() {
        let (ok, said) = promtool_check_metrics(&body);
        assert!(ok && said.trim().is_empty(), "promtool: {said}\n{body}");
    } else {
        prometheus::skip_unless_ci(&prometheus::missing().unwrap_or_default());
    }

    // Asked for OpenMetrics: OpenMetrics, declared so.
    let (head, body) = request(
        &addr,
        "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text; version=1.0.0\r\n",
    );
    assert!(
        head.contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(
        body.contains("# TYPE mplog_events_received counter"),
        "{body}"
    );

    // HEAD: the headers of GET, no body.
    let (head, body) = request(&addr, "HEAD /metrics HTTP/1.1\r\n");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert_eq!(body, "");

    // Another method, another path.
    let (head, _) = request(&addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n");
    assert!(
        head.starts_with("http/1.1 405") && head.contains("allow: get, head"),
        "{head}"
    );
    let (head, _) = request(&addr, "GET /other HTTP/1.1\r\n");
    assert!(head.starts_with("http/1.1 404"), "{head}");
    // The helpers of the other tests still read the body.
    assert!(http_get(&addr, "/metrics").contains("mplog_events_received_total"));
}
