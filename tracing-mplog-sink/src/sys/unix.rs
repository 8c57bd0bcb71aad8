//! Unix: permission bits of created files.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

/// Files created through `options` get permission bits `mode` (less the
/// process umask); existing files keep theirs.
pub(crate) fn set_create_mode(options: &mut OpenOptions, mode: u32) {
    options.mode(mode);
}
