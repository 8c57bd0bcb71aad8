//! Unix, for the sink (feature `sink`): its Unix stream socket, its
//! folder and its peers' credentials; the descriptor limit.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// The sink's listening socket.
pub(crate) type Listener = UnixListener;
/// One accepted connection.
pub(crate) type Stream = UnixStream;

/// Waits until one of `sockets` is readable (data, an end of stream, an
/// error; for a listening socket, a connection in its backlog), at most
/// `timeout`: `true` if one is. `poll` keeps to the timeout within
/// microseconds, where a socket's read timeout is rounded up to the
/// kernel's tick (4 ms at 250 Hz). An interrupted wait returns `false`;
/// an error (none is expected of valid descriptors) is returned for the
/// caller to fall back on its read timeout or a sleep.
pub(crate) fn wait_readable(
    sockets: &[std::os::unix::io::RawFd],
    timeout: std::time::Duration,
) -> io::Result<bool> {
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let n = fds.len() as libc::nfds_t;
    let rc = poll_for(&mut fds, n, timeout);
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(rc > 0)
}

/// `ppoll`: the timeout to the nanosecond (the sink waits for
/// acknowledgements in steps from 100 µs).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn poll_for(
    fds: &mut [libc::pollfd],
    n: libc::nfds_t,
    timeout: std::time::Duration,
) -> libc::c_int {
    let ts = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // SAFETY: `fds` is a valid array of `n` pollfd structs and `ts` a valid
    // timespec, both outliving the call; no signal mask is given.
    unsafe { libc::ppoll(fds.as_mut_ptr(), n, &ts, std::ptr::null()) }
}

/// `poll`: the timeout in whole milliseconds, rounded up (a wait shorter
/// than one must not become a spin).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn poll_for(
    fds: &mut [libc::pollfd],
    n: libc::nfds_t,
    timeout: std::time::Duration,
) -> libc::c_int {
    let ms = timeout.as_micros().div_ceil(1000);
    let ms = libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fds` is a valid array of `n` pollfd structs that outlives
    // the call.
    unsafe { libc::poll(fds.as_mut_ptr(), n, ms) }
}

/// The effective user id of this process.
pub(crate) fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Who is at the other end of a connection, as the kernel saw it at
/// `connect` time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerCred {
    /// The peer's effective user id.
    pub(crate) uid: u32,
    /// The peer's process id (0 where the platform does not say).
    pub(crate) pid: u32,
}

/// The peer's credentials (`SO_PEERCRED` on Linux, `getpeereid` elsewhere).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_cred(stream: &Stream) -> io::Result<PeerCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given, and
    // the descriptor belongs to `stream` for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCred {
        uid: cred.uid,
        pid: u32::try_from(cred.pid).unwrap_or(0),
    })
}

/// The peer's credentials (`getpeereid`: no pid on these platforms).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn peer_cred(stream: &Stream) -> io::Result<PeerCred> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: both pointers are valid for writes; the descriptor is open.
    let rc = unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCred { uid, pid: 0 })
}

/// Binds the socket at `path`.
///
/// A missing parent folder is created with permission bits `dir_mode`
/// (an existing folder keeps its own). A socket file left by an earlier
/// sink is removed, unless a sink still answers on it (`AddrInUse`); a
/// path that exists and is not a socket is refused.
pub(crate) fn bind_listener(
    path: &Path,
    dir_mode: u32,
) -> Result<Listener, (&'static str, io::Error)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(dir_mode)
                .create(dir)
                .map_err(|e| ("cannot create the socket folder", e))?;
            // The mode asked for, whatever the umask.
            fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(dir_mode))
                .map_err(|e| ("cannot set the mode of the socket folder", e))?;
        }
    }
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err((
                    "another sink is listening on",
                    io::Error::from(io::ErrorKind::AddrInUse),
                ));
            }
            fs::remove_file(path).map_err(|e| ("cannot remove the stale socket", e))?;
        }
        Ok(_) => {
            return Err((
                "refusing to replace a file that is not a socket",
                io::Error::from(io::ErrorKind::AlreadyExists),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(("cannot inspect the socket path", e)),
    }
    UnixListener::bind(path).map_err(|e| ("cannot bind the socket", e))
}

/// Raises the soft limit on open descriptors (`RLIMIT_NOFILE`) to the hard
/// limit, and returns the soft limit in force afterwards (`None`: no limit).
/// A hard limit of "infinity" is capped where the kernel caps it
/// (`/proc/sys/fs/nr_open` on Linux, else 1 048 576).
pub(crate) fn raise_nofile_limit() -> io::Result<Option<u64>> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut want = lim.rlim_max;
    if want == libc::RLIM_INFINITY {
        want = fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<libc::rlim_t>().ok())
            .unwrap_or(1 << 20);
    }
    if lim.rlim_cur != libc::RLIM_INFINITY && lim.rlim_cur < want {
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; the soft limit stays at or
        // below the hard one.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = want;
        }
    }
    Ok((lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur))
}

/// How many descriptors this process has open now (`None` where the
/// system does not list them in `/proc/self/fd` or `/dev/fd`).
pub(crate) fn open_descriptors() -> Option<u64> {
    for dir in ["/proc/self/fd", "/dev/fd"] {
        if let Ok(entries) = fs::read_dir(dir) {
            // The listing itself holds one descriptor while it runs.
            return Some((entries.count() as u64).saturating_sub(1));
        }
    }
    None
}

/// Whether `e` says the process or the system is out of descriptors.
pub(crate) fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
