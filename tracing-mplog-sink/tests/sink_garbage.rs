//! Garbage on the socket (issue 6, item 3): every kind of bad input closes
//! its own connection with a WARN record naming the reason, while one good
//! connection keeps streaming through all of them and loses nothing; memory
//! stays bounded by the frame limit; an idle half-sent frame does not hold
//! up shutdown. (`sink_failures.rs` covers garbage from the first byte, a
//! truncated frame, an oversized frame and a missing hello.)
#![cfg(unix)]

mod support;

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use mplog_test_support::{assert_series, status_kib, wait_until};
use support::{
    Env, WAIT, connect, dropped, encoded, event, event_at, events, goodbye, hello, send, with_field,
};
use tracing_core::Level;
use tracing_mplog::wire::OwnedFrame;

/// One encoded frame with byte `at` (counted from the length prefix) set to
/// `value`.
fn patched(mut frame: Vec<u8>, at: usize, value: u8) -> Vec<u8> {
    frame[at] = value;
    frame
}

/// Bytes from a fixed-seed xorshift generator.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The connection was closed by the sink (end of stream or reset) within
/// a few seconds.
fn assert_closed(conn: &mut UnixStream, case: &str) {
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut buf = [0u8; 16];
    match conn.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("{case}: the sink did not close the connection: {other:?}"),
    }
}

#[test]
fn every_kind_of_garbage_closes_only_its_connection_with_a_reason() {
    // Offsets in a whole frame: 4 bytes of length, then the type byte.
    const HELLO_MAGIC: usize = 5;
    const HELLO_VERSION: usize = 9;
    const EVENT_LEVEL: usize = 4 + 1 + 8 + 8;
    const EVENT_TARGET_BYTES: usize = EVENT_LEVEL + 1 + 1 + 8 + 4;
    let event_with_field = encoded(OwnedFrame::Event(with_field(
        event_at(1, Level::INFO, "x"),
        "n",
        5,
    )));
    let tag_at = event_with_field.len() - 9; // tag, then the i64
    let with_hello = |pid: u32, bytes: Vec<u8>| {
        let mut out = hello(pid, 1, &format!("bad{pid}"));
        out.extend(bytes);
        out
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("random bytes (1)", random_bytes(1, 1), ""),
        ("random bytes (17)", random_bytes(2, 17), "before its hello"),
        (
            "random bytes (4096)",
            random_bytes(3, 4096),
            "before its hello",
        ),
        (
            "wrong magic",
            patched(hello(101, 1, "m"), HELLO_MAGIC, b'X'),
            "bad magic",
        ),
        (
            "wrong version",
            patched(hello(102, 1, "v"), HELLO_VERSION, 9),
            "unsupported protocol version 9",
        ),
        (
            "oversized length",
            with_hello(103, u32::MAX.to_le_bytes().to_vec()),
            "oversized frame",
        ),
        (
            "invalid UTF-8 in the target",
            with_hello(
                104,
                patched(event(1, Level::INFO, "x"), EVENT_TARGET_BYTES, 0xFF),
            ),
            "invalid UTF-8",
        ),
        (
            "unknown frame type",
            with_hello(105, patched(event(1, Level::INFO, "x"), 4, 0x77)),
            "unknown frame type 0x77",
        ),
        (
            "unknown level",
            with_hello(106, patched(event(1, Level::INFO, "x"), EVENT_LEVEL, 9)),
            "unknown level 9",
        ),
        (
            "unknown value tag",
            with_hello(107, patched(event_with_field.clone(), tag_at, 0x42)),
            "unknown value tag 0x42",
        ),
        (
            "unknown drop reason",
            with_hello(108, patched(dropped(3), 5, 9)),
            "unknown drop reason 9",
        ),
        (
            "a second hello",
            with_hello(109, hello(109, 1, "again")),
            "a second hello",
        ),
    ];

    let env = Env::new();
    let sink = env.start_consolidated("sink");
    let mut good = connect(&sink);
    send(&mut good, &hello(10, 1, "w1"));
    let mut sent = 0;
    for (i, (case, bytes, reason)) in cases.iter().enumerate() {
        send(&mut good, &events(1, sent + 1, sent + 5));
        sent += 5;
        let mut bad = connect(&sink);
        // The sink may close before it has read everything: that is fine.
        let _ = std::io::Write::write_all(&mut bad, bytes);
        // End of stream: input cut short (one random byte) is judged too.
        let _ = bad.shutdown(std::net::Shutdown::Write);
        assert_closed(&mut bad, case);
        wait_until(WAIT, case, || {
            env.lines_so_far("sink.log")
                .iter()
                .filter(|l| l.contains(" WARN ") && l.contains("clos"))
                .count()
                > i
        });
        let warns = env.lines_so_far("sink.log");
        let last = warns
            .iter()
            .filter(|l| l.contains(" WARN ") && l.contains("clos"))
            .nth(i);
        assert!(
            last.is_some_and(|l| l.contains(reason)),
            "{case}: the warning names the reason `{reason}`: {last:?}"
        );
    }
    send(&mut good, &events(1, sent + 1, sent + 5));
    sent += 5;
    send(&mut good, &goodbye(sent));
    drop(good);
    let report = sink.shutdown().expect("shutdown");
    let all = env.lines("sink.log");
    assert_series(&all, 1, sent);
    assert!(
        !all.iter().any(|l| l.contains(" x")),
        "nothing of a bad connection is written"
    );
    let w1: Vec<_> = report.processes.iter().filter(|p| p.pid == 10).collect();
    assert!(
        w1.len() == 1 && w1[0].clean && w1[0].received == sent,
        "{report}"
    );
    for p in report.processes.iter().filter(|p| p.pid > 100) {
        assert!(
            !p.clean && p.error.is_some(),
            "a bad connection is unclean with its error: {report}"
        );
    }
}

/// This process's resident memory in KiB (0 where `/proc` has none).
fn vm_rss_kib() -> u64 {
    status_kib(std::process::id(), "VmRSS").unwrap_or(0)
}

#[test]
fn length_claims_do_not_make_memory_grow_past_the_limit() {
    const CONNS: u32 = 64;
    let env = Env::new();
    let sink = env.start_consolidated("sink");
    let before = vm_rss_kib();
    let mut conns = Vec::new();
    for c in 0..CONNS {
        let mut conn = connect(&sink);
        let mut bytes = hello(1000 + c, 1, "claim");
        // Just under the 1 MiB limit, then a few bytes of the body only.
        bytes.extend(((1 << 20) - 1u32).to_le_bytes());
        bytes.extend([2, 0, 0, 0]);
        send(&mut conn, &bytes);
        conns.push(conn);
        // ~1 GiB claims: refused at once, nothing allocated.
        let mut huge = connect(&sink);
        let mut bytes = hello(2000 + c, 1, "huge");
        bytes.extend((1u32 << 30).to_le_bytes());
        let _ = std::io::Write::write_all(&mut huge, &bytes);
        assert_closed(&mut huge, "a 1 GiB claim");
    }
    std::thread::sleep(Duration::from_millis(200));
    let grown_mib = vm_rss_kib().saturating_sub(before) / 1024;
    // At most the limit per connection for bodies that really arrive; a
    // claim alone reserves nothing the kernel has to back.
    assert!(grown_mib < 64, "RSS grew by {grown_mib} MiB");
    let start = Instant::now();
    drop(sink); // shuts down: idle half-sent frames must not hold it up
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        start.elapsed()
    );
    drop(conns);
}
