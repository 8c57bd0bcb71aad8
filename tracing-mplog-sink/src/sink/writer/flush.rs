//! The writer's flushes: every file's buffer handed to the OS, after the
//! high-water marks that claim it are saved and before the
//! acknowledgements are released (see `seen`); and the last flush and the
//! sync at shutdown.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use tracing_core::Level;

use super::{Health, SINK_TARGET, Writer};
use crate::sink::output::Output;
use crate::sink::report::Tally;
use crate::sink::seen::FileSpan;

impl Writer {
    /// Hands every file's buffer to the OS. The high-water marks are saved
    /// first, with what the flush writes (see `seen`): a sink killed in the
    /// middle of it is cut back to before it on restart.
    pub(super) fn flush_all(&mut self) {
        if self.ledger.is_waiting() {
            let spans: Vec<FileSpan> = self
                .outputs
                .files
                .iter()
                // Nothing buffered, nothing to claim (and no lock taken).
                .filter(|o| o.unflushed > 0 || !o.pending.is_empty())
                .filter_map(|o| o.file.as_ref()?.pending_write())
                .collect();
            if let Some(why) = self.ledger.before_flush(&spans) {
                self.notice(Level::WARN, &why);
            }
        }
        let mut changes = Vec::new();
        for out in &mut self.outputs.files {
            if out.per_key && out.lru.is_none() && out.pending.is_empty() && out.unflushed == 0 {
                // Closed to make room: nothing buffered.
                continue;
            }
            match out.flush(&self.cfg, &mut self.tally) {
                Health::Same => {}
                h => changes.push((out.path.clone(), h)),
            }
        }
        for (path, h) in changes {
            self.report_health(&path, h);
        }
        self.release_acks();
        self.cfg.watch.publish(&self.tally, &self.outputs);
        self.recycle_held();
    }

    /// Gives the buffers of the batches written since the last flush back
    /// to the readers (see `batch::recycle`); a batch some file still
    /// keeps (its write failed) is freed once that file lets it go.
    fn recycle_held(&mut self) {
        for batch in self.held.drain(..) {
            if let Ok(lines) = Arc::try_unwrap(batch) {
                crate::sink::batch::recycle(lines);
            }
        }
    }

    /// Publishes the acknowledgements of lines now handed to the OS: only
    /// when every file took its lines (none kept for a retry, no buffer left
    /// unflushed), and after the high-water marks are saved, so an
    /// acknowledged line is in the files and a restarted sink knows it is.
    fn release_acks(&mut self) {
        let all_written = self
            .outputs
            .files
            .iter()
            .all(|o| o.pending.is_empty() && o.unflushed == 0);
        if all_written {
            self.ledger.release();
        }
    }

    /// The last flush, then every file synced to disk; the counts.
    pub(super) fn finish(mut self) -> Tally {
        let flushing = Instant::now();
        self.flush_all();
        // A file that failed and works again (this last flush did not fail),
        // but too recently to be reported while running, is reported now.
        let healed: Vec<usize> = (0..self.outputs.files.len())
            .filter(|&i| {
                let out = &self.outputs.files[i];
                out.failing
                    && out.reported
                    && out.pending.is_empty()
                    && out.file.is_some()
                    && out.last_failure.is_some_and(|t| t < flushing)
            })
            .collect();
        if !healed.is_empty() {
            for i in healed {
                if let Some(out) = self.outputs.files.get_mut(i) {
                    out.failing = false;
                    out.reported = false;
                    self.changes.push((i, Health::Recovered));
                }
            }
            self.report_changes();
            self.flush_all();
        }
        self.sync_all();
        self.tally
    }

    /// Syncs every file and counts what could not be written.
    fn sync_all(&mut self) {
        for out in &self.outputs.files {
            let result = match &out.file {
                Some(file) => file.sync_all(),
                None => Ok(()),
            };
            synced(out, result, &mut self.tally);
        }
    }
}

/// Counts and reports the sync of `out`, waits for its background work
/// (compression, pruning), and counts the lines it could not write.
fn synced(out: &Output, result: io::Result<()>, tally: &mut Tally) {
    if let Err(e) = result {
        tally.write_errors += 1;
        // What the file's buffer still holds is dropped with it.
        tally.unwritten += out.unflushed;
        eprintln!(
            "{SINK_TARGET}: cannot write or sync {}: {e} ({} records may be lost)",
            out.path.display(),
            out.unflushed
        );
    }
    if let Some(file) = &out.file {
        file.wait_idle();
    }
    if !out.pending.is_empty() {
        eprintln!(
            "{SINK_TARGET}: {} lines for {} could not be written",
            out.pending.len(),
            out.path.display()
        );
        tally.unwritten += out.pending.len() as u64;
    }
}
