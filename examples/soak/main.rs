//! The soak (issue 19, item 5): the release `mplog-sink` and thousands of
//! short-lived release `mplog-test-worker`s for a whole duration, then an
//! account of every event. Run by `scripts/soak.sh DURATION`, which builds
//! the binaries first:
//!
//! ```text
//! cargo run --release --example soak -- --duration 10m [--concurrency 6]
//!     [--events 300] [--ack default|on|off] [--dir target/soak-run] [--seed N]
//! ```
//!
//! - Workers come and go with fresh names: `soak-1`, `soak-2`, … (process
//!   name from `TRACING_MPLOG_PROCESS_NAME`, `worker::init()`), several at
//!   once, each logging a few hundred numbered events `w{K} e{n}`, with a
//!   short outage grace (`TRACING_MPLOG_OUTAGE_GRACE=2s`).
//! - The sink (`--process-key name`, a consolidated `all.log`) is SIGKILLed
//!   and restarted every 2–10 s (random), and once, half-way, stays down
//!   for the grace + 3 s; two flooders started then (20 000 events without
//!   pause) fill their channels, wait out the grace and drop and count
//!   until the sink is back.
//! - Files rotate every second (`--when S --interval 1`) and are gzipped
//!   (`--compress`). Retention (`--backup-count`) is set above the number
//!   of rotated files the run can make (one a second per file, plus one a
//!   start), so it runs on every rotation but deletes nothing the account
//!   needs: the account reads every file, plain or gzipped.
//! - Three special workers use the test worker's modes `panic`, `exit` and
//!   `oversized:2097152`; a mode the worker does not know yet is reported,
//!   not fatal.
//! - The sink's descriptors (`/proc/PID/fd`) and RSS (`VmRSS`) are sampled
//!   every second; min and max are printed per incarnation and overall.
//!
//! At the end each worker's events are looked up in the consolidated files
//! and in its own. A missing one is "dropped after the grace and reported"
//! up to the number the worker's stderr said it dropped, then "not
//! delivered" up to the number its guard said it could not deliver when it
//! gave up (flush timeout); any other missing one is lost. Exits 1 if
//! anything is lost, a plain worker failed or the sink exited by itself.
//!
//! The modules: [`sink`] runs and samples the sink, [`workers`] starts and
//! tracks the workers, [`account`] reads the files and counts the events,
//! [`report`] prints the result.

mod account;
mod report;
mod sink;
mod workers;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sink::{Sink, SinkLog};
use tracing_mplog_workspace::flags;
use workers::{Spawner, Worker};

/// The sink's template: what [`account::parse_event`] reads back.
const TEMPLATE: &str = "{process_name} {pid} {level} {message}";
/// The workers' outage grace.
const GRACE: Duration = Duration::from_secs(2);
/// How long the one long outage lasts: well past the grace.
const LONG_OUTAGE: Duration = Duration::from_secs(5);
/// Workers started when the long outage begins, and their events: logged
/// without pause, they fill their channel (1024 events) at once, wait out
/// the grace, then drop and count until the sink is back.
const FLOODERS: u64 = 2;
const FLOOD_EVENTS: u64 = 20_000;
/// The special workers' modes, the fraction of the run at which each
/// starts, and what it must leave in its own file.
const SPECIALS: [(&str, f64); 3] = [("panic", 0.2), ("exit", 0.4), ("oversized:2097152", 0.6)];

#[derive(Debug)]
struct Args {
    duration: Duration,
    concurrency: usize,
    events: u64,
    ack: Option<&'static str>,
    dir: PathBuf,
    seed: u64,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, scale) = match text.strip_suffix('m') {
        Some(n) => (n, 60),
        None => (text.strip_suffix('s').unwrap_or(text), 1),
    };
    number
        .parse::<u64>()
        .map(|n| Duration::from_secs(n * scale))
        .map_err(|e| format!("--duration {text}: {e} (seconds, or like 90s, 10m)"))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        duration: Duration::from_secs(600),
        concurrency: 6,
        events: 300,
        ack: None,
        dir: PathBuf::from("target/soak-run"),
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    for flag in flags(std::env::args().skip(1)) {
        let flag = flag?;
        let value = &flag.value;
        match flag.name.as_str() {
            "--duration" => args.duration = parse_duration(value)?,
            "--concurrency" => args.concurrency = flag.number()?.max(1) as usize,
            "--events" => args.events = flag.number()?.max(10),
            "--seed" => args.seed = flag.number()?,
            "--dir" => args.dir = PathBuf::from(value),
            "--ack" => {
                args.ack = match value.as_str() {
                    "default" => None,
                    "on" => Some("1"),
                    "off" => Some("0"),
                    _ => return Err(format!("--ack {value}: default, on or off")),
                }
            }
            _ => return Err(flag.unknown()),
        }
    }
    Ok(args)
}

/// xorshift64*: enough randomness for kill intervals, replayable by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Where the release binaries are: next to `target/release/examples/`.
fn release_bin(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join(name))
        .ok_or("no folder above the example")?;
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "no {} (cargo build --release --bin {name}; scripts/soak.sh does)",
            bin.display()
        ))
    }
}

// ----------------------------------------------------------------- the run

/// The sink's supervisor thread and the flags that end it.
struct Supervisor {
    /// Set when the workers are done: the next incarnation is the last.
    stop: Arc<AtomicBool>,
    /// Set when the last incarnation may be stopped.
    finish: Arc<AtomicBool>,
    thread: JoinHandle<Result<SinkLog, String>>,
}

impl Supervisor {
    fn start(sink: Sink, args: &Args) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let finish = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, finish) = (Arc::clone(&stop), Arc::clone(&finish));
            let rng = Rng(args.seed | 1);
            let run_for = args.duration;
            std::thread::spawn(move || sink::supervise(sink, rng, run_for, &stop, &finish))
        };
        Self {
            stop,
            finish,
            thread,
        }
    }

    /// Lets the last incarnation write and rotate what it got, then stops it.
    fn finish(self) -> Result<SinkLog, String> {
        std::thread::sleep(Duration::from_secs(2));
        self.finish.store(true, Ordering::SeqCst);
        self.thread
            .join()
            .map_err(|_| "the supervisor panicked".to_owned())?
    }
}

/// Empties the run's folder and says where the socket goes.
fn prepare_dir(dir: &Path) -> Result<PathBuf, String> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // The sink makes the socket's folder itself, mode 0700.
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir.join("sock").join("sink.sock"))
}

/// Writes what workers said to `workers.stderr`, for a look after the run.
fn save_stderr(dir: &Path, workers: &[Worker]) -> Result<(), String> {
    let said: String = workers
        .iter()
        .filter(|w| !w.stderr.is_empty())
        .map(|w| format!("== {} exit {:?}\n{}", w.name(), w.status, w.stderr))
        .collect();
    fs::write(dir.join("workers.stderr"), said).map_err(|e| format!("workers.stderr: {e}"))
}

fn run(args: &Args) -> Result<bool, String> {
    let sink_bin = release_bin("mplog-sink")?;
    let worker_bin = release_bin("mplog-test-worker")?;
    let socket = prepare_dir(&args.dir)?;
    let secs = args.duration.as_secs();
    let sink = Sink {
        bin: sink_bin,
        dir: args.dir.clone(),
        socket: socket.clone(),
        // One rotation a second per file, one more per start: more than any
        // file can have, so retention never deletes what the account reads.
        backup_count: 2 * secs + 100,
        started: 0,
    };
    println!(
        "soak: {secs} s, seed {}, {} workers at a time, ack {}, files in {}",
        args.seed,
        args.concurrency,
        args.ack.unwrap_or("default"),
        args.dir.display()
    );
    let supervisor = Supervisor::start(sink, args);

    let rng = Rng((args.seed ^ 0x9E37_79B9_7F4A_7C15) | 1);
    let (done_tx, done_rx) = mpsc::channel::<Worker>();
    let spawner = Spawner {
        bin: worker_bin,
        socket,
        ack: args.ack,
        done: done_tx,
    };
    let start = Instant::now();
    let (mut workers, failure) =
        workers::drive(args, spawner, rng, done_rx, start, &supervisor.stop);
    let sink_log = supervisor.finish()?;
    if let Some(e) = failure {
        return Err(e);
    }
    workers.sort_by_key(|w| w.id);
    save_stderr(&args.dir, &workers)?;
    report::report(args, &workers, &sink_log, start.elapsed())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}
