//! Letting go of per-key files nobody writes: a sink keyed by pid makes a
//! new per-key file for every worker, and over months it would remember
//! every one (its output, its key, its claim on the file name) and walk
//! them all at every flush. Beyond [`IDLE_PER_OPEN`] times `max_open_files`
//! closed per-key files with nothing kept, the least recently written are
//! let go of; a key that writes again gets its file back from the disk, in
//! append mode with its rotation state read from the file, as after a
//! restart. Their series leave the metrics with them.

use std::collections::HashSet;
use std::sync::PoisonError;

use super::Writer;

/// How many closed per-key files the writer remembers, per file it may keep
/// open: with the default 256 open, 1 024 closed ones.
pub(super) const IDLE_PER_OPEN: usize = 4;

impl Writer {
    /// Lets go of the least recently written idle per-key files once more
    /// than the limit are remembered, down to three quarters of it. Runs
    /// between batches only (a batch holds its outputs' indices).
    pub(super) fn forget_idle_outputs(&mut self) {
        let limit = IDLE_PER_OPEN * self.cfg.fds.max_open_files.max(1);
        let closed = self.outputs.in_use().saturating_sub(self.lru.len());
        if closed <= limit {
            return;
        }
        let mut idle: Vec<(u64, usize)> = (self.outputs.files.iter().enumerate())
            .filter(|(_, o)| o.is_idle())
            .map(|(i, o)| (o.written, i))
            .collect();
        idle.sort_unstable();
        let excess = closed.saturating_sub(limit * 3 / 4);
        let mut gone = HashSet::new();
        for &(_, i) in idle.iter().take(excess) {
            let Some(path) = self.outputs.vacate(i) else {
                continue;
            };
            if let Some(key) = self.claims.remove(&path) {
                self.key_files.remove(&key);
            }
            gone.insert(path);
        }
        // One pass over the list of files, not one per file let go of.
        (self.cfg.files.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p| !gone.contains(p));
    }
}
