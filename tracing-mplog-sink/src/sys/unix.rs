//! Unix: permission bits of created files; deleted-but-open files.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

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
#[cfg(feature = "sink")]
pub(crate) fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}
