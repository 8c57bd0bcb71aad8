//! The `mplog-sink` process tests: the real binary, run to its end or
//! running in a folder of its own (a [`RunningSink`], whose stderr is
//! watched). Its events come from [`super::send_events`].

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use mplog_test_support::{RunningSink, Scratch, read};

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

/// Starts the binary with `args`, in `dir`, with `env` (name, value) added
/// to its environment (never to the test process's).
pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> RunningSink {
    RunningSink::start(bin().args(args).envs(env.iter().copied()).current_dir(dir))
}

/// A temporary folder for `mplog-sink` runs (see [`Scratch`]): the socket
/// `run/sink.sock` and the log folder `logs/` inside it.
#[derive(Debug)]
pub struct Place {
    scratch: Scratch,
    /// The `--listen` value: `unix:{dir}/run/sink.sock`.
    pub endpoint: String,
    /// The `--logdir` value: `{dir}/logs`.
    pub logdir: String,
}

impl Place {
    pub fn new() -> Self {
        let scratch = Scratch::new();
        let endpoint = scratch.unix_endpoint();
        let logdir = scratch.logdir().display().to_string();
        Self {
            scratch,
            endpoint,
            logdir,
        }
    }

    pub fn path(&self) -> &Path {
        self.scratch.path()
    }

    /// The log folder as a path.
    pub fn logs(&self) -> PathBuf {
        self.scratch.logdir()
    }

    /// The text of `logs/{file}`.
    pub fn read_log(&self, file: &str) -> String {
        read(self.scratch.log(file))
    }

    /// Starts the binary with `--listen` and `--logdir` of this place, then
    /// `extra`, and waits until it says it listens.
    pub fn start(&self, extra: &[&str]) -> RunningSink {
        let mut args = vec!["--listen", &self.endpoint, "--logdir", &self.logdir];
        args.extend_from_slice(extra);
        self.start_with(&args)
    }

    /// Starts the binary writing every process's lines, and its own, to
    /// `logs/all.log` alone (`--name all --consolidate --process-key none`)
    /// with the default template `template`, and waits until it listens.
    pub fn start_all_in_one(&self, template: &str) -> RunningSink {
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
    pub fn start_with(&self, args: &[&str]) -> RunningSink {
        let sink = start(self.path(), args, &[]);
        sink.wait_line(&format!("listening on {}", self.endpoint));
        sink
    }
}
