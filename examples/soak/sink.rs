//! The sink's supervisor: it starts the release `mplog-sink`, SIGKILLs and
//! restarts it every 2–10 s, keeps it down once for the long outage, stops
//! the last incarnation with SIGTERM, and samples each incarnation's
//! descriptors and RSS every second.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::{LONG_OUTAGE, Rng, TEMPLATE};

/// One run of the sink, from start to SIGKILL (or the final SIGTERM).
#[derive(Debug, Default)]
pub(crate) struct Incarnation {
    pub(crate) pid: u32,
    pub(crate) lived: Duration,
    pub(crate) fds: Vec<u64>,
    pub(crate) rss_kb: Vec<u64>,
    pub(crate) status: String,
}

/// What the sink went through.
#[derive(Debug, Default)]
pub(crate) struct SinkLog {
    pub(crate) incarnations: Vec<Incarnation>,
    pub(crate) kills: u32,
    pub(crate) long_outage_at: Option<Duration>,
}

/// Set by the supervisor while the long outage lasts.
pub(crate) static LONG_OUTAGE_NOW: AtomicBool = AtomicBool::new(false);

pub(crate) struct Sink {
    pub(crate) bin: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) socket: PathBuf,
    pub(crate) backup_count: u64,
    pub(crate) started: u32,
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
pub(crate) fn supervise(
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
        let lifetime = Duration::from_millis(rng.range(2000, 10_000));
        let inc = incarnation(&mut sink, &mut log, last, lifetime, stop, finish)?;
        log.incarnations.push(inc);
        if last {
            return Ok(log);
        }
        if log.long_outage_at.is_none() && start.elapsed() >= run_for / 2 {
            log.long_outage_at = Some(start.elapsed());
            long_outage(stop);
        }
    }
}

/// Starts the sink and watches it until it exits by itself, its `lifetime`
/// is up or `stop` (or, for the `last` one, `finish`); then kills it.
fn incarnation(
    sink: &mut Sink,
    log: &mut SinkLog,
    last: bool,
    lifetime: Duration,
    stop: &AtomicBool,
    finish: &AtomicBool,
) -> Result<Incarnation, String> {
    let mut child = sink.spawn()?;
    let born = Instant::now();
    let mut inc = Incarnation {
        pid: child.id(),
        ..Incarnation::default()
    };
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
        inc.status = kill(&mut child, inc.pid, last, log)?;
    }
    inc.lived = born.elapsed();
    Ok(inc)
}

/// SIGKILLs the sink (counted in `log`), or SIGTERMs the `last` one, and
/// waits for it; says how it ended.
fn kill(child: &mut Child, pid: u32, last: bool, log: &mut SinkLog) -> Result<String, String> {
    let signal = if last { libc::SIGTERM } else { libc::SIGKILL };
    // SAFETY: signals our own child, which has not been waited for.
    unsafe { libc::kill(pid as i32, signal) };
    let status = child
        .wait()
        .map_err(|e| format!("wait for the sink: {e}"))?;
    Ok(if last {
        format!("stopped by SIGTERM: {status}")
    } else {
        log.kills += 1;
        "SIGKILLed".to_owned()
    })
}

/// Keeps the sink down for [`LONG_OUTAGE`] (or until `stop`), with
/// [`LONG_OUTAGE_NOW`] set meanwhile.
fn long_outage(stop: &AtomicBool) {
    LONG_OUTAGE_NOW.store(true, Ordering::SeqCst);
    let until = Instant::now() + LONG_OUTAGE;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    LONG_OUTAGE_NOW.store(false, Ordering::SeqCst);
}
