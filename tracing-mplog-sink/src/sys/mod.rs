//! Platform-specific pieces, in one place so other platforms slot in here.
//!
//! Unix: file permission bits, noticing that an open file was deleted, and
//! the sink's transport (Unix stream sockets, the socket folder's mode, the
//! peer's credentials).
//! Other platforms: the file functions, doing what the platform allows; the
//! sink itself is Unix-only until a TCP transport lands here.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{
    Listener, PeerCred, Stream, bind_listener, current_uid, file_id, is_unlinked, peer_cred,
    set_create_mode,
};

/// Permission bits have no meaning here; files get the platform default.
#[cfg(not(unix))]
pub(crate) fn set_create_mode(_options: &mut std::fs::OpenOptions, _mode: u32) {}

/// No inode here: a file is known by its length only (`(0, 0)` for all).
#[cfg(not(unix))]
pub(crate) fn file_id(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Other platforms do not let an open file be deleted.
#[cfg(not(unix))]
pub(crate) fn is_unlinked(_file: &std::fs::File) -> bool {
    false
}
