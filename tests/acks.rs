//! Acknowledged delivery with real processes (on by default on every
//! transport): test workers log over loopback TCP or the Unix socket into
//! the `mplog-sink` binary, which is SIGKILLed mid-stream and restarted on
//! the same endpoint and log folder. Every event must be in the files (the
//! workers resend what was not acknowledged), and nothing the killed sink
//! wrote is written again: a sink killed in the middle of a flush is cut
//! back to before it by the next one (see the sink's `seen.rs`). The TCP
//! test, the older one, still allows 1 %; the Unix one, with three kills,
//! expects 0.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mplog_test_support::{
    Proc, RunningSink, SpawnGuarded, assert_series, series, wait_ok, wait_until,
};
use support::{Setup, file_sink, sink_command};

const WORKERS: u64 = 4;
const EVENTS: u64 = 20_000;

fn sink(s: &Setup, listen: &str) -> RunningSink {
    RunningSink::start(sink_command(listen, &s.logdir(), "none"))
}

/// How many lines of the consolidated file hold worker events.
fn written(s: &Setup) -> usize {
    s.log_lines_so_far("all.log")
        .iter()
        .filter(|l| l.contains(" w"))
        .count()
}

#[test]
fn a_sigkilled_sink_loses_nothing_in_ack_mode_and_duplicates_little() {
    let s = Setup::new();
    let first = sink(&s, "tcp://127.0.0.1:0");
    let endpoint = first.endpoint("tcp");
    let workers: Vec<Proc> = (0..WORKERS)
        .map(|id| {
            let mut cmd = s.worker(id, EVENTS, &["--sleep-us", "50"]);
            cmd.env("TRACING_MPLOG_ENDPOINT", &endpoint)
                // The restart must not count as an outage.
                .env("TRACING_MPLOG_OUTAGE_GRACE", "120s");
            cmd.spawn_guarded()
        })
        .collect();

    // Kill the sink once a good part, not all, of the events is written.
    wait_until(
        Duration::from_secs(60),
        "the first sink to write a fifth of the events",
        || written(&s) >= (WORKERS * EVENTS / 5) as usize,
    );
    let at_kill = written(&s);
    drop(first); // SIGKILL, then wait for it
    assert!(
        at_kill < (WORKERS * EVENTS) as usize,
        "the sink was killed mid-stream ({at_kill} lines written)"
    );
    std::thread::sleep(Duration::from_millis(200));
    let second = sink(&s, &endpoint);
    second.wait_prefix("listening on tcp://");
    for w in workers {
        wait_ok(w);
    }
    let stderr = second.stop();

    let map = series(&s.log_lines("all.log"));
    let mut duplicated = 0;
    for id in 0..WORKERS {
        let got = map.get(&id).cloned().unwrap_or_default();
        let mut seen: HashMap<u64, u32> = HashMap::new();
        for n in &got {
            *seen.entry(*n).or_default() += 1;
        }
        let missing: Vec<u64> = (1..=EVENTS).filter(|n| !seen.contains_key(n)).collect();
        assert!(
            missing.is_empty(),
            "worker {id}: {} events missing (first {:?}); second sink said:\n{stderr}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        assert!(
            seen.keys().all(|n| (1..=EVENTS).contains(n)),
            "worker {id}: only its own events"
        );
        duplicated += got.len() as u64 - EVENTS;
    }
    let total = WORKERS * EVENTS;
    eprintln!(
        "ack mode, sink SIGKILLed after {at_kill} lines: {total} events all present, {duplicated} duplicated"
    );
    assert!(
        duplicated * 100 <= total,
        "{duplicated} of {total} events written twice (more than 1 %)"
    );
}

/// A sink that welcomes acknowledged delivery and then never acknowledges:
/// the worker's window fills, its sender stops taking events, the channel
/// fills, and the outage grace applies as with any sink that takes nothing
/// — the worker finishes, says so, and is not frozen.
#[test]
fn a_sink_that_never_acknowledges_costs_the_grace_not_a_frozen_worker() {
    use std::io::{Read, Write};
    use tracing_mplog::wire::{Reply, VERSION, Welcome, capabilities};

    let s = Setup::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut head = [0u8; 4];
                if conn.read_exact(&mut head).is_err() {
                    return;
                }
                let mut hello = vec![0u8; u32::from_le_bytes(head) as usize];
                if conn.read_exact(&mut hello).is_err() {
                    return;
                }
                let mut welcome = Vec::new();
                Reply::Welcome(Welcome {
                    version: VERSION,
                    capabilities: capabilities::ACKED_DELIVERY,
                })
                .encode(&mut welcome);
                let _ = conn.write_all(&welcome);
                // Read everything, acknowledge nothing.
                let _ = std::io::copy(&mut conn, &mut std::io::sink());
            });
        }
    });
    // ~100 000 events of ~200 bytes: far more than the 8 MiB window.
    let started = Instant::now();
    let mut cmd = s.worker(0, 100_000, &[]);
    cmd.env("TRACING_MPLOG_ENDPOINT", format!("tcp://127.0.0.1:{port}"))
        .env("TRACING_MPLOG_OUTAGE_GRACE", "1s");
    let child = cmd.spawn_guarded().into_child();
    let out = child.wait_with_output().expect("worker");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let took = started.elapsed();
    assert!(out.status.success(), "worker failed: {stderr}");
    assert!(
        stderr.contains("unreachable") && stderr.contains("dropped"),
        "the outage is said on stderr: {stderr}"
    );
    // Grace (1 s) + flush timeout (5 s) + a loaded machine's slack.
    assert!(took < Duration::from_secs(60), "took {took:?}: {stderr}");
}

/// `unix:` with default settings: the hello asks for acknowledgements, the
/// sink agrees, every event lands once and the guard's flush returns once
/// they are acknowledged (a flush that timed out would say "gave up").
/// `TRACING_MPLOG_ACK=0` opts out and still delivers everything to a sink
/// that lives.
#[test]
fn acknowledged_delivery_over_a_unix_socket() {
    let s = Setup::new();
    let handle = s.sink().start().expect("sink");
    let workers: Vec<Proc> = (0..3)
        .map(|id| {
            let mut cmd = s.worker(id, 3_000, &[]);
            if id == 2 {
                cmd.env("TRACING_MPLOG_ACK", "0");
            }
            cmd.spawn_guarded()
        })
        .collect();
    for w in workers {
        let child = w.into_child();
        let out = child.wait_with_output().expect("worker");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("gave up"),
            "{stderr}"
        );
    }
    handle.shutdown().expect("shutdown");
    let map = series(&s.log_lines("all.log"));
    for id in 0..3 {
        assert_series(&map, id, 3_000);
    }
}

const CHAOS_WORKERS: u64 = 4;
const CHAOS_EVENTS: u64 = 40_000;

/// The chaos run on `unix:`, the default transport, with default
/// settings on both sides: four workers, and the sink SIGKILLed three times
/// mid-stream and restarted on the same socket and log folder. Nothing is
/// lost, and nothing is written twice, in the consolidated file or in the
/// workers' own files.
#[test]
fn three_sigkills_of_a_default_unix_sink_lose_nothing_and_duplicate_nothing() {
    let s = Setup::new();
    let start = || RunningSink::start(file_sink(&s.socket(), &s.logdir()));
    let mut sink = start();
    sink.wait_prefix("listening on unix:");
    let workers: Vec<Proc> = (0..CHAOS_WORKERS)
        .map(|id| {
            let mut cmd = s.worker(id, CHAOS_EVENTS, &["--sleep-us", "20"]);
            // The restarts must not count as an outage.
            cmd.env("TRACING_MPLOG_OUTAGE_GRACE", "120s");
            cmd.spawn_guarded()
        })
        .collect();
    let total = CHAOS_WORKERS * CHAOS_EVENTS;
    let mut kills = Vec::new();
    for share in [5, 35, 65] {
        let what = format!("the sink to write {share} % of the events");
        wait_until(Duration::from_secs(120), &what, || {
            written(&s) >= (total * share / 100) as usize
        });
        kills.push(written(&s));
        drop(sink); // SIGKILL, then wait for it
        std::thread::sleep(Duration::from_millis(100));
        sink = start();
        sink.wait_prefix("listening on unix:");
    }
    assert!(
        kills.iter().all(|&k| k < total as usize),
        "every kill was mid-stream: {kills:?}"
    );
    for w in workers {
        wait_ok(w);
    }
    let stderr = sink.stop();
    let mut duplicated = 0;
    for file in ["all.log".to_owned()]
        .into_iter()
        .chain((0..CHAOS_WORKERS).map(|id| format!("worker-{id}.log")))
    {
        let map = series(&s.log_lines(&file));
        for id in 0..CHAOS_WORKERS {
            if file != "all.log" && file != format!("worker-{id}.log") {
                continue;
            }
            let got = map.get(&id).cloned().unwrap_or_default();
            let mut seen: HashMap<u64, u32> = HashMap::new();
            for n in &got {
                *seen.entry(*n).or_default() += 1;
            }
            let missing = (1..=CHAOS_EVENTS).filter(|n| !seen.contains_key(n)).count();
            assert_eq!(
                missing, 0,
                "{file}: worker {id} lost events; last sink said:\n{stderr}"
            );
            let twice: Vec<u64> = (1..=CHAOS_EVENTS)
                .filter(|n| seen.get(n).is_some_and(|&c| c > 1))
                .collect();
            if let (Some(first), Some(last)) = (twice.first(), twice.last()) {
                eprintln!(
                    "{file}: worker {id}: {} written twice, seq {first}..={last}",
                    twice.len()
                );
            }
            duplicated += got.len() as u64 - CHAOS_EVENTS;
        }
    }
    // A kill in the middle of a flush: the next sink cut its files back.
    let cut_back = s
        .log_lines("all.log")
        .iter()
        .filter(|l| l.contains("killed in the middle of a flush"))
        .count();
    eprintln!(
        "unix, default settings, SIGKILLs after {kills:?} lines: lost 0, duplicated \
         {duplicated}, {cut_back} flush(es) cut back"
    );
    assert_eq!(
        duplicated, 0,
        "events written twice after the kills at {kills:?}"
    );
}
