//! The writer's flushes: every file's buffer handed to the OS, after the
//! high-water marks that claim it are saved and before the
//! acknowledgements are released (see `seen`); and the last flush and the
//! sync at shutdown.
//!
//! **Two copies, two threads.** With consolidated and per-key files, every
//! line is written twice, and one thread writing both copies was the end of
//! the pipe (it drained for 94 ms after the last worker, against 18 ms with
//! one copy). So when the consolidated file and the others both hold at
//! least [`PARALLEL_MIN`] bytes, a flush hands the consolidated file's write
//! to a [`Helper`] thread and writes the per-key files itself meanwhile;
//! the shutdown's syncs are shared the same way. The flush is still one
//! step of the writer: the marks are saved before either thread writes,
//! the writer waits for the helper before anything else happens, and the
//! acknowledgements go only once both copies are written, so the exact
//! deduplication is unchanged (a sink killed in the middle of the flush
//! leaves some files short of their span, which the next sink cuts back,
//! whichever thread wrote them).

use std::io::{self, Write as _};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use tracing_core::Level;

use super::{Health, SINK_TARGET, Writer};
use crate::rotate::RotatingFile;
use crate::sink::output::Output;
use crate::sink::report::Tally;
use crate::sink::seen::FileSpan;

/// A flush writes the consolidated file on the helper thread when it and
/// the other files each have at least this many bytes to write: below it,
/// handing the write over costs more than writing it.
const PARALLEL_MIN: usize = 32 * 1024;

/// What the helper thread does with a file.
enum Job {
    /// Writes its buffer.
    Flush(Arc<RotatingFile>),
    /// Writes its buffer and syncs it to disk.
    Sync(Arc<RotatingFile>),
}

/// The writer's second thread for flushes, started at the first flush that
/// uses it (a sink with one file never starts it).
#[derive(Debug, Default)]
pub(super) struct Helper {
    running: Option<Running>,
    /// It could not be started: everything is written inline.
    unavailable: bool,
}

#[derive(Debug)]
struct Running {
    jobs: flume::Sender<Job>,
    done: flume::Receiver<io::Result<()>>,
    thread: JoinHandle<()>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Flush(file) => write!(f, "Flush({})", file.path().display()),
            Job::Sync(file) => write!(f, "Sync({})", file.path().display()),
        }
    }
}

impl Helper {
    /// Hands `job` to the helper thread (starting it if needed); `false`
    /// when there is none, and the caller does the job itself.
    fn begin(&mut self, job: Job) -> bool {
        if self.running.is_none() && !self.unavailable {
            self.running = start();
            self.unavailable = self.running.is_none();
        }
        match &self.running {
            Some(running) => running.jobs.send(job).is_ok(),
            None => false,
        }
    }

    /// The result of the job handed over last.
    fn wait(&mut self) -> io::Result<()> {
        match self.running.as_ref().map(|r| r.done.recv()) {
            Some(Ok(result)) => result,
            _ => {
                // Gone (it cannot panic writing a file; if it did, the
                // next flush writes the file inline).
                self.running = None;
                self.unavailable = true;
                Err(io::Error::other("the writer's flush thread stopped"))
            }
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Some(Running { jobs, done, thread }) = self.running.take() {
            drop(jobs);
            drop(done);
            let _ = thread.join();
        }
    }
}

/// Starts the helper thread; `None` if the system refuses a thread.
fn start() -> Option<Running> {
    let (jobs, work) = flume::bounded::<Job>(1);
    let (report, done) = flume::bounded(1);
    let thread = std::thread::Builder::new()
        .name("mplog-sink-flush".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            for job in work.iter() {
                let result = match job {
                    Job::Flush(file) => (&*file).flush(),
                    Job::Sync(file) => file.sync_all(),
                };
                if report.send(result).is_err() {
                    return;
                }
            }
        })
        .ok()?;
    Some(Running { jobs, done, thread })
}

impl Writer {
    /// The consolidated file's output, if it has one.
    fn consolidated_output(&self) -> Option<usize> {
        let path = self.cfg.router.consolidated()?;
        self.outputs.index.get(path).copied()
    }

    /// The output a flush hands to the helper: the consolidated file, when
    /// it and the others both have [`PARALLEL_MIN`] bytes to write.
    fn parallel_flush(&self) -> Option<usize> {
        let c = self.consolidated_output()?;
        let files = &self.outputs.files;
        if files.get(c).map_or(0, Output::buffered) < PARALLEL_MIN {
            return None;
        }
        let mut others = 0;
        for (i, out) in files.iter().enumerate() {
            if i != c {
                others += out.buffered();
                if others >= PARALLEL_MIN {
                    return Some(c);
                }
            }
        }
        None
    }

    /// Hands every file's buffer to the OS. The high-water marks are saved
    /// first, with what the flush writes (see `seen`): a sink killed in the
    /// middle of it is cut back to before it on restart. The consolidated
    /// file may be written by the helper meanwhile (see the module docs).
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
        let parallel = self.parallel_flush();
        let mut handed = None;
        let mut changes = Vec::new();
        for (i, out) in self.outputs.files.iter_mut().enumerate() {
            if out.per_key && out.lru.is_none() && out.pending.is_empty() && out.unflushed == 0 {
                // Closed to make room: nothing buffered.
                continue;
            }
            if parallel == Some(i) {
                // Its kept lines go into the buffer first, as in `flush`.
                let handed_over = match out.retry(&self.cfg, &mut self.tally) {
                    Ok(()) => out
                        .file
                        .as_ref()
                        .is_some_and(|f| self.helper.begin(Job::Flush(Arc::clone(f)))),
                    Err(_) => false,
                };
                if handed_over {
                    handed = Some(i);
                    continue;
                }
            }
            match out.flush(&self.cfg, &mut self.tally) {
                Health::Same => {}
                h => changes.push((out.path.clone(), h)),
            }
        }
        if let Some(i) = handed {
            let result = self.helper.wait();
            if let Some(out) = self.outputs.files.get_mut(i) {
                let result = out.flushed(result, &mut self.tally);
                match out.health(result) {
                    Health::Same => {}
                    h => changes.push((out.path.clone(), h)),
                }
            }
        }
        for (path, h) in changes {
            self.report_health(&path, h);
        }
        self.release_acks();
        self.forget_idle_outputs();
        self.cfg.watch.publish(&mut self.tally, &self.outputs);
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

    /// The last flush, then every file synced to disk (the consolidated
    /// file by the helper while the writer syncs the others); the counts.
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

    /// Syncs every file (the consolidated one on the helper, if there are
    /// others) and counts what could not be written.
    fn sync_all(&mut self) {
        let c = self
            .consolidated_output()
            .filter(|_| self.outputs.files.len() > 1);
        let mut handed = None;
        for (i, out) in self.outputs.files.iter_mut().enumerate() {
            let result = match &out.file {
                Some(file) if c == Some(i) && self.helper.begin(Job::Sync(Arc::clone(file))) => {
                    handed = Some(i);
                    continue;
                }
                Some(file) => file.sync_all(),
                None => Ok(()),
            };
            synced(out, result, &mut self.tally);
        }
        if let Some(i) = handed {
            let result = self.helper.wait();
            if let Some(out) = self.outputs.files.get_mut(i) {
                synced(out, result, &mut self.tally);
            }
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
