//! Platform-specific pieces, in one place so other platforms slot in here.
//!
//! Unix: file permission bits, and noticing that an open file was deleted.
//! Other platforms: the same functions, doing what the platform allows.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{is_unlinked, set_create_mode};

/// Permission bits have no meaning here; files get the platform default.
#[cfg(not(unix))]
pub(crate) fn set_create_mode(_options: &mut std::fs::OpenOptions, _mode: u32) {}

/// Other platforms do not let an open file be deleted.
#[cfg(not(unix))]
pub(crate) fn is_unlinked(_file: &std::fs::File) -> bool {
    false
}
