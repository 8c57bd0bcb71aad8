//! Platform-specific pieces, in one place so other platforms slot in here.
//!
//! Unix: file permission bits, noticing that an open file was deleted
//! (`unix`), and the sink's transport (`socket`, feature `sink`: Unix
//! stream sockets, the socket folder's mode, the peer's credentials, the
//! descriptor limit).
//! Other platforms: the file functions, doing what the platform allows; the
//! sink itself is Unix-only until a TCP transport lands here.

#[cfg(all(unix, feature = "sink"))]
mod socket;
#[cfg(unix)]
mod unix;
#[cfg(all(unix, feature = "sink"))]
pub(crate) use socket::{
    Listener, PeerCred, Stream, bind_listener, current_uid, open_descriptors, out_of_descriptors,
    peer_cred, raise_nofile_limit, wait_readable,
};
#[cfg(all(unix, feature = "sink"))]
pub(crate) use unix::file_id;
#[cfg(unix)]
pub(crate) use unix::{is_unlinked, set_create_mode};

/// No descriptor limit to raise here (`None`: unknown).
#[cfg(not(unix))]
pub(crate) fn raise_nofile_limit() -> std::io::Result<Option<u64>> {
    Ok(None)
}

/// Not counted here.
#[cfg(not(unix))]
pub(crate) fn open_descriptors() -> Option<u64> {
    None
}

/// No such error here.
#[cfg(not(unix))]
pub(crate) fn out_of_descriptors(_e: &std::io::Error) -> bool {
    false
}

/// Permission bits have no meaning here; files get the platform default.
#[cfg(not(unix))]
pub(crate) fn set_create_mode(_options: &mut std::fs::OpenOptions, _mode: u32) {}

/// No inode here: a file is known by its length only (`(0, 0)` for all).
#[cfg(all(not(unix), feature = "sink"))]
pub(crate) fn file_id(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Other platforms do not let an open file be deleted.
#[cfg(not(unix))]
pub(crate) fn is_unlinked(_file: &std::fs::File) -> bool {
    false
}
