//! The workers: starting release `mplog-test-worker`s with fresh names,
//! `concurrency` at a time for the whole run, the flooders when the long
//! outage begins and the special workers (`panic`, `exit`, `oversized`) at
//! their point of the run; a thread per worker waits for it and sends back
//! its exit status and stderr, from which its reported drops are read.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::sink::LONG_OUTAGE_NOW;
use crate::{Args, FLOOD_EVENTS, FLOODERS, GRACE, Rng, SPECIALS};

/// One worker's run, as the driver saw it.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) id: u64,
    pub(crate) events: u64,
    pub(crate) mode: Option<&'static str>,
    pub(crate) flood: bool,
    pub(crate) status: Option<i32>,
    pub(crate) stderr: String,
}

impl Worker {
    pub(crate) fn name(&self) -> String {
        format!("soak-{}", self.id)
    }

    /// The events the worker said it dropped after the grace, and those it
    /// said it could not deliver when its guard gave up.
    pub(crate) fn reported_drops(&self) -> u64 {
        self.said("event(s) were dropped") + self.said("event(s) not delivered")
    }

    /// The numbers before ` event(s)` on the stderr lines with `what`.
    pub(crate) fn said(&self, what: &str) -> u64 {
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
    pub(crate) fn unsupported(&self) -> bool {
        self.stderr.contains("unknown --mode")
    }
}

/// How to start workers.
pub(crate) struct Spawner {
    pub(crate) bin: PathBuf,
    pub(crate) socket: PathBuf,
    pub(crate) ack: Option<&'static str>,
    pub(crate) done: mpsc::Sender<Worker>,
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

/// The workers of a run: those started, those running, those done.
struct Pool<'a> {
    args: &'a Args,
    spawner: Spawner,
    rng: Rng,
    done: mpsc::Receiver<Worker>,
    start: Instant,
    next_id: u64,
    running: usize,
    /// Flooders run beside the `concurrency` others.
    flooding: usize,
    flooded: bool,
    specials_due: Vec<(&'static str, Duration)>,
    workers: Vec<Worker>,
    failure: Option<String>,
}

impl Pool<'_> {
    /// The flooders, once, when the long outage begins.
    fn start_flooders(&mut self) {
        if self.flooded || !LONG_OUTAGE_NOW.load(Ordering::SeqCst) {
            return;
        }
        self.flooded = true;
        for _ in 0..FLOODERS {
            if let Err(e) = self.spawner.spawn(self.next_id, FLOOD_EVENTS, None, true) {
                self.failure = Some(e);
            }
            self.next_id += 1;
            self.flooding += 1;
        }
    }

    /// Workers up to `concurrency`, a special one among them when one is
    /// due.
    fn fill(&mut self) {
        while self.running < self.args.concurrency {
            let mode = self
                .specials_due
                .iter()
                .position(|&(_, at)| self.start.elapsed() >= at)
                .map(|i| self.specials_due.remove(i).0);
            let events = self
                .rng
                .range(self.args.events * 2 / 3, self.args.events * 4 / 3);
            if let Err(e) = self.spawner.spawn(self.next_id, events, mode, false) {
                self.failure = Some(e);
                break;
            }
            self.next_id += 1;
            self.running += 1;
        }
    }

    /// Waits for every worker still running, up to 120 s for each.
    fn drain(&mut self) {
        self.running += self.flooding;
        while self.running > 0 {
            match self.done.recv_timeout(Duration::from_secs(120)) {
                Ok(w) => {
                    self.running -= 1;
                    self.workers.push(w);
                }
                Err(_) => {
                    let running = self.running;
                    self.failure
                        .get_or_insert_with(|| format!("{running} workers still running"));
                    break;
                }
            }
        }
    }
}

/// Starts workers from `start` for the run's duration, then sets `stop`
/// and waits for them: every worker that ended, and the first failure to
/// start or wait for one.
pub(crate) fn drive(
    args: &Args,
    spawner: Spawner,
    rng: Rng,
    done: mpsc::Receiver<Worker>,
    start: Instant,
    stop: &AtomicBool,
) -> (Vec<Worker>, Option<String>) {
    let mut pool = Pool {
        args,
        spawner,
        rng,
        done,
        start,
        next_id: 1,
        running: 0,
        flooding: 0,
        flooded: false,
        specials_due: SPECIALS
            .iter()
            .map(|&(mode, at)| (mode, args.duration.mul_f64(at)))
            .collect(),
        workers: Vec::new(),
        failure: None,
    };
    while start.elapsed() < args.duration {
        pool.start_flooders();
        pool.fill();
        if pool.failure.is_some() {
            break;
        }
        if let Ok(w) = pool.done.recv_timeout(Duration::from_millis(200)) {
            *if w.flood {
                &mut pool.flooding
            } else {
                &mut pool.running
            } -= 1;
            pool.workers.push(w);
        }
    }
    stop.store(true, Ordering::SeqCst);
    pool.drain();
    (pool.workers, pool.failure)
}
