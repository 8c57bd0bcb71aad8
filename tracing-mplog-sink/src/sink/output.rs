//! The writer's output files: each a [`RotatingFile`] opened on first use,
//! with the lines kept for a retry while it fails and its health (failing,
//! reported, recovered).

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use super::lines::Lines;
use super::report::Tally;
use super::writer::{Config, MAX_PENDING, QUIET};
use crate::rotate::{RotateError, RotatingFile, SharedText};

#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) path: PathBuf,
    /// Shared with the writer's flush helper while it writes the buffer.
    pub(crate) file: Option<Arc<RotatingFile>>,
    pub(crate) pending: VecDeque<String>,
    /// Records accepted by the file's buffer since its last successful
    /// flush: lost if the file never works again before shutdown.
    pub(crate) unflushed: u64,
    /// The last write failed.
    pub(crate) failing: bool,
    /// The current failure was reported (so its recovery will be).
    pub(crate) reported: bool,
    /// When a write last failed.
    pub(crate) last_failure: Option<Instant>,
    /// Written so far (to its buffer or the file): lines, bytes, failed
    /// writes; what the monitor reads.
    pub(crate) lines: u64,
    pub(crate) bytes: u64,
    pub(crate) errors: u64,
    /// A per-key file: closed when others need its descriptor.
    pub(crate) per_key: bool,
    /// While open as a per-key file: when it was last written (its place
    /// in the writer's least-recently-written order).
    pub(crate) lru: Option<u64>,
    /// When it was last written, open or not (the writer's tick).
    pub(crate) written: u64,
}

/// What a write did to a file's health.
#[derive(Debug)]
pub(crate) enum Health {
    Same,
    Failed(String),
    Recovered,
}

impl Output {
    /// Opens the file's descriptor if it is not open; `true` when it was
    /// open before and closed to make room (a reopen).
    pub(crate) fn open(&mut self, cfg: &Config) -> io::Result<bool> {
        match &self.file {
            Some(file) if file.is_open() => Ok(false),
            Some(file) => file.reopen().map(|()| true),
            None => match self.build(cfg) {
                Ok(()) => Ok(false),
                Err(RotateError::Io { source, .. }) => Err(source),
                Err(e) => Err(io::Error::other(e.to_string())),
            },
        }
    }

    /// Builds (and opens) the file, listing it in the sink's files.
    fn build(&mut self, cfg: &Config) -> Result<(), RotateError> {
        self.file = Some(Arc::new(cfg.rotation.build(&self.path)?));
        let mut files = cfg.files.lock().unwrap_or_else(PoisonError::into_inner);
        if !files.contains(&self.path) {
            files.push(self.path.clone());
        }
        Ok(())
    }

    /// Writes its buffer and closes its descriptor, keeping its rotation
    /// state (see [`RotatingFile::park`]).
    pub(crate) fn park(&mut self) -> io::Result<()> {
        if let Some(file) = &self.file {
            file.park()?;
            self.unflushed = 0;
        }
        Ok(())
    }

    /// Opens the file if needed and writes the kept lines; stops at the first
    /// failure.
    pub(crate) fn retry(&mut self, cfg: &Config, tally: &mut Tally) -> Result<(), String> {
        if self.file.is_none() {
            if let Err(e) = self.build(cfg) {
                tally.write_errors += 1;
                self.errors += 1;
                return Err(e.to_string());
            }
        }
        let Some(file) = &self.file else {
            return Err("the file is not open".into());
        };
        while let Some(line) = self.pending.front() {
            if let Err(e) = (&**file).write(line.as_bytes()) {
                tally.write_errors += 1;
                self.errors += 1;
                return Err(e.to_string());
            }
            self.lines += 1;
            self.bytes += line.len() as u64;
            self.pending.pop_front();
            self.unflushed += 1;
        }
        Ok(())
    }

    pub(crate) fn keep(&mut self, line: &str, tally: &mut Tally) {
        if self.pending.len() < MAX_PENDING {
            self.pending.push_back(line.to_owned());
        } else {
            tally.unwritten += 1;
        }
    }

    pub(crate) fn health(&mut self, result: Result<(), String>) -> Health {
        match result {
            Err(e) => {
                self.failing = true;
                self.last_failure = Some(Instant::now());
                if std::mem::replace(&mut self.reported, true) {
                    Health::Same
                } else {
                    Health::Failed(e)
                }
            }
            Ok(())
                if self.failing
                    && self.pending.is_empty()
                    && self.last_failure.is_none_or(|t| t.elapsed() >= QUIET) =>
            {
                self.failing = false;
                self.reported = false;
                Health::Recovered
            }
            Ok(()) => Health::Same,
        }
    }

    pub(crate) fn write(&mut self, line: &str, cfg: &Config, tally: &mut Tally) -> Health {
        let result = self.retry(cfg, tally).and_then(|()| {
            let Some(file) = &self.file else {
                return Err("the file is not open".into());
            };
            (&**file)
                .write(line.as_bytes())
                .map(|_| {
                    self.unflushed += 1;
                    self.lines += 1;
                    self.bytes += line.len() as u64;
                })
                .map_err(|e| {
                    tally.write_errors += 1;
                    self.errors += 1;
                    e.to_string()
                })
        });
        if result.is_err() {
            self.keep(line, tally);
        }
        self.health(result)
    }

    /// Appends the lines of `batch` (whose text is `text`) from item `i` on
    /// (ending at `ends`) to the file's buffer, as many as fit with no I/O
    /// (they stay in `text` until written); returns how many items it took
    /// (0 while the file fails or keeps lines).
    pub(crate) fn append(
        &mut self,
        batch: &Lines,
        text: &SharedText,
        i: usize,
        ends: &[usize],
    ) -> usize {
        let Some(file) = self.file.as_ref().filter(|_| self.pending.is_empty()) else {
            return 0;
        };
        let start = batch.start(i);
        let taken = file.append_shared(text, start, ends);
        // Records, as `write` counts them: empty lines are no records.
        let mut at = start;
        let mut records = 0;
        for &end in &ends[..taken] {
            records += u64::from(end > at);
            at = end;
        }
        self.unflushed += records;
        self.lines += records;
        self.bytes += (at - start) as u64;
        taken
    }

    /// Bytes of lines the file takes before its buffer reaches the OS (see
    /// [`RotatingFile::buffer_room`]); `usize::MAX` while it is not open.
    pub(crate) fn buffer_room(&self) -> usize {
        self.file.as_ref().map_or(usize::MAX, |f| f.buffer_room())
    }

    /// Bytes in the file's buffer (0 while it is not open).
    pub(crate) fn buffered(&self) -> usize {
        self.file.as_ref().map_or(0, |f| f.buffered())
    }

    pub(crate) fn flush(&mut self, cfg: &Config, tally: &mut Tally) -> Health {
        let result = self.retry(cfg, tally).and_then(|()| {
            let written = match &self.file {
                Some(file) => (&**file).flush(),
                None => return Ok(()),
            };
            self.flushed(written, tally)
        });
        self.health(result)
    }

    /// Counts the result of writing the file's buffer (here or on the
    /// writer's flush helper).
    pub(crate) fn flushed(
        &mut self,
        result: io::Result<()>,
        tally: &mut Tally,
    ) -> Result<(), String> {
        match result {
            Ok(()) => {
                self.unflushed = 0;
                Ok(())
            }
            Err(e) => {
                tally.write_errors += 1;
                self.errors += 1;
                Err(e.to_string())
            }
        }
    }
}

impl Output {
    fn new(path: &Path) -> Self {
        Output {
            path: path.to_owned(),
            file: None,
            pending: VecDeque::new(),
            unflushed: 0,
            failing: false,
            reported: false,
            last_failure: None,
            lines: 0,
            bytes: 0,
            errors: 0,
            per_key: false,
            lru: None,
            written: 0,
        }
    }

    /// A per-key file closed to make room, with nothing kept nor buffered
    /// and no failure to report: it can be let go of (and rebuilt from the
    /// file on disk when its key writes again, as after a restart).
    pub(crate) fn is_idle(&self) -> bool {
        self.per_key
            && self.lru.is_none()
            && self.pending.is_empty()
            && self.unflushed == 0
            && !self.failing
            && self.file.as_ref().is_none_or(|f| !f.is_open())
    }

    /// A slot of [`Outputs`] whose output was let go of: nothing to write,
    /// skipped like a closed per-key file.
    pub(crate) fn is_vacant(&self) -> bool {
        self.path.as_os_str().is_empty()
    }
}

/// Every output file, by index; `index` finds a path's. The slots of
/// outputs let go of are reused.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    pub(crate) files: Vec<Output>,
    pub(crate) index: HashMap<PathBuf, usize>,
    vacant: Vec<usize>,
}

impl Outputs {
    /// The index of the output at `path`, created (not yet opened) on first use.
    pub(crate) fn at(&mut self, path: &Path) -> usize {
        if let Some(&i) = self.index.get(path) {
            return i;
        }
        let i = match self.vacant.pop() {
            Some(i) => {
                self.files[i] = Output::new(path);
                i
            }
            None => {
                self.files.push(Output::new(path));
                self.files.len() - 1
            }
        };
        self.index.insert(path.to_owned(), i);
        i
    }

    /// Outputs in use (not vacant).
    pub(crate) fn in_use(&self) -> usize {
        self.files.len() - self.vacant.len()
    }

    /// Lets go of output `i` (see [`Output::is_idle`]); returns its path.
    pub(crate) fn vacate(&mut self, i: usize) -> Option<PathBuf> {
        let out = self.files.get_mut(i)?;
        if out.is_vacant() {
            return None;
        }
        let mut gone = Output::new(Path::new(""));
        gone.per_key = true;
        let path = std::mem::replace(out, gone).path;
        self.index.remove(&path);
        self.vacant.push(i);
        Some(path)
    }
}
