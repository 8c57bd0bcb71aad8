//! A `fork()` while other threads log heavily: the child's events arrive on
//! their own connection with the child's pid, and nothing deadlocks.
//! (Its own test binary: the global subscriber and the fork must not meet
//! other tests' threads.)

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mplog_test_support::wait_pid;
use support::{TestSink, collect_until, frames};
use tracing_mplog::MpLayer;
use tracing_mplog::wire::OwnedFrame;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

const CHILD_EVENTS: u64 = 100;

fn child_body() {
    let span = tracing::info_span!("child_span", role = "child");
    let _e = span.enter();
    for i in 0..CHILD_EVENTS {
        tracing::info!(i, "from the child");
    }
    drop(tracing_mplog::fork::after_fork_guard());
}

#[test]
fn forked_child_gets_fresh_state_while_threads_log() {
    let sink = TestSink::new();
    let rx = sink.serve();
    let (layer, guard) = MpLayer::builder()
        .endpoint(sink.endpoint())
        // The test sink only reads: no acknowledgements.
        .acknowledged(false)
        .process_name("forker")
        .channel_capacity(16)
        .build()
        .expect("build");
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(EnvFilter::new("info"))
            .with(layer),
    )
    .expect("global default");

    let stop = Arc::new(AtomicBool::new(false));
    let loggers: Vec<_> = (0..4)
        .map(|t| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let span = tracing::info_span!("busy", t);
                let _e = span.enter();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    tracing::info!(t, i, "parent thread");
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(30));

    // SAFETY: the child runs only `child_body` (logging, which this crate
    // makes fork-safe) and leaves with `_exit`.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let ok = std::panic::catch_unwind(child_body).is_ok();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }

    let status = wait_pid(
        child,
        Duration::from_secs(15),
        "the child to finish (else a deadlock after fork)",
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status}"
    );

    stop.store(true, Ordering::Relaxed);
    for l in loggers {
        l.join().expect("logger");
    }
    drop(guard);

    let seen = collect_until(&rx, Duration::from_secs(15), |s| {
        frames(s)
            .filter(|(_, f)| matches!(f, OwnedFrame::Goodbye(_)))
            .count()
            == 2
    });
    let child_pid = u32::try_from(child).expect("pid");
    let child_conn = frames(&seen)
        .find_map(|(c, f)| match f {
            OwnedFrame::Hello(h) if h.pid == child_pid => Some(c),
            _ => None,
        })
        .expect("a hello with the child's pid");
    let child_frames: Vec<_> = frames(&seen)
        .filter(|(c, _)| *c == child_conn)
        .map(|(_, f)| f)
        .collect();
    let child_events: Vec<_> = child_frames
        .iter()
        .filter_map(|f| match f {
            OwnedFrame::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(child_events.len() as u64, CHILD_EVENTS);
    for (k, e) in child_events.iter().enumerate() {
        assert_eq!(e.seq, k as u64 + 1);
        assert_eq!(e.message.as_deref(), Some("from the child"));
        assert_eq!(e.spans.len(), 1);
        assert_eq!(e.spans[0].name, "child_span");
        assert_eq!(
            e.thread_id,
            u64::from(child_pid),
            "the child's main thread id is its pid"
        );
    }
    assert!(matches!(
        child_frames.last(),
        Some(OwnedFrame::Goodbye(g)) if g.last_seq == CHILD_EVENTS
    ));
    // The parent's connection carries the parent's events only.
    let parent_events = frames(&seen)
        .filter(|(c, _)| *c != child_conn)
        .filter(|(_, f)| matches!(f, OwnedFrame::Event(e) if e.message.as_deref() == Some("from the child")))
        .count();
    assert_eq!(parent_events, 0);
    assert!(
        frames(&seen)
            .any(|(_, f)| matches!(f, OwnedFrame::Hello(h) if h.pid == std::process::id()))
    );
}
