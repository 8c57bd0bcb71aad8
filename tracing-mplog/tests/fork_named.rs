//! `fork::after_fork_guard_named`: a forked child reports its own name, a
//! child that logged before renaming sends those events under the parent's
//! name, and a grandchild inherits the child's name. Real forks, a real
//! socket. (Its own test binary: it installs the global subscriber.)

mod support;

use std::time::Duration;

use mplog_test_support::wait_pid;
use support::{Seen, TestSink, collect_until, frames};
use tracing_mplog::MpLayer;
use tracing_mplog::fork::{ForkSafeExt, after_fork_guard, after_fork_guard_named};
use tracing_mplog::wire::OwnedFrame;
use tracing_subscriber::layer::SubscriberExt;

/// Forks; the child runs `body` and `_exit`s (1 if it panicked).
fn fork_child(body: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the child only logs through tracing-mplog and leaves with
    // `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_ok();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    pid
}

/// Waits (bounded) for a child and asserts it exited 0; kills it on timeout.
fn reap(pid: libc::pid_t) {
    let status = wait_pid(
        pid,
        Duration::from_secs(30),
        &format!("child {pid} to finish"),
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child {pid} status {status}"
    );
}

/// Per connection of `pid`: its hello's name and its events' messages, and
/// whether it ended with a goodbye.
fn connections(seen: &[Seen], pid: libc::pid_t) -> Vec<(String, Vec<String>, bool)> {
    let pid = u32::try_from(pid).expect("pid");
    let conns: Vec<(usize, String)> = frames(seen)
        .filter_map(|(c, f)| match f {
            OwnedFrame::Hello(h) if h.pid == pid => Some((c, h.process_name.clone())),
            _ => None,
        })
        .collect();
    conns
        .into_iter()
        .map(|(conn, name)| {
            let mine: Vec<_> = frames(seen).filter(|(c, _)| *c == conn).collect();
            let events = mine
                .iter()
                .filter_map(|(_, f)| match f {
                    OwnedFrame::Event(e) => e.message.clone(),
                    _ => None,
                })
                .collect();
            let goodbye = matches!(mine.last(), Some((_, OwnedFrame::Goodbye(_))));
            (name, events, goodbye)
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn forked_children_take_their_own_names() {
    let sink = TestSink::new();
    let rx = sink.serve();
    let (layer, guard) = MpLayer::builder()
        .endpoint(sink.endpoint())
        // The test sink only reads: no acknowledgements.
        .acknowledged(false)
        .process_name("parent")
        .build()
        .expect("build");
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer).fork_safe())
        .expect("global default");
    tracing::info!("parent before");

    // Renamed before logging: everything under the new name.
    let a = fork_child(|| {
        let guard = after_fork_guard_named("child-a");
        tracing::info!("a 1");
        tracing::info!("a 2");
        drop(guard);
    });
    // Logged first, then renamed: the early events under the parent's name.
    let b = fork_child(|| {
        tracing::info!("b early");
        let guard = after_fork_guard_named("child-b");
        tracing::info!("b late");
        drop(guard);
    });
    // A renamed child's own child inherits its name.
    let c = fork_child(|| {
        let guard = after_fork_guard_named("child-c");
        tracing::info!("c");
        let grandchild = fork_child(|| {
            tracing::info!("grandchild");
            drop(after_fork_guard());
        });
        reap(grandchild);
        // Tell the test the grandchild's pid.
        tracing::info!("grandchild pid {grandchild}");
        drop(guard);
    });
    for pid in [a, b, c] {
        reap(pid);
    }
    drop(guard);

    // Goodbyes: parent, a, b twice, c, grandchild.
    let seen = collect_until(&rx, Duration::from_secs(20), |s| {
        frames(s)
            .filter(|(_, f)| matches!(f, OwnedFrame::Goodbye(_)))
            .count()
            == 6
    });
    assert_eq!(
        connections(&seen, a),
        vec![("child-a".to_owned(), strings(&["a 1", "a 2"]), true)]
    );
    // Two connections whose hellos reach the test's reader threads in
    // either order: compared by name.
    let mut b_conns = connections(&seen, b);
    b_conns.sort();
    assert_eq!(
        b_conns,
        vec![
            ("child-b".to_owned(), strings(&["b late"]), true),
            ("parent".to_owned(), strings(&["b early"]), true),
        ]
    );
    let c_conns = connections(&seen, c);
    assert_eq!(c_conns.len(), 1);
    assert_eq!(c_conns[0].0, "child-c");
    let grandchild: libc::pid_t = c_conns[0].1[1]
        .strip_prefix("grandchild pid ")
        .and_then(|p| p.parse().ok())
        .expect("the grandchild's pid");
    assert_eq!(
        connections(&seen, grandchild),
        vec![("child-c".to_owned(), strings(&["grandchild"]), true)]
    );
    let parent = i32::try_from(std::process::id()).expect("pid");
    assert_eq!(
        connections(&seen, parent),
        vec![("parent".to_owned(), strings(&["parent before"]), true)]
    );
}
