//! The single-process baselines and the physical floor.

use std::error::Error;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use tracing_mplog::wire::{OwnedEvent, OwnedFrame};
use tracing_mplog_sink::RotatingFile;
use tracing_mplog_sink::format::LevelFormatter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

use crate::args::Args;
use crate::common::{self, Caller, Count, DATEFMT, MAX_BYTES, PAD, TEMPLATE};
use crate::outcome::Outcome;

/// N threads log the event mix under the global default subscriber; returns
/// when the first of them started (after a barrier) and the mean wall and
/// CPU time per event of the logging threads.
fn log_from_threads(args: &Args) -> (Instant, Caller) {
    let barrier = Barrier::new(args.workers + 1);
    let ((wall, cpu), start) = thread::scope(|s| {
        let handles: Vec<_> = (0..args.workers)
            .map(|w| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let cpu = common::thread_cpu_ns();
                    common::log_mix(w, args.events);
                    (
                        start.elapsed().as_nanos() as f64,
                        common::thread_cpu_ns() - cpu,
                    )
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let sums = handles
            .into_iter()
            .map(|h| h.join().unwrap_or((f64::NAN, f64::NAN)))
            .fold((0.0, 0.0), |(w, c), (dw, dc)| (w + dw, c + dc));
        (sums, start)
    });
    let n = args.workers as f64 * args.events as f64;
    let caller = Caller {
        wall_ns: wall / n,
        cpu_ns: cpu / n,
    };
    (start, caller)
}

/// A writer that says when it is dropped: `non_blocking`'s worker thread
/// drops its writer only after writing and flushing every queued line, while
/// `WorkerGuard::drop` gives up waiting after 1 s.
struct Signalled<W: Write> {
    inner: W,
    dropped: flume::Sender<()>,
}

impl<W: Write> Write for Signalled<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for Signalled<W> {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

/// What a user would pick: the global default subscriber,
/// `registry().with(EnvFilter::new("info")).with(fmt::layer().with_ansi(false)
/// .with_writer(non_blocking))`, lossy off, into `rolling::never`.
pub(crate) fn baseline_a(args: &Args) -> Result<Outcome, Box<dyn Error>> {
    let (dropped, writer_gone) = flume::bounded(1);
    let appender = Signalled {
        inner: tracing_appender::rolling::never(&args.dir, "baseline_a.log"),
        dropped,
    };
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(appender);
    tracing_subscriber::registry()
        .with(EnvFilter::new("info"))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer),
        )
        .init();
    let (start, caller) = log_from_threads(args);
    drop(guard);
    // The writer thread may still be draining when the guard gives up.
    writer_gone
        .recv_timeout(Duration::from_secs(600))
        .map_err(|e| format!("non_blocking's writer thread did not finish: {e}"))?;
    fs::File::open(args.dir.join("baseline_a.log"))?.sync_all()?;
    let seconds = start.elapsed().as_secs_f64();
    let files = common::files_with_prefix(&args.dir, "baseline_a.log")?;
    let count = common::count_records(&files, args.workers, None, args.events)?;
    Ok(Outcome::new(
        "baseline-a",
        args,
        seconds,
        Some(caller),
        count,
    ))
}

/// `fmt` + `LevelFormatter` + `RotatingFile` (64 KiB buffer), written by the
/// logging threads, under the global default subscriber.
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
    tracing_subscriber::registry()
        .with(EnvFilter::new("info"))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .event_format(formatter)
                .with_writer(file.clone()),
        )
        .init();
    let (start, caller) = log_from_threads(args);
    (&*file).flush()?;
    file.sync_all()?;
    let seconds = start.elapsed().as_secs_f64();
    let files = common::files_with_prefix(&args.dir, "baseline_b.log")?;
    let count = common::count_records(&files, args.workers, None, args.events)?;
    Ok(Outcome::new(
        "baseline-b",
        args,
        seconds,
        Some(caller),
        count,
    ))
}

/// Pre-encoded frames from N threads over Unix sockets into one
/// `BufWriter` file: the cost of moving the bytes, nothing else (counted in
/// bytes: the file holds frames, not lines).
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
    let writer = thread::spawn(move || -> io::Result<u64> {
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
            thread::spawn(move || -> io::Result<()> {
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
    let count = Count {
        lost: expected.saturating_sub(written) / frame_len,
        duplicated: written.saturating_sub(expected) / frame_len,
    };
    Ok(Outcome::new("floor", args, seconds, None, count))
}
