//! The workload every scenario logs, and what measures and counts it.

use std::error::Error;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The record every scenario writes: ~90 characters of message, as the
/// Python peers' workload.
pub(crate) const PAD: &str = "finished processing request batch; queue depth nominal, reporting";
/// The template of the sink and of baseline B (the Python peers use the same).
pub(crate) const TEMPLATE: &str =
    "[ %(asctime)s ][ %(levelname)s ][ %(processName)s ][ %(message)s ]";
/// The `datefmt` with microseconds.
pub(crate) const DATEFMT: &str = "%Y-%m-%d,%H:%M:%S.%f";
/// Size rotation of every rotating file.
pub(crate) const MAX_BYTES: u64 = 50 * 1024 * 1024;

/// The event mix of every scenario, as real programs log: inside a span with
/// a field (`job{worker=w}`), `events` records, each an `info!` with a
/// formatted message and a field (`seq = i`), every 1000th a `warn!`
/// instead; and per record a `debug!` that the `info` filter drops.
/// Exactly `events` lines reach the files.
pub(crate) fn log_mix(w: usize, events: u64) {
    let span = tracing::info_span!("job", worker = w);
    let _entered = span.enter();
    for i in 0..events {
        if i % 1000 == 999 {
            tracing::warn!(seq = i, "worker {w} event {i} {PAD}");
        } else {
            tracing::info!(seq = i, "worker {w} event {i} {PAD}");
        }
        tracing::debug!(seq = i, "worker {w} skipped {i}");
    }
}

/// What logging cost the calling threads: mean per event, in ns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    /// Wall time of the logging loop (includes waiting for the CPU and for
    /// room in a full channel).
    pub(crate) wall_ns: f64,
    /// CPU time of the logging thread: what logging costs the caller itself.
    pub(crate) cpu_ns: f64,
}

/// Lines missing from or repeated in the files, against what was logged.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Count {
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
}

impl std::ops::AddAssign for Count {
    fn add_assign(&mut self, o: Count) {
        self.lost += o.lost;
        self.duplicated += o.duplicated;
    }
}

/// Counts how often each record of `workers` (all when `None`, else that
/// one) appears in the lines of `files` ("worker W event I ..."): the
/// records of the other workers must not appear at all.
pub(crate) fn count_records(
    files: &[PathBuf],
    workers: usize,
    only: Option<usize>,
    events: u64,
) -> Result<Count, Box<dyn Error>> {
    let mut seen = vec![vec![0u8; usize::try_from(events)?]; workers];
    let mut count = Count::default();
    let mut strangers = 0u64;
    for path in files {
        let reader = BufReader::with_capacity(1 << 20, fs::File::open(path)?);
        for line in reader.split(b'\n') {
            let line = line?;
            match parse_record(&line) {
                Some((w, i)) if w < workers && i < events => {
                    let slot = &mut seen[w][i as usize];
                    if *slot > 0 || only.is_some_and(|o| o != w) {
                        count.duplicated += 1;
                    }
                    *slot = slot.saturating_add(1);
                }
                _ => strangers += 1,
            }
        }
    }
    if strangers > 0 {
        eprintln!("bench: {strangers} lines that are not records of this run (sink messages)");
    }
    count.lost = seen
        .iter()
        .enumerate()
        .filter(|(w, _)| only.is_none_or(|o| o == *w))
        .flat_map(|(_, s)| s)
        .filter(|&&n| n == 0)
        .count() as u64;
    Ok(count)
}

/// Finds "worker W event I" in a line.
fn parse_record(line: &[u8]) -> Option<(usize, u64)> {
    let text = std::str::from_utf8(line).ok()?;
    let at = text.find("worker ")?;
    let mut parts = text[at + 7..].split(' ');
    let w = parts.next()?.parse().ok()?;
    if parts.next()? != "event" {
        return None;
    }
    let i = parts.next()?.parse().ok()?;
    Some((w, i))
}

/// Every regular file under `dir` whose name starts with `prefix`.
pub(crate) fn files_with_prefix(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Reads `clock` in ns.
fn clock_ns(clock: libc::clockid_t) -> f64 {
    // SAFETY: clock_gettime writes into the zeroed struct we own.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and pointer.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// CPU time this process has used (every thread), in ns.
pub(crate) fn process_cpu_ns() -> f64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time the calling thread has used, in ns.
pub(crate) fn thread_cpu_ns() -> f64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// The machine-wide monotonic clock in ns: comparable between processes,
/// so the pipeline's clock starts at the first event any worker logs.
pub(crate) fn monotonic_ns() -> f64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// This process's peak resident set size in KiB.
pub(crate) fn peak_rss_kib() -> Option<u64> {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    (rc == 0).then(|| u64::try_from(usage.ru_maxrss).unwrap_or(0))
}

/// The 1-minute load average of the machine (`/proc/loadavg`), if readable.
pub(crate) fn load_1min() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `/proc/loadavg` as it reads, for the record.
pub(crate) fn loadavg_line() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(|e| format!("? ({e})"), |s| s.trim().into())
}
