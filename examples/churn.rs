//! A sink that outlives a great many short connections: does it stay as
//! fast and as small as it started? An in-process [`Sink`] (one
//! consolidated file) takes rounds of short connections from a few
//! threads, each connection a whole worker life on the wire (hello, one
//! event, goodbye, close). Each round prints its connections per second,
//! the process's RSS and the processes the sink still lists.
//!
//! ```text
//! cargo run --release --example churn -- [ROUNDS [PER_ROUND [THREADS [RETENTION_SECS]]]]
//! ```
//!
//! Defaults: 6 rounds of 40 000 connections from 4 threads, metrics
//! retention 0 s (an ended process may be let go of at once; with the
//! default 10 min it is kept that long, for the metrics). The sink keeps
//! [`DEFAULT_MAX_ENDED_PROCESSES`] ended processes one by one; the figures
//! are in `docs/reliability.md` ("A sink that runs for months").

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use tracing::Level;
use tracing_mplog::Endpoint;
use tracing_mplog::wire::{Goodbye, OwnedEvent, OwnedFrame, OwnedHello};
use tracing_mplog_sink::Sink;
use tracing_mplog_sink::sink::DEFAULT_MAX_ENDED_PROCESSES;

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| panic!("argument {n}: a number, not {a:?}"))
        })
        .unwrap_or(default)
}

/// One worker's life on the wire: hello (version 1: no acknowledgements),
/// one event, goodbye.
fn life(pid: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    OwnedFrame::Hello(OwnedHello {
        version: 1,
        capabilities: 0,
        pid,
        start_time_ns: 1,
        process_name: "churn".into(),
        host: "churnhost".into(),
        token: String::new(),
    })
    .encode(&mut bytes);
    OwnedFrame::Event(OwnedEvent {
        seq: 1,
        timestamp_ns: 1_700_000_000_000_000_000,
        level: Level::INFO,
        target: "churn".into(),
        module_path: None,
        file: None,
        line: None,
        thread_id: 1,
        thread_name: None,
        message: Some(format!("process {pid} done")),
        fields: vec![],
        spans: vec![],
    })
    .encode(&mut bytes);
    OwnedFrame::Goodbye(Goodbye { last_seq: 1 }).encode(&mut bytes);
    bytes
}

/// Connects, sends one life, closes its side and waits until the sink
/// closes the connection (it has read everything).
fn connect_once(socket: &Path, pid: u32) -> std::io::Result<()> {
    let mut conn = UnixStream::connect(socket)?;
    conn.write_all(&life(pid))?;
    conn.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest)?;
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds = arg(1, 6);
    let per_round = u32::try_from(arg(2, 40_000))?;
    let threads = u32::try_from(arg(3, 4))?.max(1);
    let retention = Duration::from_secs(arg(4, 0));
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("churn.sock");
    let sink = Sink::builder()
        .listen(Endpoint::Unix(socket.clone()))
        .logdir(dir.path().join("logs"))
        .name("all")
        .consolidate(true)
        .process_key([])
        .metrics_retention(retention)
        .max_bytes(64 << 20)
        .backup_count(1)
        .start()?;
    println!(
        "{rounds} rounds of {per_round} connections from {threads} threads; \
         metrics retention {retention:?}; max_ended_processes {DEFAULT_MAX_ENDED_PROCESSES}"
    );
    println!("{:>5} {:>12} {:>10}", "round", "conns/s", "RSS KiB");
    let mut next_pid = 1_000_000u32;
    for round in 1..=rounds {
        let start = Instant::now();
        let each = per_round / threads;
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let socket = socket.clone();
                let first = next_pid + t * each;
                std::thread::spawn(move || {
                    (first..first + each).try_for_each(|pid| connect_once(&socket, pid))
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| "a connecting thread panicked")??;
        }
        next_pid += each * threads;
        let rate = f64::from(each * threads) / start.elapsed().as_secs_f64();
        println!("{round:>5} {rate:>12.0} {:>10}", rss_kib());
    }
    let report = sink.shutdown()?;
    println!(
        "report: {} processes listed, {} forgotten (received {})",
        report.processes.len(),
        report.forgotten.processes,
        report.forgotten.received
    );
    Ok(())
}
