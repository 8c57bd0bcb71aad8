//! Child processes for tests: never left running by a failing test,
//! waited for with a bound, found in the build's target folder, measured
//! through `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

use crate::wait::{poll, timed_out};

/// A child process that is killed (and reaped) if the test ends, or
/// panics, before it was waited for: a failing test leaves no worker
/// behind. Derefs to its [`Child`].
#[derive(Debug)]
pub struct Proc(Option<Child>);

impl Proc {
    /// The child, which is no longer killed on drop.
    pub fn into_child(mut self) -> Child {
        self.0.take().expect("the child is still here")
    }
}

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().expect("the child is still here")
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child is still here")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl From<Child> for Proc {
    fn from(child: Child) -> Self {
        Proc(Some(child))
    }
}

impl From<Proc> for Child {
    fn from(proc: Proc) -> Self {
        proc.into_child()
    }
}

/// [`Command::spawn`] that returns a [`Proc`].
pub trait SpawnGuarded {
    /// Spawns the command (panics if it cannot), killed on drop.
    fn spawn_guarded(&mut self) -> Proc;
}

impl SpawnGuarded for Command {
    fn spawn_guarded(&mut self) -> Proc {
        let program = self.get_program().to_string_lossy().into_owned();
        Proc::from(
            self.spawn()
                .unwrap_or_else(|e| panic!("spawn {program}: {e}")),
        )
    }
}

/// Waits for a child (its stdout and stderr piped), panicking with its
/// stderr if it failed; returns its stdout.
pub fn wait_ok(child: impl Into<Child>) -> String {
    let out = child.into().wait_with_output().expect("wait for a child");
    assert!(
        out.status.success(),
        "the child failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits (polling) for `child` to exit, for at most `timeout`; past it the
/// child is killed and reaped, and the test panics naming `what` (say
/// "the worker to finish"). The child stays unreaped for
/// [`Child::wait_with_output`].
pub fn wait_exit(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    match poll(timeout, || child.try_wait().expect("poll a child")) {
        Ok(status) => status,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            timed_out(timeout, what, None)
        }
    }
}

/// Waits (polling, `WNOHANG`) for the child `pid` of this process, made
/// with `fork`, for at most `timeout`; returns its raw wait status. Past
/// the timeout the child is killed and reaped, and the test panics naming
/// `what`.
pub fn wait_pid(pid: libc::pid_t, timeout: Duration, what: &str) -> libc::c_int {
    let mut status = 0;
    // SAFETY: waitpid on our own child, with a valid out pointer.
    let reaped = poll(timeout, || unsafe {
        libc::waitpid(pid, &mut status, libc::WNOHANG) == pid
    });
    if reaped.is_err() {
        // SAFETY: kills and reaps our own child, not yet reaped.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, &mut status, 0);
        }
        timed_out(timeout, what, None);
    }
    status
}

/// The binary `relative` (a name such as `mplog-sink`, or
/// `examples/bench`) in the target profile folder that holds `beside`, a
/// binary of the same build such as `env!("CARGO_BIN_EXE_mplog-test-worker")`.
/// It is how a test reaches a binary of another package, which Cargo
/// gives it no `CARGO_BIN_EXE_` for: `cargo test --workspace` builds every
/// package's binaries and examples before it runs any test. No test runs
/// cargo; if the binary is missing the test panics, saying to run
/// `cargo test --workspace` or `build` (the cargo command that makes it).
pub fn binary_beside(beside: &str, relative: &str, build: &str) -> PathBuf {
    let profile = Path::new(beside)
        .parent()
        .unwrap_or_else(|| panic!("{beside} is in no folder"));
    let path = profile.join(relative);
    assert!(
        path.exists(),
        "{} is missing: the tests run the binaries of every package of the \
         workspace; build them with `cargo test --workspace` (which builds them \
         before any test runs) or `{build}`",
        path.display()
    );
    path
}

/// The number of kB of `field` (`VmRSS`, `VmHWM`, …) in
/// `/proc/{pid}/status`; `None` where there is no such file or line.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The resident memory (`VmRSS`) of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS").unwrap_or_else(|| panic!("no VmRSS for pid {pid}"))
}

/// The peak resident memory (`VmHWM`) of process `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM").unwrap_or_else(|| panic!("no VmHWM for pid {pid}"))
}

/// What the open descriptors of process `pid` point to (`/proc/{pid}/fd`);
/// none where that cannot be read.
pub fn fd_targets(pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or_else(
        |_| Vec::new(),
        |fds| {
            fds.filter_map(Result::ok)
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .collect()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let panic = std::panic::catch_unwind(|| {
            binary_beside(
                "/nonexistent/debug/worker",
                "mplog-sink",
                "cargo build -p x",
            )
        })
        .expect_err("no such binary");
        let text = panic.downcast_ref::<String>().expect("a formatted panic");
        assert!(
            text.starts_with("/nonexistent/debug/mplog-sink is missing")
                && text.contains("`cargo test --workspace`")
                && text.contains("`cargo build -p x`"),
            "{text}"
        );
    }
}
