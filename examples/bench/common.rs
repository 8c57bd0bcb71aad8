//! Arguments, results and the table.

use std::collections::HashMap;
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

/// Command-line arguments (parent, scenario child and worker).
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) workers: usize,
    pub(crate) events: u64,
    pub(crate) python: bool,
    pub(crate) keep: bool,
    pub(crate) only: Vec<String>,
    pub(crate) scenario: Option<String>,
    pub(crate) dir: PathBuf,
    pub(crate) worker_id: Option<usize>,
}

impl Args {
    pub(crate) fn parse(mut it: impl Iterator<Item = String>) -> Result<Self, Box<dyn Error>> {
        let mut a = Args {
            workers: 4,
            events: 1_000_000,
            python: false,
            keep: false,
            only: Vec::new(),
            scenario: None,
            dir: PathBuf::from("target/bench-run"),
            worker_id: None,
        };
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--workers" => {
                    a.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?
                }
                "--events" => a.events = value()?.parse().map_err(|e| format!("--events: {e}"))?,
                "--python" => a.python = true,
                "--keep" => a.keep = true,
                "--only" => a.only = value()?.split(',').map(str::to_owned).collect(),
                "--scenario" => a.scenario = Some(value()?),
                "--dir" => a.dir = PathBuf::from(value()?),
                "--worker-id" => {
                    a.worker_id = Some(value()?.parse().map_err(|e| format!("--worker-id: {e}"))?)
                }
                "--help" | "-h" => {
                    println!(
                        "usage: bench [--workers N] [--events M] [--python] [--keep] [--only pipeline,baseline-a,baseline-b,floor]"
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown flag `{other}` (try --help)").into()),
            }
        }
        if a.workers == 0 || a.events == 0 {
            return Err("--workers and --events must be at least 1".into());
        }
        Ok(a)
    }
}

/// What one scenario measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub(crate) name: String,
    pub(crate) events: u64,
    pub(crate) seconds: f64,
    /// Mean wall time per event in the logging thread (includes waiting for
    /// the CPU and for room in a full channel), if measured.
    pub(crate) caller_ns: Option<f64>,
    /// Mean CPU time per event of the logging thread: what logging costs
    /// the caller itself.
    pub(crate) caller_cpu_ns: Option<f64>,
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    /// Peak RSS of the writing process (the sink for the pipeline), KiB.
    pub(crate) peak_rss_kib: Option<u64>,
}

impl Outcome {
    pub(crate) fn to_line(&self) -> String {
        format!(
            "RESULT name={} events={} seconds={:.6} caller_ns={} caller_cpu_ns={} lost={} duplicated={} peak_rss_kib={}",
            self.name,
            self.events,
            self.seconds,
            self.caller_ns.map_or("-".into(), |v| format!("{v:.1}")),
            self.caller_cpu_ns.map_or("-".into(), |v| format!("{v:.1}")),
            self.lost,
            self.duplicated,
            self.peak_rss_kib.map_or("-".into(), |v| v.to_string()),
        )
    }

    pub(crate) fn from_line(line: &str) -> Option<Self> {
        let kv: HashMap<&str, &str> = line
            .strip_prefix("RESULT ")?
            .split(' ')
            .filter_map(|p| p.split_once('='))
            .collect();
        Some(Outcome {
            name: kv.get("name")?.to_string(),
            events: kv.get("events")?.parse().ok()?,
            seconds: kv.get("seconds")?.parse().ok()?,
            caller_ns: kv.get("caller_ns").and_then(|v| v.parse().ok()),
            caller_cpu_ns: kv.get("caller_cpu_ns").and_then(|v| v.parse().ok()),
            lost: kv.get("lost")?.parse().ok()?,
            duplicated: kv.get("duplicated")?.parse().ok()?,
            peak_rss_kib: kv.get("peak_rss_kib").and_then(|v| v.parse().ok()),
        })
    }

    pub(crate) fn per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }
}

/// Prints the comparison table; false when a record was lost or duplicated.
pub(crate) fn print_table(outcomes: &[Outcome]) -> bool {
    let base = outcomes.iter().find(|o| o.name == "baseline-a");
    println!();
    println!(
        "| scenario | events | seconds | events/s | × baseline A | caller wall ns/event | caller CPU ns/event | caller CPU × baseline A | lost | duplicated | peak RSS |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut ok = true;
    let ns = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    for o in outcomes {
        let ratio = base.map_or("-".into(), |b| {
            format!("{:.2}", o.per_second() / b.per_second())
        });
        let cpu_ratio = match (o.caller_cpu_ns, base.and_then(|b| b.caller_cpu_ns)) {
            (Some(c), Some(b)) => format!("{:.2}", c / b),
            _ => "-".into(),
        };
        println!(
            "| {} | {} | {:.2} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            o.name,
            o.events,
            o.seconds,
            o.per_second(),
            ratio,
            ns(o.caller_ns),
            ns(o.caller_cpu_ns),
            cpu_ratio,
            o.lost,
            o.duplicated,
            o.peak_rss_kib
                .map_or("-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        );
        ok &= o.lost == 0 && o.duplicated == 0;
    }
    if let (Some(p), Some(b)) = (outcomes.iter().find(|o| o.name == "pipeline"), base) {
        println!();
        println!(
            "targets: throughput ≥ 1.5× baseline A: {:.2}×",
            p.per_second() / b.per_second()
        );
        if let (Some(pc), Some(bc)) = (p.caller_cpu_ns, b.caller_cpu_ns) {
            println!(
                "         caller CPU cost ≤ 0.25× baseline A: {:.2}×",
                pc / bc
            );
        }
        if let (Some(pc), Some(bc)) = (p.caller_ns, b.caller_ns) {
            println!(
                "         (caller wall time: {:.2}×; once channels fill, both callers wait for their writer)",
                pc / bc
            );
        }
        if let Some(rss) = p.peak_rss_kib {
            println!(
                "         sink peak RSS ≤ 64 MiB: {:.1} MiB",
                rss as f64 / 1024.0
            );
        }
        for peer in outcomes.iter().filter(|o| o.name.starts_with("python-")) {
            println!(
                "         vs {}: {:.0}×",
                peer.name,
                p.per_second() / peer.per_second()
            );
        }
    }
    if !ok {
        println!("FAILED: records were lost or duplicated");
    }
    ok
}

/// Counts, per worker, how often each event number appears in the lines of
/// `files` ("worker W event I ..."); returns (lost, duplicated) against
/// `workers` × `events`.
pub(crate) fn count_records(
    files: &[PathBuf],
    workers: usize,
    events: u64,
) -> Result<(u64, u64), Box<dyn Error>> {
    let mut seen = vec![vec![0u8; usize::try_from(events)?]; workers];
    let mut duplicated = 0u64;
    let mut strangers = 0u64;
    for path in files {
        let reader = BufReader::with_capacity(1 << 20, fs::File::open(path)?);
        for line in reader.split(b'\n') {
            let line = line?;
            match parse_record(&line) {
                Some((w, i)) if w < workers && i < events => {
                    let slot = &mut seen[w][i as usize];
                    if *slot > 0 {
                        duplicated += 1;
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
    let lost = seen.iter().flatten().filter(|&&n| n == 0).count() as u64;
    Ok((lost, duplicated))
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

/// CPU time the calling thread has used, in ns.
pub(crate) fn thread_cpu_ns() -> f64 {
    // SAFETY: clock_gettime writes into the zeroed struct we own.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// This process's peak resident set size in KiB.
pub(crate) fn peak_rss_kib() -> Option<u64> {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    (rc == 0).then(|| u64::try_from(usage.ru_maxrss).unwrap_or(0))
}
