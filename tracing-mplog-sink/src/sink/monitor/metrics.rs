//! `GET /metrics` (and `HEAD`): OpenMetrics text encoded by the official
//! `prometheus-client` crate from the writer's snapshot and the atomics,
//! or the text format 0.0.4 made from it for clients that do not ask for
//! OpenMetrics (see [`super::exposition`]); served by `tiny_http` on its
//! own thread.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::UNIX_EPOCH;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::exposition::Exposition;
use super::{LEVELS, Monitor, Snapshot, TRANSPORTS};
use crate::sink::{Shared, SinkError};

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn counter(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, Counter> {
    let f = Family::<Labels, Counter>::default();
    registry.register(name, help, f.clone());
    f
}

fn gauge(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    registry.register(name, help, f.clone());
    f
}

/// The metrics, in the OpenMetrics text format.
pub(crate) fn render(shared: &Shared) -> String {
    let monitor: &Monitor = &shared.monitor;
    let snap = monitor.snapshot();
    let mut r = Registry::default();
    processes(&mut r, monitor, &snap);
    connections(&mut r, shared, &snap);
    files(&mut r, shared, &snap);
    alerts(&mut r, monitor);
    forwards(&mut r, monitor);
    tail(&mut r, shared);
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut text, &r);
    text
}

/// Per process: events by level, drops by reason, last event, state.
fn processes(r: &mut Registry, monitor: &Monitor, snap: &Snapshot) {
    let events = counter(
        r,
        "mplog_events_received",
        "Events received, by process and level",
    );
    let dropped = counter(
        r,
        "mplog_events_dropped",
        "Events a worker reported dropped (reason channel_full or oversized) or cut to fit the frame limit and delivered (reason truncated)",
    );
    let last = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    r.register(
        "mplog_process_last_event_timestamp_seconds",
        "When the sink last took an event of the process (Unix time)",
        last.clone(),
    );
    let state = gauge(
        r,
        "mplog_process_state",
        "1 for the process's state: connected, clean (ended with a goodbye) or unclean",
    );
    for p in snap.processes.iter().filter(|p| !monitor.expired(p)) {
        let pid = p.pid.to_string();
        let who = [
            ("process", p.name.as_str()),
            ("pid", pid.as_str()),
            ("host", p.counts.host.as_str()),
        ];
        for (i, level) in LEVELS.iter().enumerate() {
            let l = level.as_str().to_ascii_lowercase();
            let mut set = labels(&who);
            set.push(("level".into(), l));
            events.get_or_create(&set).inc_by(p.counts.levels[i]);
        }
        for (i, reason) in ["channel_full", "oversized", "truncated"]
            .iter()
            .enumerate()
        {
            let mut set = labels(&who);
            set.push(("reason".into(), (*reason).to_owned()));
            dropped.get_or_create(&set).inc_by(p.counts.dropped[i]);
        }
        if let Some(t) = p.counts.last_event {
            let secs = t
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            last.get_or_create(&labels(&who)).set(secs);
        }
        let s = if p.counts.open > 0 {
            "connected"
        } else if p.clean {
            "clean"
        } else {
            "unclean"
        };
        let mut set = labels(&who);
        set.push(("state".into(), s.into()));
        state.get_or_create(&set).set(1);
    }
}

/// Connections by transport, disconnects, refusals.
fn connections(r: &mut Registry, shared: &Shared, snap: &Snapshot) {
    let monitor: &Monitor = &shared.monitor;
    let active = gauge(
        r,
        "mplog_connections_active",
        "Open connections, by transport",
    );
    let total = counter(r, "mplog_connections", "Accepted connections, by transport");
    for (i, t) in TRANSPORTS.iter().enumerate() {
        let set = labels(&[("transport", t)]);
        let open = monitor.conns[i][0].load(Ordering::Relaxed);
        active
            .get_or_create(&set)
            .set(i64::try_from(open).unwrap_or(i64::MAX));
        total
            .get_or_create(&set)
            .inc_by(monitor.conns[i][1].load(Ordering::Relaxed));
    }
    let disconnects = counter(
        r,
        "mplog_disconnects",
        "Ended connections that had said hello",
    );
    for (i, clean) in ["false", "true"].iter().enumerate() {
        disconnects
            .get_or_create(&labels(&[("clean", clean)]))
            .inc_by(snap.disconnects[i]);
    }
    counter(
        r,
        "mplog_processes_forgotten",
        "Ended processes no longer listed one by one (beyond max_ended_processes)",
    )
    .get_or_create(&labels(&[]))
    .inc_by(snap.forgotten);
    let rejected = counter(
        r,
        "mplog_connections_rejected",
        "Refused connections, by reason",
    );
    let rj = shared.rejects.snapshot();
    for (reason, n) in [
        ("peer_uid", rj.peer_uid),
        ("too_many", rj.too_many),
        ("tls", rj.tls),
        ("token", rj.token),
        ("hello", rj.hello),
    ] {
        rejected
            .get_or_create(&labels(&[("reason", reason)]))
            .inc_by(n);
    }
}

/// Open files and descriptors, and per file lines, bytes, rotations, errors.
fn files(r: &mut Registry, shared: &Shared, snap: &Snapshot) {
    let fds = &shared.fds;
    let open_files = gauge(
        r,
        "mplog_open_files",
        "Log files open now: per-key files (at most max-open-files) plus the consolidated file",
    );
    let consolidated = u64::from(shared.lines.router.consolidated().is_some());
    open_files.get_or_create(&Vec::new()).set(
        i64::try_from(fds.open_files.load(Ordering::Relaxed) + consolidated).unwrap_or(i64::MAX),
    );
    counter(
        r,
        "mplog_file_reopens",
        "Per-key files reopened after being closed to make room for others",
    )
    .get_or_create(&Vec::new())
    .inc_by(fds.reopens.load(Ordering::Relaxed));
    counter(
        r,
        "mplog_descriptor_shortages",
        "Times the sink was short of descriptors (connections left waiting in the backlog, or a descriptor refused)",
    )
    .get_or_create(&Vec::new())
    .inc_by(fds.shortages.load(Ordering::Relaxed));
    let lines = counter(r, "mplog_file_lines", "Lines written, by file");
    let bytes = counter(r, "mplog_file_bytes", "Bytes written, by file");
    let rotations = counter(r, "mplog_rotations", "Rotations, by file");
    let errors = counter(r, "mplog_write_errors", "Failed writes, by file");
    for f in &snap.files {
        let set = labels(&[("file", f.name.as_str())]);
        lines.get_or_create(&set).inc_by(f.lines);
        bytes.get_or_create(&set).inc_by(f.bytes);
        rotations.get_or_create(&set).inc_by(f.rotations);
        errors.get_or_create(&set).inc_by(f.write_errors);
    }
}

/// Alert rules: firings and failed actions.
fn alerts(r: &mut Registry, monitor: &Monitor) {
    let fired = counter(r, "mplog_alerts_fired", "Alert firings, by rule");
    let failures = counter(
        r,
        "mplog_alert_action_failures",
        "Failed alert actions, by rule",
    );
    for (c, n) in monitor.rules.iter().zip(&monitor.alerts) {
        let set = labels(&[("alert", c.rule.name.as_str())]);
        fired
            .get_or_create(&set)
            .inc_by(n.fired.load(Ordering::Relaxed));
        failures
            .get_or_create(&set)
            .inc_by(n.failures.load(Ordering::Relaxed));
    }
}

/// Forwarding destinations: forwarded, dropped, queued, up.
fn forwards(r: &mut Registry, monitor: &Monitor) {
    let forwarded = counter(
        r,
        "mplog_forwarded",
        "Records a forwarding destination took",
    );
    let fwd_dropped = counter(
        r,
        "mplog_forward_dropped",
        "Records dropped for a forwarding destination (queue full while slow or down, refused, or left at shutdown)",
    );
    let queued = gauge(
        r,
        "mplog_forward_queued",
        "Records waiting in a forwarding destination's queue",
    );
    let up = gauge(
        r,
        "mplog_forward_up",
        "1 while a forwarding destination takes records, 0 while it is down",
    );
    for (url, stats) in &monitor.forwards {
        let set = labels(&[("destination", url.as_str())]);
        forwarded
            .get_or_create(&set)
            .inc_by(stats.forwarded.load(Ordering::Relaxed));
        fwd_dropped
            .get_or_create(&set)
            .inc_by(stats.dropped.load(Ordering::Relaxed));
        let n = stats.queued.load(Ordering::Relaxed);
        queued
            .get_or_create(&set)
            .set(i64::try_from(n).unwrap_or(i64::MAX));
        up.get_or_create(&set)
            .set(i64::from(!stats.down.load(Ordering::Relaxed)));
    }
}

/// The answer to one request: the metrics for `GET` and `HEAD /metrics`
/// (tiny_http leaves out the body of a `HEAD` answer), in the format the
/// client's `Accept` prefers; 405 for another method, 404 elsewhere.
fn answer(
    shared: &Shared,
    request: &tiny_http::Request,
) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    use tiny_http::{Header, Method, Response};
    let header = |name: &str, value: &str| Header::from_bytes(name.as_bytes(), value.as_bytes());
    if request.url().split('?').next() != Some("/metrics") {
        return Response::from_string("only /metrics is served here\n").with_status_code(404);
    }
    if !matches!(request.method(), Method::Get | Method::Head) {
        let r = Response::from_string("GET or HEAD\n").with_status_code(405);
        return match header("Allow", "GET, HEAD") {
            Ok(h) => r.with_header(h),
            Err(()) => r,
        };
    }
    let accept = (request.headers().iter())
        .find(|h| h.field.equiv("Accept"))
        .map(|h| h.value.as_str());
    let format = Exposition::negotiate(accept);
    let mut r = Response::from_string(format.body(render(shared)));
    let headers = [
        header("Content-Type", format.content_type()),
        header("Vary", "Accept"),
    ];
    for h in headers.into_iter().flatten() {
        r = r.with_header(h);
    }
    r
}

/// The live tail's followers and the lines dropped for slow ones.
fn tail(r: &mut Registry, shared: &Shared) {
    let Some((tail, _)) = &shared.lines.tail else {
        return;
    };
    let followers = gauge(
        r,
        "mplog_tail_followers",
        "Live tails following the sink now",
    );
    followers
        .get_or_create(&Vec::new())
        .set(i64::try_from(tail.followers()).unwrap_or(i64::MAX));
    let dropped = counter(
        r,
        "mplog_tail_dropped",
        "Lines dropped for live tails that did not keep up",
    );
    dropped
        .get_or_create(&Vec::new())
        .inc_by(tail.dropped.load(Ordering::Relaxed));
}

/// Wakes the HTTP thread at shutdown.
pub(crate) struct Unblock(Arc<tiny_http::Server>);

impl Unblock {
    pub(crate) fn unblock(&self) {
        self.0.unblock();
    }
}

impl std::fmt::Debug for Unblock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unblock")
    }
}

/// Binds `addr` and serves `/metrics` until the monitor stops (and
/// [`tiny_http::Server::unblock`] wakes the thread).
pub(crate) fn serve(
    shared: &Arc<Shared>,
    addr: SocketAddr,
) -> Result<(JoinHandle<()>, SocketAddr, Unblock), SinkError> {
    let server = tiny_http::Server::http(addr).map_err(|e| SinkError::Io {
        context: "cannot listen for metrics on",
        path: addr.to_string().into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    let server = Arc::new(server);
    let for_thread = Arc::clone(&server);
    let shared = Arc::clone(shared);
    let handle = thread::Builder::new()
        .name("mplog-metrics".into())
        .spawn(move || {
            let server = for_thread;
            while !shared.monitor.stop.load(Ordering::Acquire) {
                // Err: a failed accept, or the unblock at shutdown.
                let Ok(request) = server.recv() else {
                    continue;
                };
                if request.url().split('?').next() == Some("/tail") {
                    super::follow::spawn(&shared, request);
                    continue;
                }
                let response = answer(&shared, &request);
                // A client that left only loses its answer.
                let _ = request.respond(response);
            }
        })
        .map_err(|source| SinkError::Thread {
            thread: "metrics",
            source,
        })?;
    Ok((handle, bound, Unblock(server)))
}
