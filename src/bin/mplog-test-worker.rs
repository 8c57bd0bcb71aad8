//! A worker process for the cross-process tests in `tests/`.
//!
//! It logs numbered events through `tracing-mplog` so a test can check, line
//! by line, what reached the sink's files. Every event's message is
//! `w{id} e{n}` (`n` from 1 to `--events`), so presence, duplicates and
//! per-worker order can be read off the files.
//!
//! ```text
//! mplog-test-worker --id K --events N [--sleep-us U] [--threads T]
//!                   [--mode init|drop-newest:CAPACITY|hang-after-flush|fork:M
//!                          |flush-every:K|connect-raw|outage:M|log-dep|log-own|fork-load:F
//!                          |fork-load-composed:F|errors|typed|panic|exit
//!                          |oversized:BYTES]
//! ```
//!
//! - `init` (default): `tracing_mplog::worker::init()`, log, drop the guard.
//! - `drop-newest:C`: an `MpLayer` with `Backpressure::DropNewest` and a
//!   channel of `C` events; prints `logged N` once it has logged everything.
//! - `hang-after-flush`: log, `flush()`, print `flushed` on stdout, then
//!   sleep until killed.
//! - `fork:M`: log, then `fork()`; the child logs `M` events as worker
//!   `id + 1000` and flushes with `fork::after_fork_guard`, the parent logs
//!   the same number as itself meanwhile and waits for the child.
//!
//! - `fork-load:F`: `worker::init()`, then 3 threads call an
//!   `#[instrument] fn handle(req)` in a loop while the main thread forks
//!   `F` children (a few at a time); each child calls `handle` 50 times
//!   (each logs `req R` at debug inside its span), drops
//!   `fork::after_fork_guard()` and `_exit`s. A child still running 30 s
//!   after its fork is killed and counted as hung. Prints
//!   `forked F hung H failed X` and fails unless both are 0. Run it with
//!   `RUST_LOG='info,[handle]=debug'` to have `EnvFilter` lock per span.
//! - `fork-load-composed:F`: the same with a subscriber composed as the
//!   guide says for composers: `registry().with(EnvFilter from RUST_LOG)
//!   .with(MpLayer).with(fmt::layer() to stderr).fork_safe()`.
//! - `flush-every:K`: log, calling `flush()` after every `K` events and
//!   printing `flushed N` (N = events logged so far) after each; meant to be
//!   killed at a random moment.
//! - `connect-raw`: no `MpLayer`: connect to the endpoint, send a hello and
//!   one event by hand, then print `closed` if the sink closes the connection
//!   within 2 s, else `open` (for peer-credential tests).
//! - `outage:M`: `worker::init()` (so `TRACING_MPLOG_OUTAGE_GRACE` applies),
//!   log `N` events, print `logged N`, wait for a line on stdin (the test
//!   starts the sink meanwhile), call `flush()` until it succeeds (at most
//!   10 tries) and print `reconnected`, then log `M` more events numbered
//!   `N+1..=N+M` and drop the guard.
//! - `log-dep`: `worker::init()`, then the module `dep` (a stand-in for a
//!   dependency that logs through the `log` crate) logs `N` numbered
//!   records with `log::warn!(target: "dep", ...)`, and one
//!   `log::debug!` that `RUST_LOG=info` filters out.
//! - `log-own`: install a `log` logger of our own that prints each record
//!   as `own-logger: MESSAGE` on stdout, then `worker::init()` (which must
//!   keep it), then log as `log-dep` does.
//!
//! - `typed`: `worker::init()`, then `N` numbered events (`w{id} e{n}`)
//!   inside the spans `job{worker=id}` and `step{n}`, with typed fields by
//!   `n % 4`: 0 → WARN `n`, `ratio` (f64 n/4), `even=true`, `user` (the
//!   string `user-{n} "q" \ ]`), `error` (Display of an io error
//!   `disk "full"]`); 1 → INFO `n`, `ratio`, `even=false`, `user`;
//!   2 → ERROR `n`, `neg` (-n), `even=true`; 3 → DEBUG `n` (needs
//!   `RUST_LOG=debug`). For the forwarding tests.
//! - `json-twin:PATH`: the `typed` events plus a NaN, 128-bit, control
//!   character and message-less event, through an `MpLayer` and also
//!   through `fmt().json()` into PATH (tests/json_files.rs compares them).
//! - `errors`: `worker::init()`, log `N` numbered events at ERROR
//!   (`w{id} e{n}`), then one ERROR `thread 'main' panicked at src/job.rs:7:5:
//!   boom`, flush and drop the guard (for the monitor's alert tests).
//! - `panic`: `worker::init()`, log `N` numbered events, then
//!   `panic!("boom from worker {id}")` on the main thread with the guard
//!   alive (the process exits with 101); the panic hook's ERROR record is
//!   the last words under test.
//! - `exit`: `worker::init()`, log `N` numbered events, then
//!   `std::process::exit(0)` without dropping the guard (the exit flush is
//!   under test).
//! - `oversized:BYTES`: `worker::init()`, log `N/2` numbered events, one
//!   event whose message is `w{id} big` followed by `BYTES` bytes of `x`,
//!   then the rest (`N/2+1..=N`) numbered.
//!
//! With `--threads T`, events are spread over T threads (each thread logs
//! its own numbered series as worker `id * 100 + thread`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use tracing_mplog_workspace::flags;
use tracing_subscriber::prelude::*;

#[derive(Debug)]
struct Args {
    id: u64,
    events: u64,
    sleep_us: u64,
    threads: u64,
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    Init,
    DropNewest(usize),
    HangAfterFlush,
    Fork(u64),
    FlushEvery(u64),
    ConnectRaw,
    Outage(u64),
    LogDep,
    LogOwn,
    ForkLoad(u64),
    ForkLoadComposed(u64),
    Errors,
    Typed,
    /// `json-twin:PATH`: see [`json_twin`].
    JsonTwin(std::path::PathBuf),
    Panic,
    Exit,
    Oversized(usize),
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        id: 0,
        events: 10,
        sleep_us: 0,
        threads: 1,
        mode: Mode::Init,
    };
    for flag in flags(std::env::args().skip(1)) {
        let flag = flag?;
        let value = &flag.value;
        match flag.name.as_str() {
            "--id" => args.id = flag.number()?,
            "--events" => args.events = flag.number()?,
            "--sleep-us" => args.sleep_us = flag.number()?,
            "--threads" => args.threads = flag.number()?.max(1),
            "--mode" => {
                args.mode = match value.split_once(':') {
                    None if value == "init" => Mode::Init,
                    None if value == "hang-after-flush" => Mode::HangAfterFlush,
                    None if value == "connect-raw" => Mode::ConnectRaw,
                    None if value == "log-dep" => Mode::LogDep,
                    None if value == "log-own" => Mode::LogOwn,
                    None if value == "errors" => Mode::Errors,
                    None if value == "typed" => Mode::Typed,
                    None if value == "panic" => Mode::Panic,
                    None if value == "exit" => Mode::Exit,
                    Some(("json-twin", path)) => Mode::JsonTwin(path.into()),
                    Some(("oversized", b)) => {
                        Mode::Oversized(b.parse().map_err(|e| format!("--mode {value}: {e}"))?)
                    }
                    Some(("flush-every", k)) => Mode::FlushEvery(
                        k.parse::<u64>()
                            .map_err(|e| format!("--mode {value}: {e}"))?
                            .max(1),
                    ),
                    Some(("drop-newest", c)) => {
                        Mode::DropNewest(c.parse().map_err(|e| format!("--mode {value}: {e}"))?)
                    }
                    Some(("outage", m)) => {
                        Mode::Outage(m.parse().map_err(|e| format!("--mode {value}: {e}"))?)
                    }
                    Some(("fork-load-composed", f)) => Mode::ForkLoadComposed(
                        f.parse().map_err(|e| format!("--mode {value}: {e}"))?,
                    ),
                    Some(("fork-load", f)) => {
                        Mode::ForkLoad(f.parse().map_err(|e| format!("--mode {value}: {e}"))?)
                    }
                    Some(("fork", m)) => {
                        Mode::Fork(m.parse().map_err(|e| format!("--mode {value}: {e}"))?)
                    }
                    _ => return Err(format!("unknown --mode {value}")),
                }
            }
            _ => return Err(flag.unknown()),
        }
    }
    Ok(args)
}

/// Logs `events` numbered events as worker `id`.
fn log_series(id: u64, events: u64, sleep_us: u64) {
    log_range(id, 1..=events, sleep_us);
}

/// Logs the events numbered `range` as worker `id`.
fn log_range(id: u64, range: std::ops::RangeInclusive<u64>, sleep_us: u64) {
    let span = tracing::info_span!("job", worker = id);
    let _entered = span.enter();
    for n in range {
        tracing::info!(n, "w{id} e{n}");
        if sleep_us > 0 {
            std::thread::sleep(Duration::from_micros(sleep_us));
        }
    }
}

/// Logs as `id` over `threads` threads (each its own series).
fn log_all(args: &Args) {
    if args.threads == 1 {
        log_series(args.id, args.events, args.sleep_us);
        return;
    }
    std::thread::scope(|s| {
        for t in 0..args.threads {
            let id = args.id * 100 + t;
            s.spawn(move || log_series(id, args.events, args.sleep_us));
        }
    });
}

/// A stand-in for a dependency that logs through the `log` crate.
mod dep {
    /// Logs `events` numbered records as worker `id`, through `log`.
    pub(crate) fn work(id: u64, events: u64) {
        for n in 1..=events {
            log::warn!(target: "dep", "w{id} e{n} line={}", line!());
        }
        log::debug!(target: "dep", "w{id} filtered out by RUST_LOG=info");
    }

    /// A `log` logger a program might have installed before `worker::init()`.
    pub(crate) struct OwnLogger;

    pub(crate) static OWN_LOGGER: OwnLogger = OwnLogger;

    impl log::Log for OwnLogger {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Info
        }

        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                super::say(&format!("own-logger: {}", record.args()));
            }
        }

        fn flush(&self) {}
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The test reads these markers; a closed stdout only loses the marker.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    match args.mode {
        Mode::Init => {
            let _guard = tracing_mplog::worker::init()?;
            log_all(args);
        }
        Mode::DropNewest(capacity) => {
            let endpoint = std::env::var(tracing_mplog::ENDPOINT_ENV)?.parse()?;
            let (layer, guard) = tracing_mplog::MpLayer::builder()
                .endpoint(endpoint)
                .channel_capacity(capacity)
                .backpressure(tracing_mplog::Backpressure::DropNewest)
                .flush_timeout(Duration::from_secs(20))
                .build()?;
            tracing_subscriber::registry().with(layer).try_init()?;
            log_all(args);
            say(&format!("logged {}", args.events * args.threads));
            drop(guard);
        }
        Mode::HangAfterFlush => {
            let guard = tracing_mplog::worker::init()?;
            log_all(args);
            guard.flush()?;
            say("flushed");
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Mode::FlushEvery(k) => {
            let guard = tracing_mplog::worker::init()?;
            let id = args.id;
            let span = tracing::info_span!("job", worker = id);
            let _entered = span.enter();
            for n in 1..=args.events {
                tracing::info!(n, "w{id} e{n}");
                if n % k == 0 {
                    guard.flush()?;
                    say(&format!("flushed {n}"));
                }
            }
        }
        Mode::ConnectRaw => connect_raw(args)?,
        Mode::LogDep => {
            let _guard = tracing_mplog::worker::init()?;
            dep::work(args.id, args.events);
        }
        Mode::Errors => {
            let guard = tracing_mplog::worker::init()?;
            let id = args.id;
            for n in 1..=args.events {
                tracing::error!(n, "w{id} e{n}");
            }
            tracing::error!("thread 'main' panicked at src/job.rs:7:5: boom");
            guard.flush()?;
        }
        Mode::Typed => {
            let _guard = tracing_mplog::worker::init()?;
            typed_events(args.id, args.events);
        }
        Mode::JsonTwin(ref path) => json_twin(args, path)?,
        Mode::LogOwn => {
            log::set_logger(&dep::OWN_LOGGER)?;
            log::set_max_level(log::LevelFilter::Info);
            let _guard = tracing_mplog::worker::init()?;
            dep::work(args.id, args.events);
        }
        Mode::Outage(more) => {
            let guard = tracing_mplog::worker::init()?;
            log_range(args.id, 1..=args.events, args.sleep_us);
            say(&format!("logged {}", args.events));
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let mut tries = 0;
            while let Err(e) = guard.flush() {
                tries += 1;
                if tries == 10 {
                    return Err(e.into());
                }
            }
            say("reconnected");
            log_range(args.id, args.events + 1..=args.events + more, args.sleep_us);
            drop(guard);
        }
        Mode::ForkLoad(forks) => {
            let guard = tracing_mplog::worker::init()?;
            let result = fork_load::run(forks);
            drop(guard);
            result?;
        }
        Mode::ForkLoadComposed(forks) => {
            use tracing_mplog::fork::ForkSafeExt;
            let endpoint = std::env::var(tracing_mplog::ENDPOINT_ENV)?.parse()?;
            let (layer, guard) = tracing_mplog::MpLayer::builder()
                .endpoint(endpoint)
                .build()?;
            tracing_subscriber::registry()
                .with(tracing_subscriber::EnvFilter::try_from_default_env()?)
                .with(layer)
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(std::io::stderr),
                )
                .fork_safe()
                .try_init()?;
            let result = fork_load::run(forks);
            drop(guard);
            result?;
        }
        Mode::Fork(child_events) => {
            let _guard = tracing_mplog::worker::init()?;
            log_all(args);
            fork_and_log(args, child_events)?;
        }
        Mode::Panic => {
            let _guard = tracing_mplog::worker::init()?;
            log_all(args);
            let id = args.id;
            panic!("boom from worker {id}");
        }
        Mode::Exit => {
            let guard = tracing_mplog::worker::init()?;
            log_all(args);
            // The guard is never dropped: only the exit flush can save
            // what is still queued.
            std::mem::forget(guard);
            std::process::exit(0);
        }
        Mode::Oversized(bytes) => {
            let _guard = tracing_mplog::worker::init()?;
            let half = args.events / 2;
            log_range(args.id, 1..=half, args.sleep_us);
            let id = args.id;
            tracing::info!("w{id} big{}", "x".repeat(bytes));
            log_range(args.id, half + 1..=args.events, args.sleep_us);
        }
    }
    Ok(())
}

#[cfg(unix)]
fn fork_and_log(args: &Args, child_events: u64) -> Result<(), Box<dyn std::error::Error>> {
    // A logging thread keeps running while we fork: the child must not
    // inherit a lock it then waits on.
    let busy_id = args.id + 2000;
    let busy = std::thread::spawn(move || log_series(busy_id, child_events, 50));
    // SAFETY: the child only logs through tracing-mplog (which is built for
    // this: fresh state after a fork) and leaves with `_exit`.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error().into()),
        0 => {
            log_series(args.id + 1000, child_events, 0);
            drop(tracing_mplog::fork::after_fork_guard());
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        child => {
            let mut status = 0;
            // SAFETY: waits for our own child.
            if unsafe { libc::waitpid(child, &mut status, 0) } < 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            if busy.join().is_err() {
                return Err("logging thread panicked".into());
            }
            if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
                return Err(format!("forked child ended with status {status}").into());
            }
            Ok(())
        }
    }
}

#[cfg(unix)]
fn connect_raw(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    use tracing_mplog::wire::{OwnedEvent, OwnedFrame, OwnedHello, VERSION};
    let endpoint: tracing_mplog::Endpoint = std::env::var(tracing_mplog::ENDPOINT_ENV)?.parse()?;
    let tracing_mplog::Endpoint::Unix(path) = endpoint else {
        return Err("connect-raw needs a unix: endpoint".into());
    };
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    let mut bytes = Vec::new();
    OwnedFrame::Hello(OwnedHello {
        version: VERSION,
        capabilities: 0,
        pid: std::process::id(),
        start_time_ns: 1,
        process_name: format!("raw-{}", args.id),
        host: "test".into(),
        token: String::new(),
    })
    .encode(&mut bytes);
    OwnedFrame::Event(OwnedEvent {
        seq: 1,
        timestamp_ns: 1,
        level: tracing::Level::INFO,
        target: "raw".into(),
        module_path: None,
        file: None,
        line: None,
        thread_id: 1,
        thread_name: None,
        message: Some(format!("w{} e1", args.id)),
        fields: Vec::new(),
        spans: Vec::new(),
    })
    .encode(&mut bytes);
    // The sink may have closed already: a failed write also means "closed".
    let _ = stream.write_all(&bytes);
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => say("closed"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => say("closed"),
        _ => say("open"),
    }
    Ok(())
}

/// The `fork-load` mode: forks under logging load, hung children counted.
#[cfg(unix)]
mod fork_load {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    /// Requests each child handles (each logs one event).
    pub(crate) const CHILD_REQUESTS: u64 = 50;
    /// The busy threads' requests are numbered from here; one in 64 logs.
    const PARENT_BASE: u64 = 1 << 40;
    const BUSY_THREADS: usize = 3;
    /// Children alive at once.
    const IN_FLIGHT: usize = 4;
    /// A child still running this long after its fork is hung.
    const CHILD_DEADLINE: Duration = Duration::from_secs(30);

    #[tracing::instrument]
    fn handle(req: u64) {
        if req < PARENT_BASE || req % 64 == 0 {
            tracing::debug!("req {req}");
        }
    }

    fn child() -> ! {
        let ok = std::panic::catch_unwind(|| {
            for req in 0..CHILD_REQUESTS {
                handle(req);
            }
            drop(tracing_mplog::fork::after_fork_guard());
        })
        .is_ok();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) }
    }

    /// Waits for `pid` until `deadline`; kills it then. `Ok(true)`: exited
    /// 0; `Ok(false)`: failed; `Err(())`: hung (killed).
    fn wait_bounded(pid: libc::pid_t, deadline: Instant) -> Result<bool, ()> {
        loop {
            let mut status = 0;
            // SAFETY: waits for our own child without blocking.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                return Ok(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            }
            if r < 0 {
                return Ok(false);
            }
            if Instant::now() >= deadline {
                // SAFETY: kills and reaps our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                return Err(());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub(crate) fn run(forks: u64) -> Result<(), Box<dyn std::error::Error>> {
        let stop = Arc::new(AtomicBool::new(false));
        let busy: Vec<_> = (0..BUSY_THREADS as u64)
            .map(|t| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut req = PARENT_BASE + t * (1 << 32);
                    while !stop.load(Ordering::Relaxed) {
                        handle(req);
                        req += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        let (mut forked, mut hung, mut failed) = (0u64, Vec::new(), 0u64);
        let mut live: Vec<(libc::pid_t, Instant)> = Vec::new();
        while forked < forks && hung.is_empty() {
            while live.len() < IN_FLIGHT && forked < forks {
                // SAFETY: the child only logs through the fork-safe
                // subscriber of `worker::init` and leaves with `_exit`.
                match unsafe { libc::fork() } {
                    -1 => return Err(std::io::Error::last_os_error().into()),
                    0 => child(),
                    pid => live.push((pid, Instant::now() + CHILD_DEADLINE)),
                }
                forked += 1;
            }
            let (pid, deadline) = live.remove(0);
            match wait_bounded(pid, deadline) {
                Ok(true) => {}
                Ok(false) => failed += 1,
                Err(()) => hung.push(pid),
            }
        }
        for (pid, deadline) in live {
            match wait_bounded(pid, deadline) {
                Ok(true) => {}
                Ok(false) => failed += 1,
                Err(()) => hung.push(pid),
            }
        }
        stop.store(true, Ordering::Relaxed);
        for t in busy {
            if t.join().is_err() {
                return Err("a busy thread panicked".into());
            }
        }
        super::say(&format!(
            "forked {forked} hung {} failed {failed}",
            hung.len()
        ));
        if hung.is_empty() && failed == 0 {
            Ok(())
        } else {
            Err(format!("hung children (killed): {hung:?}; failed: {failed}").into())
        }
    }
}

#[cfg(not(unix))]
mod fork_load {
    pub(crate) fn run(_: u64) -> Result<(), Box<dyn std::error::Error>> {
        Err("fork is Unix-only".into())
    }
}

#[cfg(not(unix))]
fn connect_raw(_: &Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("connect-raw is Unix-only".into())
}

#[cfg(not(unix))]
fn fork_and_log(_: &Args, _: u64) -> Result<(), Box<dyn std::error::Error>> {
    Err("fork is Unix-only".into())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("mplog-test-worker: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mplog-test-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The events of `typed`: `events` numbered events (`w{id} e{n}`) in the
/// spans `job{worker=id}` and `step{n}`, with typed fields by `n % 4`.
fn typed_events(id: u64, events: u64) {
    let span = tracing::info_span!("job", worker = id);
    let _job = span.enter();
    for n in 1..=events {
        let step = tracing::debug_span!("step", n);
        let _step = step.enter();
        let err = std::io::Error::other("disk \"full\"]");
        let text = format!("user-{n} \"q\" \\ ]");
        match n % 4 {
            0 => {
                tracing::warn!(n, ratio = n as f64 / 4.0, even = true, user = text.as_str(), error = %err, "w{id} e{n}")
            }
            1 => tracing::info!(
                n,
                ratio = n as f64 / 4.0,
                even = false,
                user = text.as_str(),
                "w{id} e{n}"
            ),
            2 => tracing::error!(n, neg = -(n as i64), even = true, "w{id} e{n}"),
            _ => tracing::debug!(n, "w{id} e{n}"),
        }
    }
}

/// `json-twin:PATH`: the `typed` events, and two JSON edge cases, sent to
/// the sink and also written by `tracing_subscriber::fmt().json()` (file,
/// line, thread names and ids on) to PATH, for the sink's JSON lines to be
/// compared with.
fn json_twin(args: &Args, path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var(tracing_mplog::ENDPOINT_ENV)?.parse()?;
    let (layer, guard) = tracing_mplog::MpLayer::builder()
        .endpoint(endpoint)
        .build()?;
    let file = std::sync::Mutex::new(std::fs::File::create(path)?);
    let twin = tracing_subscriber::fmt::layer()
        .json()
        .with_file(true)
        .with_line_number(true)
        .with_thread_names(true)
        .with_thread_ids(true)
        .with_writer(file);
    tracing_subscriber::registry()
        .with(layer)
        .with(twin)
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .try_init()?;
    typed_events(args.id, args.events);
    // What JSON must escape or cannot hold, and an event without a message.
    tracing::warn!(
        nan = f64::NAN,
        big = 1_u128 << 100,
        "ctl \u{1}\u{1f}\t\n é 😀 \"q\""
    );
    tracing::info!(only = "fields");
    guard.flush()?;
    Ok(())
}
