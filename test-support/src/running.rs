//! A running `mplog-sink` process whose stderr is collected line by line,
//! to wait for what it says (that it listens, its report) and to stop it.

use std::borrow::BorrowMut;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::TIMEOUT;
use crate::wait::wait_until;

/// Its stderr so far, and whether it has closed.
#[derive(Debug, Default)]
struct Stderr {
    text: String,
    closed: bool,
}

/// A running `mplog-sink` (started from any command that ends up running
/// it) whose stderr is collected: waits for its lines, signals, and a stop
/// that checks its exit. Every wait is bounded by [`TIMEOUT`]; the process
/// is killed if the test drops it still running (a failing test leaves no
/// daemon behind).
#[derive(Debug)]
pub struct RunningSink {
    child: Child,
    stderr: Arc<(Mutex<Stderr>, Condvar)>,
}

impl RunningSink {
    /// Starts `cmd` with stdin and stdout null and stderr collected.
    pub fn start(mut cmd: impl BorrowMut<Command>) -> Self {
        let mut child = cmd
            .borrow_mut()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mplog-sink");
        let pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new((Mutex::new(Stderr::default()), Condvar::new()));
        let shared = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let (lock, cond) = &*shared;
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = lock.lock().expect("stderr lock");
                s.text.push_str(&line);
                s.text.push('\n');
                cond.notify_all();
            }
            lock.lock().expect("stderr lock").closed = true;
            cond.notify_all();
        });
        Self { child, stderr }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.0.lock().expect("stderr lock").text.clone()
    }

    /// Waits until stderr is closed, or `until` holds for what it has
    /// said so far (then returns), for at most [`TIMEOUT`].
    fn wait_stderr<T>(&self, mut until: impl FnMut(&str) -> Option<T>) -> Result<T, String> {
        let (lock, cond) = &*self.stderr;
        let deadline = Instant::now() + TIMEOUT;
        let mut s: MutexGuard<'_, Stderr> = lock.lock().expect("stderr lock");
        loop {
            if let Some(found) = until(&s.text) {
                return Ok(found);
            }
            let now = Instant::now();
            if s.closed || now >= deadline {
                let why = if s.closed { "closed" } else { "timed out" };
                return Err(format!("stderr {why}; so far:\n{}", s.text));
            }
            s = cond.wait_timeout(s, deadline - now).expect("stderr lock").0;
        }
    }

    /// The first stderr line for which `matches` holds, waiting for it;
    /// panics naming `what` (and with the stderr so far) if stderr closes
    /// or [`TIMEOUT`] passes first.
    fn wait_for_line(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        self.wait_stderr(|text| text.lines().find(|l| matches(l)).map(str::to_owned))
            .unwrap_or_else(|e| panic!("no stderr line {what}: {e}"))
    }

    /// Waits until stderr has a line equal to `line`.
    pub fn wait_line(&self, line: &str) {
        self.wait_for_line(&format!("{line:?}"), |l| l == line);
    }

    /// Waits for a stderr line starting with `prefix`; returns the line.
    pub fn wait_prefix(&self, prefix: &str) -> String {
        self.wait_for_line(&format!("starting with {prefix:?}"), |l| {
            l.starts_with(prefix)
        })
    }

    /// The endpoint of its `listening on SCHEME://…` line (`scheme` `tcp`
    /// or `tls`), waiting for it.
    pub fn endpoint(&self, scheme: &str) -> String {
        let line = self.wait_prefix(&format!("listening on {scheme}://"));
        line["listening on ".len()..].to_owned()
    }

    /// The `HOST:PORT` of its `metrics on http://HOST:PORT/metrics` line,
    /// waiting for it.
    pub fn metrics_addr(&self) -> String {
        let line = self.wait_prefix("metrics on http://");
        line["metrics on http://".len()..]
            .trim_end_matches("/metrics")
            .to_owned()
    }

    /// Sends `signal` (`libc::SIGTERM`, …) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our
        // own child, not yet reaped (we hold the `Child`).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits for the process to exit, then for the end of its stderr, each
    /// for at most [`TIMEOUT`] (then panics, and the drop kills it);
    /// returns its status and its whole stderr.
    pub fn wait_exit(mut self) -> (ExitStatus, String) {
        let status = wait_until(TIMEOUT, "mplog-sink to exit", || {
            match self.child.try_wait().expect("poll mplog-sink") {
                Some(status) => Ok(status),
                None => Err(format!("stderr so far:\n{}", self.stderr())),
            }
        });
        // The reader sees the end of the pipe right after the exit (unless
        // a process the sink started holds it): this returns once it has.
        let _ = self.wait_stderr(|_| None::<()>);
        let s = self.stderr.0.lock().expect("stderr lock");
        assert!(
            s.closed,
            "mplog-sink exited ({status}) but its stderr did not end within {TIMEOUT:?}:\n{}",
            s.text
        );
        (status, s.text.clone())
    }

    /// [`RunningSink::wait_exit`], asserting the status is 0; returns the
    /// whole stderr.
    pub fn wait_exit_ok(self) -> String {
        let (status, stderr) = self.wait_exit();
        assert_eq!(
            status.code(),
            Some(0),
            "mplog-sink exited with {status}:\n{stderr}"
        );
        stderr
    }

    /// Sends SIGTERM and waits for the drain and an exit with status 0
    /// (else panics with the stderr); returns the whole stderr.
    pub fn stop(self) -> String {
        self.signal(libc::SIGTERM);
        self.wait_exit_ok()
    }
}

impl Drop for RunningSink {
    fn drop(&mut self) {
        // A test that failed half-way must not leave a daemon behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
