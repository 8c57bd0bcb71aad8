//! The worker side end to end against a real Unix socket.

mod support;

use std::net::Shutdown;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{
    Seen, TestSink, collect_until, dropped, events, frames, has_goodbye, read_events, read_rest,
};
use tracing_mplog::wire::{DropReason, FrameReader, OwnedFrame, OwnedValue, WireError};
use tracing_mplog::{Backpressure, FlushError, FlushGuard, MpLayer};
use tracing_subscriber::layer::SubscriberExt;

const WAIT: Duration = Duration::from_secs(10);

fn subscriber(layer: MpLayer) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(layer)
}

/// A thread logging `steady` events `i` = 0 to `n - 1` through an `MpLayer`
/// (channel of 64) to `sink`, pausing 2 ms after each `i` that is a multiple
/// of `pause_every`.
fn steady_logger(
    sink: &TestSink,
    n: u64,
    pause_every: Option<u64>,
) -> (FlushGuard, JoinHandle<()>) {
    let (layer, guard) = sink.layer().channel_capacity(64).build().expect("build");
    let dispatch = tracing::Dispatch::new(subscriber(layer));
    let logger = std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..n {
                tracing::info!(i, "steady");
                if pause_every.is_some_and(|every| i % every == 0) {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
    });
    (guard, logger)
}

/// Lets the logger finish, drops its guard (flush, goodbye) and waits for
/// the goodbye on `rx`; the seqs of the first connection, `first`, then the
/// events seen must be 1 to `n`: every event exactly once, in order.
fn the_rest_arrives(
    rx: &mpsc::Receiver<Seen>,
    logger: JoinHandle<()>,
    guard: FlushGuard,
    mut first: Vec<u64>,
    n: u64,
) -> Vec<Seen> {
    logger.join().expect("logger");
    drop(guard);
    let seen = collect_until(rx, WAIT, has_goodbye);
    first.extend(events(&seen).iter().map(|e| e.seq));
    assert_eq!(
        first,
        (1..=n).collect::<Vec<_>>(),
        "every event exactly once, in order"
    );
    seen
}

#[test]
fn events_arrive_with_all_attributes_then_goodbye() {
    let sink = TestSink::new();
    let rx = sink.serve();
    let (layer, guard) = sink.layer().process_name("attrs").build().expect("build");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    tracing::subscriber::with_default(subscriber(layer), || {
        let span = tracing::info_span!("job", id = 3u64);
        let _e = span.enter();
        tracing::warn!(target: "app::x", user = -7i64, ok = true, "saved {}", "it");
    });
    drop(guard);
    let seen = collect_until(&rx, WAIT, |s| {
        s.iter().any(|x| matches!(x, Seen::Closed { .. }))
    });
    let all: Vec<_> = frames(&seen).map(|(_, f)| f.clone()).collect();
    assert_eq!(all.len(), 3, "{all:#?}");
    let OwnedFrame::Hello(h) = &all[0] else {
        panic!("hello first: {all:#?}")
    };
    assert_eq!(h.pid, std::process::id());
    assert_eq!(h.process_name, "attrs");
    assert!(!h.host.is_empty());
    let OwnedFrame::Event(e) = &all[1] else {
        panic!("event: {all:#?}")
    };
    assert_eq!(e.seq, 1);
    assert!(e.timestamp_ns >= before);
    assert_eq!(e.level, tracing::Level::WARN);
    assert_eq!(e.target, "app::x");
    assert_eq!(e.message.as_deref(), Some("saved it"));
    assert_eq!(e.file.as_deref(), Some(file!()));
    assert_eq!(e.module_path.as_deref(), Some(module_path!()));
    assert!(e.line.is_some());
    assert_eq!(
        e.thread_name.as_deref(),
        Some("events_arrive_with_all_attributes_then_goodbye")
    );
    assert_ne!(e.thread_id, 0);
    assert_eq!(e.fields[0].value, OwnedValue::I64(-7));
    assert_eq!(e.fields[1].value, OwnedValue::Bool(true));
    assert_eq!(e.spans.len(), 1);
    assert_eq!(e.spans[0].name, "job");
    assert_eq!(e.spans[0].fields[0].value, OwnedValue::U64(3));
    assert!(matches!(all[2], OwnedFrame::Goodbye(g) if g.last_seq == 1));
    assert!(matches!(
        seen.last(),
        Some(Seen::Closed { error: None, .. })
    ));
}

#[test]
fn connects_lazily_when_the_sink_comes_up_later() {
    let sink = TestSink::new();
    let (layer, guard) = sink.layer().build().expect("build without a sink");
    tracing::subscriber::with_default(subscriber(layer), || {
        for i in 0..3 {
            tracing::info!(i, "early");
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let rx = sink.serve();
    guard.flush().expect("flush once the sink is up");
    let seen = collect_until(&rx, WAIT, |s| events(s).len() == 3);
    let seqs: Vec<_> = events(&seen).iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert!(matches!(
        frames(&seen).next(),
        Some((_, OwnedFrame::Hello(_)))
    ));
}

#[test]
fn flush_returns_once_events_are_in_the_socket() {
    let sink = TestSink::new();
    let listener = sink.bind();
    let (layer, guard) = sink.layer().build().expect("build");
    tracing::subscriber::with_default(subscriber(layer), || {
        for i in 0..10 {
            tracing::info!(i, "before flush");
        }
    });
    guard.flush().expect("flush");
    // Nobody has read yet: everything must already sit in the socket.
    let (stream, _) = listener.accept().expect("accept");
    stream.set_nonblocking(true).expect("nonblocking");
    let (seqs, end) = read_rest(&mut FrameReader::new(stream));
    assert!(
        matches!(&end, Err(WireError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock),
        "{end:?}"
    );
    assert_eq!(seqs, (1..=10).collect::<Vec<u64>>());
}

#[test]
fn flush_times_out_and_counts_without_a_sink() {
    let sink = TestSink::new();
    let (layer, guard) = sink
        .layer()
        .flush_timeout(Duration::from_millis(150))
        .build()
        .expect("build");
    tracing::subscriber::with_default(subscriber(layer), || {
        for _ in 0..4 {
            tracing::info!("nowhere");
        }
    });
    let start = Instant::now();
    let err = guard.flush().expect_err("no sink");
    assert!(
        matches!(err, FlushError::TimedOut { undelivered: 4, .. }),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    let start = Instant::now();
    drop(guard); // prints the loss to stderr and returns
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn drop_newest_reports_the_exact_count() {
    let sink = TestSink::new();
    let (layer, guard) = sink
        .layer()
        .channel_capacity(4)
        .backpressure(Backpressure::DropNewest)
        .build()
        .expect("build");
    const N: u64 = 300;
    // No sink yet: the sender holds one batch, the channel fills, the rest
    // is dropped and counted.
    tracing::subscriber::with_default(subscriber(layer), || {
        for i in 0..N {
            tracing::info!(i, "burst");
        }
    });
    let rx = sink.serve();
    drop(guard);
    let seen = collect_until(&rx, WAIT, has_goodbye);
    let delivered = events(&seen).len() as u64;
    let dropped = dropped(&seen, DropReason::ChannelFull);
    assert!(dropped > 0, "nothing dropped");
    assert_eq!(delivered + dropped, N);
}

#[test]
fn block_with_grace_drops_after_the_grace_and_is_lossless_once_the_sink_is_back() {
    let sink = TestSink::new();
    let (layer, guard) = MpLayer::builder()
        .endpoint(sink.endpoint())
        // The test sink only reads: no acknowledgements.
        .acknowledged(false)
        // Room for every event logged after the flush: that phase never
        // waits, so a stall of a loaded machine cannot make it drop.
        .channel_capacity(64)
        .outage_grace(Duration::from_millis(300))
        .build()
        .expect("build");
    const N: u64 = 300;
    const AFTER: u64 = 50;
    let dispatch = tracing::Dispatch::new(subscriber(layer));
    // No sink: the first events fill the batch and the channel, one waits
    // out the grace, the rest are dropped at once and counted.
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..N {
            tracing::info!(i, "burst");
        }
    });
    let rx = sink.serve();
    guard
        .flush()
        .expect("the sink is back: everything queued is written");
    tracing::dispatcher::with_default(&dispatch, || {
        for i in N..N + AFTER {
            tracing::info!(i, "after");
        }
    });
    drop(guard);
    let seen = collect_until(&rx, WAIT, has_goodbye);
    let delivered = events(&seen);
    let dropped: u64 = frames(&seen)
        .filter_map(|(_, f)| match f {
            OwnedFrame::Dropped(d) if d.reason == DropReason::ChannelFull => Some(d.count),
            _ => None,
        })
        .sum();
    assert!(dropped > 0, "the outage dropped events");
    assert_eq!(delivered.len() as u64 + dropped, N + AFTER);
    let after = delivered
        .iter()
        .filter(|e| e.message.as_deref() == Some("after"))
        .count() as u64;
    assert_eq!(after, AFTER, "lossless again once the sink is back");
}

#[test]
fn block_for_waits_then_drops_and_counts_when_the_sink_stays_away() {
    let sink = TestSink::new();
    let (layer, guard) = sink
        .layer()
        .channel_capacity(4)
        .backpressure(Backpressure::BlockFor(Duration::from_millis(20)))
        .build()
        .expect("build");
    const N: u64 = 40;
    let start = Instant::now();
    tracing::subscriber::with_default(subscriber(layer), || {
        for i in 0..N {
            tracing::info!(i, "burst");
        }
    });
    let took = start.elapsed();
    // The channel and the sender's batch hold a few; each other event
    // waited its 20 ms and was dropped.
    assert!(
        took >= Duration::from_millis(20 * 20),
        "it waited: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "it did not wait forever: {took:?}"
    );
    let rx = sink.serve();
    drop(guard);
    let seen = collect_until(&rx, WAIT, has_goodbye);
    let delivered = events(&seen).len() as u64;
    let dropped = dropped(&seen, DropReason::ChannelFull);
    assert!(dropped >= 20, "dropped {dropped}");
    assert_eq!(delivered + dropped, N);
}

/// A target of 1 280 bytes (`0123456789abcdef` 80 times): an event's bulk
/// that cannot be cut (only its strings are). A constant, as a callsite's
/// target must be.
const LONG_TARGET: &str = {
    const BYTES: [u8; 1280] = {
        let hex = b"0123456789abcdef";
        let mut bytes = [0u8; 1280];
        let mut i = 0;
        while i < bytes.len() {
            bytes[i] = hex[i % hex.len()];
            i += 1;
        }
        bytes
    };
    match std::str::from_utf8(&BYTES) {
        Ok(target) => target,
        Err(_) => panic!("ASCII is UTF-8"),
    }
};

#[test]
fn oversized_events_are_truncated_and_what_cannot_be_cut_is_reported() {
    let sink = TestSink::new();
    let rx = sink.serve();
    let (layer, guard) = sink.layer().max_frame_size(1024).build().expect("build");
    tracing::subscriber::with_default(subscriber(layer), || {
        tracing::info!(big = "x".repeat(2000).as_str(), "too big");
        tracing::info!(target: LONG_TARGET, "no text to cut");
        tracing::info!("small");
    });
    drop(guard);
    let seen = collect_until(&rx, WAIT, has_goodbye);
    let events = events(&seen);
    assert_eq!(events.len(), 2, "the truncated one and the small one");
    let big = events[0];
    let marker = big.message.as_deref().expect("message");
    assert!(marker.starts_with("too big… [truncated "), "{marker}");
    let Some(OwnedValue::Str(kept)) = big.fields.first().map(|f| &f.value) else {
        panic!("the big field is a string: {big:?}")
    };
    assert!(kept.len() < 1024 && kept.chars().all(|c| c == 'x'));
    assert_eq!(events[1].message.as_deref(), Some("small"));
    assert!(frames(&seen).any(|(_, f)| matches!(
        f,
        OwnedFrame::Dropped(d) if d.reason == DropReason::Oversized && d.count == 1
    )));
    // This test sink reads a version-1 hello and agreed to nothing: no
    // truncation report (it would not know reason 3).
    assert!(!frames(&seen).any(|(_, f)| matches!(
        f,
        OwnedFrame::Dropped(d) if d.reason == DropReason::Truncated
    )));
}

#[test]
fn reconnects_after_a_graceful_sink_restart_without_loss() {
    const N: u64 = 3000;
    let sink = TestSink::new();
    let listener = sink.bind();
    let (guard, logger) = steady_logger(&sink, N, None);

    // First sink: read a few hundred events, then shut down gracefully:
    // stop accepting, stop the worker's writes, read what is queued.
    let (stream, _) = listener.accept().expect("accept");
    drop(listener);
    support::remove(&sink.path);
    let mut reader = FrameReader::new(stream.try_clone().expect("clone"));
    let (mut first, others) = read_events(&mut reader, 300);
    assert!(
        others.iter().all(|f| matches!(f, OwnedFrame::Hello(_))),
        "{others:?}"
    );
    let mut hellos = others.len();
    assert!(!logger.is_finished(), "worker finished before the restart");
    stream.shutdown(Shutdown::Read).expect("shutdown");
    let (rest, end) = read_rest(&mut reader);
    if let Err(e) = end {
        // A partial frame: discarded.
        assert!(support::is_eof(&e), "{e}");
    }
    first.extend(rest);

    // Second sink at the same path.
    std::thread::sleep(Duration::from_millis(30));
    let seen = the_rest_arrives(&sink.serve(), logger, guard, first, N);
    hellos += frames(&seen)
        .filter(|(_, f)| matches!(f, OwnedFrame::Hello(_)))
        .count();
    assert_eq!(hellos, 2, "hello on each connection");
}

#[test]
fn leaves_at_a_frame_boundary_when_the_sink_closes_its_side() {
    // A sink that only shuts down its write side (as a sink on a platform
    // where SHUT_RD does not stop the peer would) and reads on: the worker
    // must notice, close at a frame boundary, and send the rest to the next
    // connection. Nothing lost, nothing twice, no partial frame.
    const N: u64 = 2000;
    let sink = TestSink::new();
    let listener = sink.bind();
    let (guard, logger) = steady_logger(&sink, N, Some(100));
    let (stream, _) = listener.accept().expect("accept");
    // Without the worker's check this test would wait forever: fail instead.
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = FrameReader::new(stream.try_clone().expect("clone"));
    let (mut first, _) = read_events(&mut reader, 200);
    stream.shutdown(Shutdown::Write).expect("shutdown");
    let asked = Instant::now();
    let (rest, end) = read_rest(&mut reader);
    if let Err(e) = end {
        panic!("the worker must close at a frame boundary: {e}");
    }
    first.extend(rest);
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the worker left within a batch or an idle check"
    );
    the_rest_arrives(&support::serve(listener), logger, guard, first, N);
}

#[test]
fn an_idle_worker_leaves_when_asked() {
    let sink = TestSink::new();
    let listener = sink.bind();
    let (layer, guard) = sink.layer().build().expect("build");
    let dispatch = tracing::Dispatch::new(subscriber(layer));
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("one"));
    guard.flush().expect("flushed");
    let (stream, _) = listener.accept().expect("accept");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = FrameReader::new(stream.try_clone().expect("clone"));
    let mut got = 0;
    while got < 2 {
        reader
            .read_frame()
            .expect("frame")
            .expect("hello and one event");
        got += 1;
    }
    stream.shutdown(Shutdown::Write).expect("shutdown");
    let asked = Instant::now();
    assert!(
        matches!(reader.read_frame(), Ok(None)),
        "clean end of stream"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "the idle sender noticed within its check interval"
    );
    drop(guard);
}
