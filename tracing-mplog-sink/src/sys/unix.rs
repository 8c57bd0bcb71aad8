//! Unix: permission bits of created files; deleted-but-open files; the
//! sink's Unix stream socket, its folder and its peers' credentials.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// The sink's listening socket.
pub(crate) type Listener = UnixListener;
/// One accepted connection.
pub(crate) type Stream = UnixStream;

/// Files created through `options` get permission bits `mode` (less the
/// process umask); existing files keep theirs.
pub(crate) fn set_create_mode(options: &mut OpenOptions, mode: u32) {
    options.mode(mode);
}

/// Whether `file` has no name left on disk (it, or its folder, was deleted
/// while open): writes to it would succeed and be lost.
pub(crate) fn is_unlinked(file: &File) -> bool {
    file.metadata().is_ok_and(|meta| meta.nlink() == 0)
}

/// The identity of a file on disk (device and inode): tells whether a
/// path still names the file it named before (a rotation renames it).
pub(crate) fn file_id(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
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
