//! The background thread: gzip compression of rotated files and pruning by
//! count (`backup_count`) and age (`max_age`).
//!
//! The writer only sends a "sweep" request after a rotation; the thread
//! works from what is on disk (the folder is listed each time), so files
//! left by an earlier run are compressed and pruned like our own, and a
//! crash between two steps leaves nothing that the next sweep does not
//! finish. Requests that pile up are merged into one sweep.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, SystemTime};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::naming::{self, Rotated};
use crate::clock::Clock;
use crate::sys;

/// What the sweeps do.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) dir: PathBuf,
    pub(crate) base: String,
    pub(crate) compress: bool,
    pub(crate) backup_count: usize,
    pub(crate) max_age: Option<StdDuration>,
    pub(crate) permissions: u32,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Policy {
    /// Whether there is anything for a background thread to do.
    pub(crate) fn is_active(&self) -> bool {
        self.compress || self.backup_count > 0 || self.max_age.is_some()
    }
}

#[derive(Debug)]
enum Job {
    /// A sweep of one file's rotated files; its failures go to the counter.
    Sweep(Arc<Policy>, Arc<AtomicU64>),
    Wait(flume::Sender<()>),
}

/// The background thread, owned by one file or shared by many (a sink
/// with thousands of per-key files runs one thread for them all, not one
/// each). Dropping the last handle finishes queued work and joins it.
#[derive(Debug)]
pub(crate) struct Housekeeper {
    jobs: Option<flume::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Housekeeper {
    /// Starts the thread.
    pub(crate) fn start() -> io::Result<Arc<Self>> {
        let (jobs, rx) = flume::unbounded();
        let thread = std::thread::Builder::new()
            .name("mplog-rotate".to_owned())
            .spawn(move || run(&rx))?;
        Ok(Arc::new(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        }))
    }

    fn send(&self, job: Job) -> bool {
        // Fails only if the thread is gone; nothing more can be done.
        self.jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok())
    }
}

impl Drop for Housekeeper {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One file's housekeeping: its policy on a [`Housekeeper`] thread.
#[derive(Debug)]
pub(crate) struct Retention {
    keeper: Arc<Housekeeper>,
    policy: Arc<Policy>,
    errors: Arc<AtomicU64>,
}

impl Retention {
    /// Starts a thread of its own and queues a first sweep (files of
    /// earlier runs).
    pub(crate) fn start(policy: Policy) -> io::Result<Self> {
        Ok(Self::on(&Housekeeper::start()?, policy))
    }

    /// Runs on a shared thread; queues a first sweep.
    pub(crate) fn on(keeper: &Arc<Housekeeper>, policy: Policy) -> Self {
        let this = Self {
            keeper: Arc::clone(keeper),
            policy: Arc::new(policy),
            errors: Arc::new(AtomicU64::new(0)),
        };
        this.request_sweep();
        this
    }

    /// Asks for a sweep; returns at once.
    pub(crate) fn request_sweep(&self) {
        self.keeper.send(Job::Sweep(
            Arc::clone(&self.policy),
            Arc::clone(&self.errors),
        ));
    }

    /// Blocks until every sweep requested so far has finished.
    pub(crate) fn wait_idle(&self) {
        let (done, wait) = flume::bounded(1);
        if self.keeper.send(Job::Wait(done)) {
            let _ = wait.recv();
        }
    }

    /// Failures of background work so far.
    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

impl Drop for Retention {
    fn drop(&mut self) {
        // The work this file asked for is finished before it is gone (the
        // last handle of the thread also joins it).
        self.wait_idle();
    }
}

fn run(rx: &flume::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut waiters = Vec::new();
        // Requests that piled up are merged: one sweep per file.
        let mut sweeps: Vec<(Arc<Policy>, Arc<AtomicU64>)> = Vec::new();
        for job in std::iter::once(first).chain(rx.try_iter()) {
            match job {
                Job::Sweep(policy, errors) => {
                    if !sweeps.iter().any(|(p, _)| Arc::ptr_eq(p, &policy)) {
                        sweeps.push((policy, errors));
                    }
                }
                Job::Wait(done) => waiters.push(done),
            }
        }
        for (policy, errors) in &sweeps {
            for (path, err) in sweep_once(policy) {
                errors.fetch_add(1, Ordering::Relaxed);
                // No caller to return this to: say it where an operator looks.
                eprintln!("tracing-mplog-sink: rotation housekeeping failed for {path:?}: {err}");
            }
        }
        for done in waiters {
            let _ = done.send(());
        }
    }
}

/// One pass over the folder; returns what failed.
pub(crate) fn sweep_once(policy: &Policy) -> Vec<(PathBuf, io::Error)> {
    let mut failures = Vec::new();
    let found = match naming::list(&policy.dir, &policy.base) {
        Ok(found) => found,
        Err(e) => return vec![(policy.dir.clone(), e)],
    };
    // `list` sorts by name, a plain file before its `.gz`. Both exist only
    // after a crash between compression and removal: the `.gz` is complete
    // (it is renamed into place last), so the plain copy goes.
    let mut kept: Vec<Rotated> = Vec::new();
    for file in found {
        if file.tmp {
            // Only this thread writes `.gz.tmp`, so any found is a leftover.
            remove(&file.path, &mut failures);
            continue;
        }
        if kept.last().is_some_and(|prev| prev.key() == file.key()) {
            if let Some(plain) = kept.pop() {
                remove(&plain.path, &mut failures);
            }
        }
        kept.push(file);
    }

    let mut excess = if policy.backup_count > 0 {
        kept.len().saturating_sub(policy.backup_count)
    } else {
        0
    };
    let now: SystemTime = policy.clock.now().into();
    let mut survivors = Vec::new();
    for file in kept {
        let too_many = excess > 0;
        excess = excess.saturating_sub(1);
        let too_old = policy.max_age.is_some_and(|max| {
            modified(&file.path)
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > max)
        });
        if too_many || too_old {
            remove(&file.path, &mut failures);
        } else {
            survivors.push(file);
        }
    }
    if policy.compress {
        for file in survivors.into_iter().filter(|f| !f.gz) {
            if let Err(e) = compress(&file, policy.permissions) {
                failures.push((file.path, e));
            }
        }
    }
    failures
}

fn modified(path: &Path) -> io::Result<SystemTime> {
    fs::metadata(path)?.modified()
}

fn remove(path: &Path, failures: &mut Vec<(PathBuf, io::Error)>) {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => failures.push((path.to_owned(), e)),
        _ => {}
    }
}

/// `x` → `x.gz.tmp` → `x.gz` (same modification time), then `x` removed.
fn compress(file: &Rotated, permissions: u32) -> io::Result<()> {
    let target = naming::gz_path(&file.path);
    if target.symlink_metadata().is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{target:?} exists; not overwriting it"),
        ));
    }
    let tmp = naming::gz_tmp_path(&file.path);
    let source = File::open(&file.path)?;
    let mtime = source.metadata()?.modified()?;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    sys::set_create_mode(&mut options, permissions);
    let result = (|| {
        let out = options.open(&tmp)?;
        let mut encoder = GzEncoder::new(BufWriter::new(out), Compression::default());
        io::copy(&mut BufReader::new(source), &mut encoder)?;
        let mut out = encoder.finish()?;
        out.flush()?;
        let out = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        out.set_modified(mtime)?;
        out.sync_all()?;
        fs::rename(&tmp, &target)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::remove_file(&file.path)
}
