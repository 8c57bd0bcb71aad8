//! Unix implementation of [`crate::sys`].

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Endpoint;

/// Waits until the socket `fd` has something to read (or is closed), at
/// most `timeout`. Errors and interruptions end the wait early: the caller
/// reads without blocking and looks again.
pub(crate) fn wait_readable(fd: std::os::fd::RawFd, timeout: std::time::Duration) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // Rounded up: a wait shorter than a millisecond must not become a spin.
    let ms = timeout.as_micros().div_ceil(1000);
    let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd that outlives the call.
    unsafe { libc::poll(&mut pfd, 1, ms) };
}

/// Bumped in every child right after `fork()` by a `pthread_atfork` hook.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_fork_prepare() {
    crate::fork::gate::prepare();
}

extern "C" fn on_fork_parent() {
    crate::fork::gate::parent();
}

extern "C" fn on_fork_child() {
    // Async-signal-safe: atomics only, no lock, no allocation.
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
    crate::fork::gate::child();
}

/// Registers the `fork()` hooks (once per process; children inherit them):
/// prepare and parent quiesce [`ForkSafe`](crate::fork::ForkSafe)-wrapped
/// subscribers around the fork, child marks the new process.
pub(crate) fn install_fork_hook() -> io::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        // SAFETY: the hooks are valid `extern "C" fn()`s that stay alive
        // for the whole process; the child hook is async-signal-safe.
        let rc = unsafe {
            libc::pthread_atfork(
                Some(on_fork_prepare),
                Some(on_fork_parent),
                Some(on_fork_child),
            )
        };
        if rc != 0 {
            result = Err(io::Error::from_raw_os_error(rc));
        }
    });
    result
}

/// Registers `hook` to run at `exit()` (once per process, whatever `hook`;
/// children inherit it). `std::process::exit` and returning from `main`
/// run it; `_exit` (a `fork()`ed child's usual end) and signals do not.
pub(crate) fn install_exit_hook(hook: extern "C" fn()) -> io::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        // SAFETY: `hook` is a valid `extern "C" fn()` that lives for the
        // whole process.
        if unsafe { libc::atexit(hook) } != 0 {
            result = Err(io::Error::other("atexit refused the exit flush"));
        }
    });
    result
}

/// How many `fork()`s separate this process from the one that installed the
/// hook: a value different from a cached one means "we are a child now".
pub(crate) fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Acquire)
}

/// Now, in nanoseconds since the Unix epoch (UTC): one
/// `clock_gettime(CLOCK_REALTIME)` (a vDSO call on Linux) and one multiply,
/// instead of `SystemTime::now().duration_since(UNIX_EPOCH)` and its
/// `Duration` and `u128` arithmetic. 0 before the epoch, as that gave.
// `time_t` and `c_long` are `i64` here, `i32` on 32-bit targets.
#[allow(clippy::useless_conversion)]
pub(crate) fn realtime_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME exists on
    // every Unix.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } != 0 {
        return 0;
    }
    i64::from(ts.tv_sec)
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(ts.tv_nsec))
        .max(0)
}

/// The calling thread's id: the kernel thread id on Linux/Android, a
/// process-unique counter elsewhere. Cached per thread and refreshed after
/// a fork (the forking thread gets a new kernel id in the child).
pub(crate) fn thread_id() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static CACHED: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
    }
    let generation = fork_generation();
    CACHED.with(|c| match c.get() {
        Some((g, id)) if g == generation => id,
        _ => {
            let id = os_thread_id();
            c.set(Some((generation, id)));
            id
        }
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn os_thread_id() -> u64 {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    u64::try_from(tid).unwrap_or(0)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn os_thread_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The host name, or `"unknown"` if the system will not say.
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_owned();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// A connection to the sink.
#[derive(Debug)]
pub(crate) struct Conn(UnixStream);

impl Conn {
    pub(crate) fn connect(endpoint: &Endpoint) -> io::Result<Self> {
        match endpoint {
            Endpoint::Unix(path) => UnixStream::connect(path).map(Conn),
            // TCP and TLS live in `crate::transport`.
            _ => Err(io::ErrorKind::InvalidInput.into()),
        }
    }

    /// The socket, to read the sink's reply to a hello.
    pub(crate) fn stream(&self) -> &UnixStream {
        &self.0
    }

    /// One `send` that never raises `SIGPIPE`: a sink that went away is an
    /// `EPIPE` error here, not the end of the worker.
    pub(crate) fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        const FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        const FLAGS: libc::c_int = 0;
        // SAFETY: the pointer and length describe `bytes`; the fd is open for
        // as long as `self.0` lives.
        let n = unsafe {
            libc::send(
                self.0.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                FLAGS,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n.unsigned_abs())
        }
    }

    /// Reads what the sink sent without blocking, appending it to `out`:
    /// `true` if the sink has closed its side (a graceful sink shutdown asks
    /// its workers to go this way: it shuts down its write side and keeps
    /// reading until each worker closes) or the connection broke.
    pub(crate) fn read_available(&self, out: &mut Vec<u8>) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: the pointer and length describe `buf`; the fd is open
            // for as long as `self.0` lives.
            let n = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            match usize::try_from(n) {
                Ok(0) => return true,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => {
                    let e = io::Error::last_os_error();
                    return match e.kind() {
                        io::ErrorKind::WouldBlock => false,
                        io::ErrorKind::Interrupted => continue,
                        _ => true,
                    };
                }
            }
        }
    }
}
