//! The single-process baselines and the physical floor.

use std::error::Error;
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use tracing::Dispatch;
use tracing_mplog::wire::{OwnedEvent, OwnedFrame};
use tracing_mplog_sink::RotatingFile;
use tracing_mplog_sink::format::LevelFormatter;
use tracing_subscriber::prelude::*;

use crate::common::{self, Args, DATEFMT, MAX_BYTES, Outcome, PAD, TEMPLATE};

/// N threads log M events each under `dispatch`; returns the mean wall
/// time and CPU time per event of the logging threads, in ns.
fn log_from_threads(dispatch: &Dispatch, args: &Args) -> Result<(f64, f64), Box<dyn Error>> {
    let barrier = Barrier::new(args.workers);
    let (wall, cpu) = thread::scope(|s| {
        let handles: Vec<_> = (0..args.workers)
            .map(|w| {
                let barrier = &barrier;
                s.spawn(move || {
                    tracing::dispatcher::with_default(dispatch, || {
                        barrier.wait();
                        let start = Instant::now();
                        let cpu = common::thread_cpu_ns();
                        for i in 0..args.events {
                            tracing::info!("worker {w} event {i} {PAD}");
                        }
                        (
                            start.elapsed().as_nanos() as f64,
                            common::thread_cpu_ns() - cpu,
                        )
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or((f64::NAN, f64::NAN)))
            .fold((0.0, 0.0), |(w, c), (dw, dc)| (w + dw, c + dc))
    });
    let n = args.workers as f64 * args.events as f64;
    Ok((wall / n, cpu / n))
}

/// fmt + tracing_appender::non_blocking (lossy off) + rolling file.
pub(crate) fn baseline_a(args: &Args) -> Result<Outcome, Box<dyn Error>> {
    let appender = tracing_appender::rolling::never(&args.dir, "baseline_a.log");
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(appender);
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer),
        ),
    );
    let start = Instant::now();
    let (caller_ns, caller_cpu_ns) = log_from_threads(&dispatch, args)?;
    drop(dispatch);
    drop(guard); // flushes the worker thread
    fs::File::open(args.dir.join("baseline_a.log"))?.sync_all()?;
    let seconds = start.elapsed().as_secs_f64();
    let files = common::files_with_prefix(&args.dir, "baseline_a.log")?;
    let (lost, duplicated) = common::count_records(&files, args.workers, args.events)?;
    Ok(Outcome {
        name: "baseline-a".into(),
        events: args.workers as u64 * args.events,
        seconds,
        caller_ns: Some(caller_ns),
        caller_cpu_ns: Some(caller_cpu_ns),
        lost,
        duplicated,
        peak_rss_kib: common::peak_rss_kib(),
    })
}

/// fmt + LevelFormatter + RotatingFile, written by the logging threads.
pub(crate) fn baseline_b(args: &Args) -> Result<Outcome, Box<dyn Error>> {
    let file = RotatingFile::builder()
        .max_bytes(MAX_BYTES)
        .buffer_capacity(64 * 1024)
        .build(args.dir.join("baseline_b.log"))?;
    let formatter = LevelFormatter::builder()
        .default_format(TEMPLATE)
        .datefmt(DATEFMT)
        .process_name("bench")
        .build()?;
    let file = std::sync::Arc::new(file);
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .event_format(formatter)
                .with_writer(file.clone()),
        ),
    );
    let start = Instant::now();
    let (caller_ns, caller_cpu_ns) = log_from_threads(&dispatch, args)?;
    drop(dispatch);
    (&*file).flush()?;
    file.sync_all()?;
    let seconds = start.elapsed().as_secs_f64();
    let files = common::files_with_prefix(&args.dir, "baseline_b.log")?;
    let (lost, duplicated) = common::count_records(&files, args.workers, args.events)?;
    Ok(Outcome {
        name: "baseline-b".into(),
        events: args.workers as u64 * args.events,
        seconds,
        caller_ns: Some(caller_ns),
        caller_cpu_ns: Some(caller_cpu_ns),
        lost,
        duplicated,
        peak_rss_kib: common::peak_rss_kib(),
    })
}

/// Pre-encoded frames from N threads over Unix sockets into one
/// `BufWriter` file: the cost of moving the bytes, nothing else.
pub(crate) fn floor(args: &Args) -> Result<Outcome, Box<dyn Error>> {
    let sock = args.dir.join("floor.sock");
    let listener = UnixListener::bind(&sock)?;
    let mut frame = Vec::new();
    OwnedFrame::Event(OwnedEvent {
        seq: 1,
        timestamp_ns: 1_700_000_000_000_000_000,
        level: tracing::Level::INFO,
        target: "bench".into(),
        module_path: Some("bench".into()),
        file: Some("examples/bench/single.rs".into()),
        line: Some(1),
        thread_id: 1,
        thread_name: Some("main".into()),
        message: Some(format!("worker 0 event 0 {PAD}")),
        fields: Vec::new(),
        spans: Vec::new(),
    })
    .encode(&mut frame);
    let per_conn = frame.len() as u64 * args.events;
    let (tx, rx) = flume::bounded::<Vec<u8>>(64);
    let path = args.dir.join("floor.bin");
    let writer = thread::spawn(move || -> std::io::Result<u64> {
        let file = fs::File::create(&path)?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let mut written = 0u64;
        for chunk in rx {
            out.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(written)
    });
    let start = Instant::now();
    let workers = args.workers;
    let readers = thread::spawn(move || {
        let mut handles = Vec::new();
        for stream in listener.incoming().take(workers) {
            let Ok(mut stream) = stream else { break };
            let tx = tx.clone();
            handles.push(thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }));
        }
        for h in handles {
            let _ = h.join();
        }
    });
    let batch: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * (65_536 / frame.len()))
        .collect();
    let per_batch = (batch.len() / frame.len()) as u64;
    let senders: Vec<_> = (0..args.workers)
        .map(|_| {
            let (sock, batch, frame, events) =
                (sock.clone(), batch.clone(), frame.clone(), args.events);
            thread::spawn(move || -> std::io::Result<()> {
                let mut s = UnixStream::connect(sock)?;
                let mut left = events;
                while left >= per_batch {
                    s.write_all(&batch)?;
                    left -= per_batch;
                }
                for _ in 0..left {
                    s.write_all(&frame)?;
                }
                Ok(())
            })
        })
        .collect();
    for s in senders {
        s.join().map_err(|_| "sender panicked")??;
    }
    readers.join().map_err(|_| "reader panicked")?;
    let written = writer.join().map_err(|_| "writer panicked")??;
    let seconds = start.elapsed().as_secs_f64();
    let expected = per_conn * args.workers as u64;
    let frame_len = frame.len() as u64;
    Ok(Outcome {
        name: "floor".into(),
        events: args.workers as u64 * args.events,
        seconds,
        caller_ns: None,
        caller_cpu_ns: None,
        lost: expected.saturating_sub(written) / frame_len,
        duplicated: written.saturating_sub(expected) / frame_len,
        peak_rss_kib: common::peak_rss_kib(),
    })
}
