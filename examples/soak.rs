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

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// The sink's template: what [`parse_event`] reads back.
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
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--duration" => args.duration = parse_duration(&value)?,
            "--concurrency" => args.concurrency = number()?.max(1) as usize,
            "--events" => args.events = number()?.max(10),
            "--seed" => args.seed = number()?,
            "--dir" => args.dir = PathBuf::from(value),
            "--ack" => {
                args.ack = match value.as_str() {
                    "default" => None,
                    "on" => Some("1"),
                    "off" => Some("0"),
                    _ => return Err(format!("--ack {value}: default, on or off")),
                }
            }
            _ => return Err(format!("unknown flag {flag}")),
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

// ---------------------------------------------------------------- the sink

/// One run of the sink, from start to SIGKILL (or the final SIGTERM).
#[derive(Debug, Default)]
struct Incarnation {
    pid: u32,
    lived: Duration,
    fds: Vec<u64>,
    rss_kb: Vec<u64>,
    status: String,
}

/// What the sink went through.
#[derive(Debug, Default)]
struct SinkLog {
    incarnations: Vec<Incarnation>,
    kills: u32,
    long_outage_at: Option<Duration>,
}

/// Set by the supervisor while the long outage lasts.
static LONG_OUTAGE_NOW: AtomicBool = AtomicBool::new(false);

struct Sink {
    bin: PathBuf,
    dir: PathBuf,
    socket: PathBuf,
    backup_count: u64,
    started: u32,
}

impl Sink {
    fn spawn(&mut self) -> Result<Child, String> {
        self.started += 1;
        let stderr = fs::File::create(self.dir.join(format!("sink-{}.stderr", self.started)))
            .map_err(|e| format!("sink stderr file: {e}"))?;
        Command::new(&self.bin)
            .arg("--listen")
            .arg(format!("unix:{}", self.socket.display()))
            .arg("--logdir")
            .arg(self.dir.join("logs"))
            .args(["--name", "all", "--consolidate", "--process-key", "name"])
            .args(["--when", "S", "--interval", "1", "--compress"])
            .args(["--backup-count", &self.backup_count.to_string()])
            .args(["--format", &format!("default={TEMPLATE}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))
    }
}

/// The number of open descriptors and the RSS (kB) of `pid`.
fn sample(pid: u32) -> Option<(u64, u64)> {
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((fds, rss))
}

/// Runs the sink until `stop`: SIGKILL and restart every 2–10 s, once a
/// long outage half-way; after `stop`, one last incarnation that runs
/// until `finish`, then SIGTERM.
fn supervise(
    mut sink: Sink,
    mut rng: Rng,
    run_for: Duration,
    stop: &AtomicBool,
    finish: &AtomicBool,
) -> Result<SinkLog, String> {
    let start = Instant::now();
    let mut log = SinkLog::default();
    loop {
        let last = stop.load(Ordering::SeqCst);
        let mut child = sink.spawn()?;
        let born = Instant::now();
        let mut inc = Incarnation {
            pid: child.id(),
            ..Incarnation::default()
        };
        let lifetime = Duration::from_millis(rng.range(2000, 10_000));
        let mut next_sample = born + Duration::from_secs(1);
        loop {
            std::thread::sleep(Duration::from_millis(50));
            if let Ok(Some(status)) = child.try_wait() {
                inc.status = format!("exited by itself: {status}");
                break;
            }
            if Instant::now() >= next_sample {
                next_sample += Duration::from_secs(1);
                if let Some((fds, rss)) = sample(inc.pid) {
                    inc.fds.push(fds);
                    inc.rss_kb.push(rss);
                }
            }
            let done = if last {
                finish.load(Ordering::SeqCst)
            } else {
                born.elapsed() >= lifetime || stop.load(Ordering::SeqCst)
            };
            if done {
                break;
            }
        }
        if inc.status.is_empty() {
            let signal = if last { libc::SIGTERM } else { libc::SIGKILL };
            // SAFETY: signals our own child, which has not been waited for.
            unsafe { libc::kill(inc.pid as i32, signal) };
            let status = child
                .wait()
                .map_err(|e| format!("wait for the sink: {e}"))?;
            inc.status = if last {
                format!("stopped by SIGTERM: {status}")
            } else {
                log.kills += 1;
                "SIGKILLed".to_owned()
            };
        }
        inc.lived = born.elapsed();
        log.incarnations.push(inc);
        if last {
            return Ok(log);
        }
        if log.long_outage_at.is_none() && start.elapsed() >= run_for / 2 {
            log.long_outage_at = Some(start.elapsed());
            LONG_OUTAGE_NOW.store(true, Ordering::SeqCst);
            let until = Instant::now() + LONG_OUTAGE;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            LONG_OUTAGE_NOW.store(false, Ordering::SeqCst);
        }
    }
}

// ------------------------------------------------------------- the workers

/// One worker's run, as the driver saw it.
#[derive(Debug)]
struct Worker {
    id: u64,
    events: u64,
    mode: Option<&'static str>,
    flood: bool,
    status: Option<i32>,
    stderr: String,
}

impl Worker {
    fn name(&self) -> String {
        format!("soak-{}", self.id)
    }

    /// The events the worker said it dropped after the grace, and those it
    /// said it could not deliver when its guard gave up.
    fn reported_drops(&self) -> u64 {
        self.said("event(s) were dropped") + self.said("event(s) not delivered")
    }

    /// The numbers before ` event(s)` on the stderr lines with `what`.
    fn said(&self, what: &str) -> u64 {
        self.stderr
            .lines()
            .filter(|l| l.contains(what))
            .filter_map(|l| {
                let before = &l[..l.find(" event(s)")?];
                before.rsplit([' ', ';', ':']).next()?.parse::<u64>().ok()
            })
            .sum()
    }

    /// The mode was refused by this build of the test worker.
    fn unsupported(&self) -> bool {
        self.stderr.contains("unknown --mode")
    }
}

/// How to start workers.
struct Spawner {
    bin: PathBuf,
    socket: PathBuf,
    ack: Option<&'static str>,
    done: mpsc::Sender<Worker>,
}

impl Spawner {
    /// Starts worker `id`; a thread waits for it and sends what it did.
    fn spawn(
        &self,
        id: u64,
        events: u64,
        mode: Option<&'static str>,
        flood: bool,
    ) -> Result<(), String> {
        spawn_worker(self, id, events, mode, flood)
    }
}

fn spawn_worker(
    sp: &Spawner,
    id: u64,
    events: u64,
    mode: Option<&'static str>,
    flood: bool,
) -> Result<(), String> {
    let (bin, socket, ack, done) = (&sp.bin, &sp.socket, sp.ack, sp.done.clone());
    let mut cmd = Command::new(bin);
    cmd.args(["--id", &id.to_string(), "--events", &events.to_string()])
        .args(["--sleep-us", if flood { "0" } else { "1000" }])
        .env(
            "TRACING_MPLOG_ENDPOINT",
            format!("unix:{}", socket.display()),
        )
        .env("TRACING_MPLOG_PROCESS_NAME", format!("soak-{id}"))
        .env(
            "TRACING_MPLOG_OUTAGE_GRACE",
            format!("{}s", GRACE.as_secs()),
        )
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(mode) = mode {
        cmd.args(["--mode", mode]);
    }
    if let Some(ack) = ack {
        cmd.env("TRACING_MPLOG_ACK", ack);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    std::thread::spawn(move || {
        let out = child.wait_with_output();
        let (status, stderr) = match out {
            Ok(o) => (
                o.status.code(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            ),
            Err(e) => (None, format!("wait failed: {e}")),
        };
        let _ = done.send(Worker {
            id,
            events,
            mode,
            flood,
            status,
            stderr,
        });
    });
    Ok(())
}

// ------------------------------------------------------------- the account

/// Per worker id, how often each event number was found (index `n`).
type Found = HashMap<u64, Vec<u32>>;

/// What the files hold.
#[derive(Debug, Default)]
struct Files {
    /// In `all.log*`.
    all: Found,
    /// In each worker's own `soak-K.log*`.
    own: Found,
    /// The sink's WARN lines `worker soak-K[PID] dropped N events`, summed
    /// per worker (from `all.log*`).
    sink_reported: HashMap<u64, u64>,
    /// Lines of a worker that do not parse (torn and glued to the next).
    malformed: u64,
    /// The longest line seen, and in which file.
    longest: (usize, String),
    /// ERROR lines mentioning a panic, per worker (own files).
    panics: HashMap<u64, u64>,
    rotated: u64,
    gzipped: u64,
    files: u64,
}

/// `w{id} e{n}` in a line of our template.
fn parse_event(line: &str) -> Option<(u64, u64)> {
    let at = line.find(" w")?;
    let mut words = line[at + 2..].split(' ');
    let id = words.next()?.parse().ok()?;
    let n = words.next()?.strip_prefix('e')?.parse().ok()?;
    Some((id, n))
}

/// The file's text, gunzipped if it is a `.gz`.
fn read_text(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    } else {
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Reads every log file: for a rotated file both plain and gzipped (a kill
/// during compression leaves both), the plain one counts.
fn read_files(logdir: &Path) -> Result<Files, String> {
    let mut names: Vec<String> = fs::read_dir(logdir)
        .map_err(|e| format!("{}: {e}", logdir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.ends_with(".tmp"))
        .collect();
    names.sort();
    let plain: std::collections::HashSet<String> = names
        .iter()
        .filter(|n| !n.ends_with(".gz"))
        .cloned()
        .collect();
    let mut files = Files::default();
    for name in &names {
        if let Some(stem) = name.strip_suffix(".gz") {
            if plain.contains(stem) {
                continue;
            }
            files.gzipped += 1;
        }
        let Some((base, rest)) = name.split_once(".log") else {
            continue;
        };
        files.files += 1;
        if !rest.is_empty() {
            files.rotated += 1;
        }
        let own_id = base
            .strip_prefix("soak-")
            .and_then(|k| k.parse::<u64>().ok());
        let text = read_text(&logdir.join(name))?;
        for line in text.lines() {
            if line.len() > files.longest.0 {
                files.longest = (line.len(), name.clone());
            }
            if let Some((id, n)) = parse_event(line) {
                let found = if own_id.is_some() {
                    &mut files.own
                } else {
                    &mut files.all
                };
                let counts = found.entry(id).or_default();
                if counts.len() <= n as usize {
                    counts.resize(n as usize + 1, 0);
                }
                counts[n as usize] += 1;
            } else if line.starts_with("soak-") && line.contains(" w") && !line.contains(" worker ")
            {
                files.malformed += 1;
            }
            if let Some(id) = own_id {
                if line.contains(" ERROR ") && line.contains("panicked") {
                    *files.panics.entry(id).or_default() += 1;
                }
            } else if line.contains(" WARN ") {
                let reported = line.split("worker soak-").nth(1).and_then(|rest| {
                    let id = rest.split('[').next()?.parse::<u64>().ok()?;
                    let n = rest
                        .split(" dropped ")
                        .nth(1)?
                        .split(' ')
                        .next()?
                        .parse::<u64>()
                        .ok()?;
                    Some((id, n))
                });
                if let Some((id, n)) = reported {
                    *files.sink_reported.entry(id).or_default() += n;
                }
            }
        }
    }
    Ok(files)
}

/// Of worker `w`'s events 1..=events in `found`: (unique, duplicates).
fn tally(found: &Found, w: &Worker) -> (u64, u64) {
    let Some(counts) = found.get(&w.id) else {
        return (0, 0);
    };
    let range = counts.iter().skip(1).take(w.events as usize);
    range.fold((0, 0), |(unique, dups), &c| {
        (
            unique + u64::from(c > 0),
            dups + u64::from(c.saturating_sub(1)),
        )
    })
}

/// Totals over the workers, for one set of files.
#[derive(Debug, Default)]
struct Account {
    expected: u64,
    unique: u64,
    duplicates: u64,
    /// Missing, and reported by the worker as dropped after the grace.
    after_grace: u64,
    /// Missing, and reported by the worker's guard as not delivered when it
    /// gave up (an upper bound: with acks, unacknowledged events count
    /// though some were written).
    gave_up: u64,
    lost: u64,
    losers: Vec<String>,
}

fn account(found: &Found, workers: &[Worker]) -> Account {
    let mut a = Account::default();
    for w in workers.iter().filter(|w| !w.unsupported()) {
        let (unique, dups) = tally(found, w);
        let missing = w.events - unique;
        let after_grace = w.said("event(s) were dropped").min(missing);
        let gave_up = w.said("event(s) not delivered").min(missing - after_grace);
        let reported = after_grace + gave_up;
        a.expected += w.events;
        a.unique += unique;
        a.duplicates += dups;
        a.after_grace += after_grace;
        a.gave_up += gave_up;
        a.lost += missing - reported;
        if missing > reported && a.losers.len() < 10 {
            a.losers.push(format!(
                "{} lost {} of {} (reported {})",
                w.name(),
                missing - reported,
                w.events,
                w.reported_drops()
            ));
        }
    }
    a
}

fn min_max(values: impl Iterator<Item = u64>) -> String {
    let (mut lo, mut hi, mut any) = (u64::MAX, 0, false);
    for v in values {
        (lo, hi, any) = (lo.min(v), hi.max(v), true);
    }
    if any {
        format!("{lo}..{hi}")
    } else {
        "-".to_owned()
    }
}

// ----------------------------------------------------------------- the run

fn run(args: &Args) -> Result<bool, String> {
    let sink_bin = release_bin("mplog-sink")?;
    let worker_bin = release_bin("mplog-test-worker")?;
    if args.dir.exists() {
        fs::remove_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    }
    // The sink makes the socket's folder itself, mode 0700.
    fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let socket = args.dir.join("sock").join("sink.sock");
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
    let stop = Arc::new(AtomicBool::new(false));
    let finish = Arc::new(AtomicBool::new(false));
    let supervisor = {
        let (stop, finish) = (Arc::clone(&stop), Arc::clone(&finish));
        let rng = Rng(args.seed | 1);
        let run_for = args.duration;
        std::thread::spawn(move || supervise(sink, rng, run_for, &stop, &finish))
    };

    let mut rng = Rng((args.seed ^ 0x9E37_79B9_7F4A_7C15) | 1);
    let (done_tx, done_rx) = mpsc::channel::<Worker>();
    let spawner = Spawner {
        bin: worker_bin,
        socket,
        ack: args.ack,
        done: done_tx,
    };
    // Flooders run beside the `concurrency` others.
    let (mut flooded, mut flooding) = (false, 0usize);
    let start = Instant::now();
    let (mut next_id, mut running) = (1u64, 0usize);
    let mut specials_due: Vec<(&'static str, Duration)> = SPECIALS
        .iter()
        .map(|&(mode, at)| (mode, args.duration.mul_f64(at)))
        .collect();
    let mut workers = Vec::new();
    let mut failure = None;
    while start.elapsed() < args.duration {
        if !flooded && LONG_OUTAGE_NOW.load(Ordering::SeqCst) {
            flooded = true;
            for _ in 0..FLOODERS {
                if let Err(e) = spawner.spawn(next_id, FLOOD_EVENTS, None, true) {
                    failure = Some(e);
                }
                next_id += 1;
                flooding += 1;
            }
        }
        while running < args.concurrency {
            let mode = specials_due
                .iter()
                .position(|&(_, at)| start.elapsed() >= at)
                .map(|i| specials_due.remove(i).0);
            let events = rng.range(args.events * 2 / 3, args.events * 4 / 3);
            if let Err(e) = spawner.spawn(next_id, events, mode, false) {
                failure = Some(e);
                break;
            }
            next_id += 1;
            running += 1;
        }
        if failure.is_some() {
            break;
        }
        if let Ok(w) = done_rx.recv_timeout(Duration::from_millis(200)) {
            *if w.flood { &mut flooding } else { &mut running } -= 1;
            workers.push(w);
        }
    }
    stop.store(true, Ordering::SeqCst);
    running += flooding;
    while running > 0 {
        match done_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(w) => {
                running -= 1;
                workers.push(w);
            }
            Err(_) => {
                failure.get_or_insert_with(|| format!("{running} workers still running"));
                break;
            }
        }
    }
    // Let the last incarnation write and rotate what it got, then stop it.
    std::thread::sleep(Duration::from_secs(2));
    finish.store(true, Ordering::SeqCst);
    let sink_log = supervisor
        .join()
        .map_err(|_| "the supervisor panicked".to_owned())??;
    if let Some(e) = failure {
        return Err(e);
    }
    workers.sort_by_key(|w| w.id);
    // What workers said, for a look after the run.
    let said: String = workers
        .iter()
        .filter(|w| !w.stderr.is_empty())
        .map(|w| format!("== {} exit {:?}\n{}", w.name(), w.status, w.stderr))
        .collect();
    fs::write(args.dir.join("workers.stderr"), said).map_err(|e| format!("workers.stderr: {e}"))?;
    report(args, &workers, &sink_log, start.elapsed())
}

fn report(args: &Args, workers: &[Worker], sink: &SinkLog, took: Duration) -> Result<bool, String> {
    let files = read_files(&args.dir.join("logs"))?;
    let mut ok = true;
    println!(
        "workers: {} (soak-1..soak-{}), {} events logged, {:.0} s",
        workers.len(),
        workers.len(),
        workers.iter().map(|w| w.events).sum::<u64>(),
        took.as_secs_f64()
    );
    let outage = sink.long_outage_at.map_or("none".to_owned(), |at| {
        format!("{:?} at {:.0} s", LONG_OUTAGE, at.as_secs_f64())
    });
    println!(
        "sink: {} incarnations, {} SIGKILLs, long outage {outage} (worker grace {GRACE:?}); last: {}",
        sink.incarnations.len(),
        sink.kills,
        sink.incarnations.last().map_or("-", |i| i.status.as_str())
    );
    for i in &sink.incarnations {
        if i.status.starts_with("exited by itself") {
            ok = false;
            println!("  sink pid {} {} after {:?}", i.pid, i.status, i.lived);
        }
    }
    println!(
        "files: {} ({} rotated, {} of them gzipped); longest line {} bytes in {}",
        files.files, files.rotated, files.gzipped, files.longest.0, files.longest.1
    );

    let failed: Vec<&Worker> = workers
        .iter()
        .filter(|w| w.mode.is_none() && w.status != Some(0))
        .collect();
    if !failed.is_empty() {
        ok = false;
        println!("FAILED workers: {}", failed.len());
        for w in failed.iter().take(5) {
            let last = w.stderr.lines().last().unwrap_or("");
            println!("  {} exit {:?}: {last}", w.name(), w.status);
        }
    }
    for (label, found) in [
        ("consolidated all.log*", &files.all),
        ("per-key soak-K.log*", &files.own),
    ] {
        let a = account(found, workers);
        println!(
            "events in {label}: expected {}, found {}, duplicates {}, missing {}: dropped by workers after the grace and reported {}, reported not delivered by a guard that gave up {}, lost {}",
            a.expected,
            a.unique,
            a.duplicates,
            a.expected - a.unique,
            a.after_grace,
            a.gave_up,
            a.lost
        );
        for l in &a.losers {
            println!("  {l}");
        }
        ok &= a.lost == 0;
    }
    let sink_reported: u64 = files.sink_reported.values().sum();
    let worker_reported: u64 = workers.iter().map(Worker::reported_drops).sum();
    println!(
        "drop reports: workers' stderr {worker_reported}, sink's WARN lines {sink_reported}; malformed lines {}",
        files.malformed
    );

    for w in workers.iter().filter(|w| w.flood) {
        let (all, _) = tally(&files.all, w);
        println!(
            "flooder {} (started as the long outage began): {all}/{} events in all.log, reported dropped {}, sink's WARN lines for it {}",
            w.name(),
            w.events,
            w.reported_drops(),
            files.sink_reported.get(&w.id).copied().unwrap_or(0)
        );
    }
    for w in workers.iter().filter(|w| w.mode.is_some()) {
        let mode = w.mode.unwrap_or_default();
        if w.unsupported() {
            println!(
                "special {} --mode {mode}: not supported by this mplog-test-worker yet ({})",
                w.name(),
                w.stderr.lines().last().unwrap_or("")
            );
            continue;
        }
        let (all, _) = tally(&files.all, w);
        let (own, _) = tally(&files.own, w);
        let extra = match mode {
            "panic" => format!(
                ", panic ERROR lines in its file: {}",
                files.panics.get(&w.id).copied().unwrap_or(0)
            ),
            _ if mode.starts_with("oversized") => {
                format!(", longest line overall {} bytes", files.longest.0)
            }
            _ => String::new(),
        };
        println!(
            "special {} --mode {mode}: exit {:?}, {all}/{} events in all.log, {own}/{} in its file{extra}",
            w.name(),
            w.status,
            w.events,
            w.events
        );
    }
    let missing_specials: Vec<&str> = SPECIALS
        .iter()
        .map(|s| s.0)
        .filter(|m| !workers.iter().any(|w| w.mode == Some(*m)))
        .collect();
    if !missing_specials.is_empty() {
        println!("specials not run (run too short): {missing_specials:?}");
    }

    println!("sink descriptors (/proc/PID/fd) and RSS (VmRSS), sampled every second:");
    for (k, i) in sink.incarnations.iter().enumerate() {
        println!(
            "  #{:<3} pid {:<7} {:>5.1} s  fds {:<10} rss kB {}",
            k + 1,
            i.pid,
            i.lived.as_secs_f64(),
            min_max(i.fds.iter().copied()),
            min_max(i.rss_kb.iter().copied())
        );
    }
    let all_fds = sink.incarnations.iter().flat_map(|i| i.fds.iter().copied());
    let all_rss = sink
        .incarnations
        .iter()
        .flat_map(|i| i.rss_kb.iter().copied());
    let firsts = sink
        .incarnations
        .iter()
        .filter_map(|i| i.fds.first().copied());
    let lasts = sink
        .incarnations
        .iter()
        .filter_map(|i| i.fds.last().copied());
    println!(
        "  overall: fds {} (first sample of each incarnation {}, last {}), rss kB {}",
        min_max(all_fds),
        min_max(firsts),
        min_max(lasts),
        min_max(all_rss)
    );
    println!("soak: {}", if ok { "OK" } else { "FAILED" });
    Ok(ok)
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
