//! Garbage sent to a running `mplog-sink` process, the daemon as deployed
//! (`sink_garbage.rs` covers every kind of garbage against the library in
//! the test's own process): each bad connection is closed alone with a
//! WARN record naming its process and the reason, events a connection sent
//! before its garbage are kept, a worker streaming meanwhile loses nothing,
//! the daemon's memory stays bounded by the frame limit, and it drains and
//! exits 0 afterwards.
#![cfg(unix)]

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use mplog_test_support::rss_kib;
use support::cli::Place;
use support::{event, events, hello, send_events};
use tracing::Level;

const GOOD_EVENTS: u64 = 2_000;

/// Sends `bytes` on a connection of its own, ends its write side and waits
/// until the daemon closes it (end of stream or reset, within 10 s).
fn send_garbage(socket: &Path, case: &str, bytes: &[u8]) {
    let mut conn = UnixStream::connect(socket).expect("connect");
    // The daemon may close before it has read everything: that is fine.
    let _ = conn.write_all(bytes);
    let _ = conn.shutdown(std::net::Shutdown::Write);
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    match conn.read(&mut [0u8; 16]) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("{case}: the daemon did not close the connection: {other:?}"),
    }
}

/// A hello of process `bad{pid}`, then `rest`.
fn after_hello(pid: u32, rest: &[u8]) -> Vec<u8> {
    let mut out = hello(pid, 1, &format!("bad{pid}"));
    out.extend_from_slice(rest);
    out
}

#[test]
fn a_running_daemon_closes_each_garbage_connection_alone_and_loses_no_good_event() {
    let place = Place::new();
    let sink = place.start_all_in_one("{level}|{process_name}|{msg}");
    let socket = place.path().join("run/sink.sock");
    let rss_before = rss_kib(sink.pid());

    // A worker streams through everything below.
    let endpoint = place.endpoint.clone();
    let good = std::thread::spawn(move || {
        send_events(&endpoint, "good", || {
            for n in 1..=GOOD_EVENTS {
                tracing::info!("good e{n}");
                if n % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
    });

    let half_event = event(1, Level::INFO, "never whole");
    let mut events_then_garbage = events(7, 1, 3);
    events_then_garbage.extend([5, 0, 0, 0, 0x99, 1, 2, 3, 4]);
    // (case, bytes, what its WARN record says)
    let cases = [
        (
            "an HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            format!("(peer pid {}, ", std::process::id()),
            "before its hello: oversized frame",
        ),
        (
            "a u32::MAX length",
            after_hello(201, &u32::MAX.to_le_bytes()),
            "closed the connection of bad201[201]: ".to_owned(),
            "oversized frame",
        ),
        (
            "half an event, then the end",
            after_hello(202, &half_event[..half_event.len() / 2]),
            "closed the connection of bad202[202]: ".to_owned(),
            "truncated frame",
        ),
        (
            "three events, then an unknown frame type",
            after_hello(203, &events_then_garbage),
            "closed the connection of bad203[203]: ".to_owned(),
            "unknown frame type 0x99",
        ),
        (
            "a second hello",
            after_hello(204, &hello(204, 1, "again")),
            "closed the connection of bad204[204]: ".to_owned(),
            "a second hello",
        ),
    ];
    for (case, bytes, _, _) in &cases {
        send_garbage(&socket, case, bytes);
    }

    // Length claims: 32 connections each declaring a body just under the
    // 1 MiB limit and sending 4 bytes of it, held open while measured.
    let claims: Vec<UnixStream> = (0..32u32)
        .map(|c| {
            let mut conn = UnixStream::connect(&socket).expect("connect");
            let mut bytes = hello(300 + c, 1, "claim");
            bytes.extend(((1u32 << 20) - 1).to_le_bytes());
            bytes.extend([2, 0, 0, 0]);
            conn.write_all(&bytes).expect("send a claim");
            conn
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let grown_mib = rss_kib(sink.pid()).saturating_sub(rss_before) / 1024;
    assert!(grown_mib < 64, "the daemon's RSS grew by {grown_mib} MiB");

    good.join().expect("the good worker");
    drop(claims);
    let stderr = sink.stop();
    assert!(!stderr.contains("panicked"), "{stderr}");

    let all = place.read_log("all.log");
    let good_seqs: Vec<u64> = all
        .lines()
        .filter_map(|l| l.strip_prefix("INFO|good|good e")?.parse().ok())
        .collect();
    assert_eq!(
        good_seqs,
        (1..=GOOD_EVENTS).collect::<Vec<_>>(),
        "every good event once, in order"
    );
    let kept: Vec<&str> = all.lines().filter(|l| l.starts_with("INFO|bad")).collect();
    assert_eq!(
        kept,
        [
            "INFO|bad203|w7 e1",
            "INFO|bad203|w7 e2",
            "INFO|bad203|w7 e3"
        ],
        "only the events sent before the garbage are written"
    );
    assert!(
        !all.contains("never whole"),
        "a partial frame is never written"
    );
    let warns: Vec<&str> = all.lines().filter(|l| l.starts_with("WARN|")).collect();
    for (case, _, who, reason) in &cases {
        let theirs: Vec<&&str> = warns.iter().filter(|l| l.contains(who.as_str())).collect();
        assert!(
            theirs.len() == 1 && theirs[0].contains(reason),
            "{case}: one WARN naming `{reason}`: {theirs:#?}"
        );
    }
}
