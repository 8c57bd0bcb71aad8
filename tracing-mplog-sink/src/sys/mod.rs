//! Platform-specific pieces, in one place so other platforms slot in here.
//!
//! Unix: file permission bits. Other platforms: the same functions, doing
//! what the platform allows (nothing, for modes).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::set_create_mode;

/// Permission bits have no meaning here; files get the platform default.
#[cfg(not(unix))]
pub(crate) fn set_create_mode(_options: &mut std::fs::OpenOptions, _mode: u32) {}
