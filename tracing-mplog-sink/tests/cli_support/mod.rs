//! Helpers shared by the `mplog-sink` process tests: a folder for its
//! socket and logs, run the real binary, watch its stderr, signal it. (Its
//! events come from `sink_support::send_events`.)
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait of these tests may take before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The binary under test.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mplog-sink"));
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs the binary to completion with `args` in `dir`; (status, stderr).
pub fn run_to_end(dir: &Path, args: &[&str]) -> (ExitStatus, String) {
    let out = bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run mplog-sink");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A temp folder for `mplog-sink` runs: the socket `run/sink.sock` and the
/// log folder `logs/` inside it.
#[derive(Debug)]
pub struct Place {
    pub dir: tempfile::TempDir,
    /// The `--listen` value: `unix:{dir}/run/sink.sock`.
    pub endpoint: String,
    /// The `--logdir` value: `{dir}/logs`.
    pub logdir: String,
}

impl Place {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let endpoint = format!("unix:{}", dir.path().join("run/sink.sock").display());
        let logdir = dir.path().join("logs").display().to_string();
        Self {
            dir,
            endpoint,
            logdir,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The log folder as a path.
    pub fn logs(&self) -> PathBuf {
        self.path().join("logs")
    }

    /// The text of `logs/{file}`.
    pub fn read_log(&self, file: &str) -> String {
        read(self.logs().join(file))
    }

    /// Starts the binary with `--listen` and `--logdir` of this place, then
    /// `extra`, and waits until it says it listens.
    pub fn start(&self, extra: &[&str]) -> Running {
        let mut args = vec!["--listen", &self.endpoint, "--logdir", &self.logdir];
        args.extend_from_slice(extra);
        self.start_with(&args)
    }

    /// Starts the binary writing every process's lines, and its own, to
    /// `logs/all.log` alone (`--name all --consolidate --process-key none`)
    /// with the default template `template`, and waits until it listens.
    pub fn start_all_in_one(&self, template: &str) -> Running {
        let format = format!("default={template}");
        self.start(&[
            "--name",
            "all",
            "--consolidate",
            "--process-key",
            "none",
            "--format",
            &format,
        ])
    }

    /// Starts the binary with exactly `args` (which must make it listen on
    /// this place's endpoint) and waits until it says it listens.
    pub fn start_with(&self, args: &[&str]) -> Running {
        let sink = Running::start(self.path(), args);
        sink.wait_line(&format!("listening on {}", self.endpoint));
        sink
    }
}

/// The text of the file at `path`.
pub fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A running `mplog-sink` whose stderr is collected line by line.
#[derive(Debug)]
pub struct Running {
    child: Child,
    stderr: Arc<(Mutex<Stderr>, Condvar)>,
}

#[derive(Debug, Default)]
struct Stderr {
    text: String,
    closed: bool,
}

impl Running {
    /// Starts the binary with `args`, in `dir`.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(dir, args, &[])
    }

    /// Starts the binary with `args`, in `dir`, with `env` (name, value)
    /// added to its environment (never to the test process's).
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = bin()
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mplog-sink");
        let pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new((Mutex::new(Stderr::default()), Condvar::new()));
        let shared = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut lines = BufReader::new(pipe).lines();
            while let Some(Ok(line)) = lines.next() {
                let (lock, cond) = &*shared;
                let mut s = lock.lock().expect("stderr lock");
                s.text.push_str(&line);
                s.text.push('\n');
                cond.notify_all();
            }
            let (lock, cond) = &*shared;
            lock.lock().expect("stderr lock").closed = true;
            cond.notify_all();
        });
        Self { child, stderr }
    }

    /// Waits until stderr has a line equal to `line`; panics (with the
    /// stderr so far) after [`TIMEOUT`] or if stderr closes first.
    pub fn wait_line(&self, line: &str) {
        let (lock, cond) = &*self.stderr;
        let deadline = Instant::now() + TIMEOUT;
        let mut s = lock.lock().expect("stderr lock");
        loop {
            if s.text.lines().any(|l| l == line) {
                return;
            }
            let now = Instant::now();
            if s.closed || now >= deadline {
                panic!(
                    "no line {line:?} on stderr ({}):\n{}",
                    if s.closed { "closed" } else { "timeout" },
                    s.text
                );
            }
            s = cond.wait_timeout(s, deadline - now).expect("stderr lock").0;
        }
    }

    /// Everything on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.0.lock().expect("stderr lock").text.clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`libc::SIGTERM`, …) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our
        // own child, not yet reaped (we hold the `Child`).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Sends SIGTERM, waits for the drain and an exit with status 0 (else
    /// panics with the stderr); returns the whole stderr.
    pub fn stop(self) -> String {
        self.signal(libc::SIGTERM);
        self.wait_exit_ok()
    }

    /// [`Running::wait_exit`], asserting the status is 0; returns stderr.
    pub fn wait_exit_ok(self) -> String {
        let (status, stderr) = self.wait_exit();
        assert_eq!(status.code(), Some(0), "{stderr}");
        stderr
    }

    /// Waits for the process to exit (at most [`TIMEOUT`], then kills it and
    /// panics); returns its status and its whole stderr.
    pub fn wait_exit(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The reader thread sees EOF right after the exit.
                let (lock, cond) = &*self.stderr;
                let mut s = lock.lock().expect("stderr lock");
                while !s.closed {
                    s = cond
                        .wait_timeout(s, Duration::from_millis(100))
                        .expect("stderr lock")
                        .0;
                }
                return (status, s.text.clone());
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("mplog-sink did not exit; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that failed half-way must not leave a daemon behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
