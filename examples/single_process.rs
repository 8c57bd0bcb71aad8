//! One process, no sink: `LevelFormatter` + `RotatingFile` inside a plain
//! `tracing_subscriber::fmt` layer, with acrilog's example templates.
//!
//! ```sh
//! cargo run --release --example single_process        # RUST_LOG=info to filter
//! ```
//!
//! Four threads log ~1 MB into `./logs/single_process.log`, rotated at
//! 128 KiB (or at the top of each hour) with 20 backups kept; the example then
//! lists the files it wrote and checks that every record landed exactly once.

use std::collections::HashSet;
use std::error::Error;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

use tracing_mplog_sink::RotatingFile;
use tracing_mplog_sink::format::{FormatLevel, LevelFormatter};
use tracing_mplog_sink::rotate::When;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

const THREADS: usize = 4;
const EVENTS: usize = 2_500;

fn main() -> Result<(), Box<dyn Error>> {
    let logdir = Path::new("logs");
    let formatter = LevelFormatter::builder()
        .format(
            FormatLevel::Debug,
            "[ %(asctime)s ][ %(levelname)s ][ %(message)s ][ %(module)s.%(funcName)s(%(lineno)d) ]",
        )
        .default_format("[ %(asctime)s ][ %(levelname)s ][ %(message)s ]")
        .datefmt("%Y-%m-%d,%H:%M:%S.%f")
        .build()?;
    let file = RotatingFile::builder()
        .when(When::Hours)
        .max_bytes(128 * 1024)
        .backup_count(20)
        .build(logdir.join("single_process.log"))?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug"));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .with_ansi(false)
                .event_format(formatter)
                .with_writer(file),
        )
        .init();

    let run = format!("{:x}", std::process::id());
    tracing::debug!("starting threads");
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let run = &run;
            std::thread::Builder::new()
                .name(format!("thread-{t}"))
                .spawn_scoped(s, move || work(run, t))
                .map(|_| ())
                .unwrap_or_else(|e| tracing::error!("cannot spawn thread {t}: {e}"));
        }
    });
    tracing::debug!("threads completed");

    report(logdir, &run)
}

fn work(run: &str, t: usize) {
    let span = tracing::info_span!("work", thread = t);
    let _entered = span.enter();
    for i in 0..EVENTS {
        tracing::info!(
            run,
            i,
            "thread {t}: record {i}/{EVENTS} - {}",
            "x".repeat(i % 40)
        );
    }
}

/// Lists the files of this log and counts this run's records in them.
fn report(logdir: &Path, run: &str) -> Result<(), Box<dyn Error>> {
    let mut files: Vec<_> = fs::read_dir(logdir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("single_process.log"))
        })
        .collect();
    files.sort();
    let needle = format!("run=\"{run}\"");
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    println!("files in {}:", logdir.display());
    for path in &files {
        let size = fs::metadata(path)?.len();
        let mut lines = 0;
        let mut ours = 0;
        for line in BufReader::new(fs::File::open(path)?).lines() {
            let line = line?;
            lines += 1;
            if line.contains(&needle) {
                ours += 1;
                if !seen.insert(line) {
                    duplicates += 1;
                }
            }
        }
        println!(
            "  {:<52} {size:>8} bytes {lines:>6} lines ({ours} from this run)",
            path.display()
        );
    }
    let expected = THREADS * EVENTS;
    println!(
        "this run: {} of {expected} records on disk, {duplicates} duplicated",
        seen.len()
    );
    if seen.len() != expected || duplicates != 0 {
        return Err(format!("expected {expected} records exactly once (older ones may have been pruned by backup_count=20 if you ran this many times)").into());
    }
    Ok(())
}
