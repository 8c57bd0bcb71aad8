//! Scale (issue 11): 1 000 concurrent TCP connections into one `mplog-sink`
//! process, acknowledged delivery on. Every event lands once, and the
//! sink's peak resident memory stays under 256 MiB with its thread per
//! connection. (1 000 `MpLayer`s in this process, each with its own
//! sender thread and connection, all open at once.)

mod support;

use std::time::Duration;

use mplog_test_support::{RunningSink, assert_series, peak_rss_kib, series};
use support::{Setup, sink_command};
use tracing_mplog::MpLayer;
use tracing_subscriber::prelude::*;

const CONNECTIONS: u64 = 1_000;
const EVENTS: u64 = 20;
const RSS_LIMIT_KIB: u64 = 256 * 1024;

#[cfg(target_os = "linux")]
#[test]
fn a_thousand_tcp_connections_lose_nothing_and_stay_small() {
    let s = Setup::new();
    let sink = RunningSink::start(sink_command("tcp://127.0.0.1:0", &s.logdir(), "none"));
    let endpoint: tracing_mplog::Endpoint = sink.endpoint("tcp").parse().expect("endpoint");
    let pid = sink.pid();

    let mut guards = Vec::new();
    let mut dispatchers = Vec::new();
    for id in 0..CONNECTIONS {
        let (layer, guard) = MpLayer::builder()
            .endpoint(endpoint.clone())
            .process_name(format!("conn-{id}"))
            .channel_capacity(64)
            .flush_timeout(Duration::from_secs(60))
            .build()
            .expect("layer");
        guards.push(guard);
        dispatchers.push(tracing::Dispatch::new(
            tracing_subscriber::registry().with(layer),
        ));
    }
    // Every connection logs, round after round, so all are open at once.
    for n in 1..=EVENTS {
        for (id, dispatch) in dispatchers.iter().enumerate() {
            tracing::dispatcher::with_default(dispatch, || tracing::info!("w{id} e{n}"));
        }
    }
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for chunk in guards.chunks(50) {
            scope.spawn(move || {
                for guard in chunk {
                    guard.flush().expect("every event acknowledged");
                }
            });
        }
    });
    eprintln!("flushed in {:?}", started.elapsed());
    let peak = peak_rss_kib(pid);
    drop(dispatchers);
    drop(guards);
    let stderr = sink.stop();

    let map = series(&s.log_lines("all.log"));
    for id in 0..CONNECTIONS {
        assert_series(&map, id, EVENTS);
    }
    eprintln!(
        "{CONNECTIONS} TCP connections x {EVENTS} events: all landed once; sink peak RSS {} MiB",
        peak / 1024
    );
    assert!(
        peak <= RSS_LIMIT_KIB,
        "sink peak RSS {peak} KiB over {RSS_LIMIT_KIB} KiB; its stderr:\n{stderr}"
    );
}
