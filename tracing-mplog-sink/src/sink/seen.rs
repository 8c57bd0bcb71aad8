//! High-water marks that survive a sink restart: for each worker process in
//! acknowledged mode, the highest `seq` whose line is in the files.
//!
//! A worker in acknowledged mode resends every frame the sink has not
//! acknowledged. After a sink killed with SIGKILL restarts, some of those
//! were written already (written, not yet acknowledged); the mark tells the
//! new sink which, so it writes them once.
//!
//! **Marks and lines agree, wherever the sink is killed.** Lines reach the
//! operating system only in the writer's flushes. Before a flush writes
//! anything, the writer saves the marks as they will be once it is done,
//! with what it is about to write to each file (`f` records: the file's
//! identity, its length before and after) and, for each process whose mark
//! it moves, the mark before (`p` records); the readers acknowledge only
//! after the flush. A sink killed in the middle of a flush leaves a file of
//! it shorter than its `after`: the next sink cuts every file of that flush
//! back to its `before` and takes the marks before, so the workers' resends
//! are written once (lines of workers that do not acknowledge, in that
//! flush, are lost, as a killed sink's unflushed buffers are). So a mark
//! never claims a line that is not in the files, an acknowledged line
//! always has its mark, and no resent line is in the files twice.
//!
//! The file, `.{name}.seq` in the log folder, is text, one record a line,
//! its fields separated by tabs (`%`, tab and line breaks in host names and
//! paths escaped as `%25`, `%09`, `%0A`, `%0D`):
//!
//! ```text
//! # mplog-sink high-water marks, version 2: seq pid start_time_ns host; p prev-seq pid start_time_ns host; f dev ino before after path
//! 1532<TAB>4242<TAB>1733123456789000000<TAB>web-1
//! p<TAB>1490<TAB>4242<TAB>1733123456789000000<TAB>web-1
//! f<TAB>2049<TAB>1311<TAB>88100<TAB>91310<TAB>/var/log/app/all.log
//! ```
//!
//! A version-1 file (marks only) reads as before.
//!
//! It is replaced whole (write a temporary file, then rename), so a kill
//! leaves either the old or the new version. A process that said goodbye is
//! forgotten once saved (it resends nothing); the others after
//! [`FORGET_AFTER`] without news, and the oldest beyond [`MAX_MARKS`].

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::record::{Client, ProcessId};

/// Marks of processes not heard from for this long are dropped.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// At most this many marks are kept (the least recently touched go first).
pub(crate) const MAX_MARKS: usize = 100_000;

const HEADER: &str = "# mplog-sink high-water marks, version 2: seq pid start_time_ns host; \
                      p prev-seq pid start_time_ns host; f dev ino before after path";

/// What one flush writes to one file: its identity (`sys::file_id`) and
/// its length on disk before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileSpan {
    pub(crate) path: PathBuf,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) before: u64,
    pub(crate) after: u64,
}

/// The writer's side of acknowledged delivery: the marks, and the
/// acknowledgements that wait for their lines to reach the OS.
#[derive(Debug)]
pub(crate) struct Ledger {
    seen: SeqStore,
    /// A connection's slot and the `seq` it may acknowledge.
    waiting: Vec<(Arc<AtomicU64>, u64)>,
    /// The marks could not be saved (reported once per failure run).
    failing: bool,
    /// The last save before a flush succeeded.
    saved: bool,
}

impl Ledger {
    pub(crate) fn new(seen: SeqStore) -> Self {
        Ledger {
            seen,
            waiting: Vec::new(),
            failing: false,
            saved: false,
        }
    }

    /// Whether acknowledgements wait for a flush.
    pub(crate) fn is_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The highest `seq` of `origin`'s process an earlier run of the sink
    /// wrote (0: none).
    pub(crate) fn written_before(&self, origin: &Client) -> u64 {
        self.seen.get(&origin.process_id())
    }

    /// Lines of `origin`'s process up to `seq` are written (to the files'
    /// buffers): acknowledge them through `slot` at the next release.
    pub(crate) fn note(&mut self, origin: &Client, slot: &Arc<AtomicU64>, seq: u64) {
        self.seen.set(&origin.process_id(), seq);
        self.waiting.push((Arc::clone(slot), seq));
    }

    /// `origin`'s process said goodbye: it resends nothing.
    pub(crate) fn ended(&mut self, origin: &Client) {
        self.seen.ended(&origin.process_id());
    }

    /// A flush is about to write `spans`: saves the marks as they will be
    /// after it (if they moved), with `spans` and the marks before, so a
    /// sink killed in the middle of the flush is cut back on restart. If
    /// the marks cannot be saved, nothing is acknowledged until they are,
    /// and the first failure of a run is returned, in words, to be
    /// reported.
    pub(crate) fn before_flush(&mut self, spans: &[FileSpan]) -> Option<String> {
        if let Err(e) = self.seen.save(spans) {
            self.saved = false;
            let first = !std::mem::replace(&mut self.failing, true);
            return first.then(|| {
                format!(
                    "cannot save the high-water marks to {}: {e}; acknowledgements wait",
                    self.seen.path().display()
                )
            });
        }
        self.saved = true;
        self.failing = false;
        None
    }

    /// The flush is done and every file took its lines: publishes the
    /// acknowledgements waiting, if the marks were saved before it.
    pub(crate) fn release(&mut self) {
        if !self.saved {
            return;
        }
        for (slot, seq) in self.waiting.drain(..) {
            slot.fetch_max(seq, Ordering::AcqRel);
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    seq: u64,
    /// Seconds since the Unix epoch when it last moved.
    touched: u64,
    ended: bool,
}

/// The marks, in memory and in their file.
#[derive(Debug)]
pub(crate) struct SeqStore {
    path: PathBuf,
    marks: HashMap<ProcessId, Mark>,
    /// The marks as the file has them (the `p` records of the next save
    /// are the ones that differ).
    saved: HashMap<ProcessId, u64>,
    dirty: bool,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Host names travel in a tab-separated line: escape what would break it.
fn escape(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for c in host.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\t' => out.push_str("%09"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("%09", "\t")
        .replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%25", "%")
}

fn parse_line(line: &str) -> Option<(ProcessId, u64)> {
    let mut parts = line.splitn(4, '\t');
    let seq = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    let start_time_ns = parts.next()?.parse().ok()?;
    let host = unescape(parts.next()?);
    Some((
        ProcessId {
            host,
            pid,
            start_time_ns,
        },
        seq,
    ))
}

fn parse_span(line: &str) -> Option<FileSpan> {
    let mut parts = line.splitn(5, '\t');
    let dev = parts.next()?.parse().ok()?;
    let ino = parts.next()?.parse().ok()?;
    let before = parts.next()?.parse().ok()?;
    let after = parts.next()?.parse().ok()?;
    let path = PathBuf::from(unescape(parts.next()?));
    Some(FileSpan {
        path,
        dev,
        ino,
        before,
        after,
    })
}

/// After a kill: if a file of the last flush is still the same file and
/// shorter than the flush would have left it, the flush was cut short. Then
/// every file of it that is still the same file and not past the flush's
/// end is cut back to its length before, and the result says so, in words
/// (a file past the flush's end took later writes: it is left alone).
fn cut_back(spans: &[FileSpan]) -> Option<String> {
    let len = |span: &FileSpan| {
        let meta = fs::metadata(&span.path).ok()?;
        (crate::sys::file_id(&meta) == (span.dev, span.ino)).then_some(meta.len())
    };
    let lens: Vec<Option<u64>> = spans.iter().map(len).collect();
    let cut_short = spans
        .iter()
        .zip(&lens)
        .any(|(s, l)| l.is_some_and(|l| (s.before..s.after).contains(&l)));
    if !cut_short {
        return None;
    }
    let mut cut = 0;
    let mut failed = Vec::new();
    for (span, l) in spans.iter().zip(&lens) {
        if !l.is_some_and(|l| l > span.before && l <= span.after) {
            continue;
        }
        let result = fs::OpenOptions::new()
            .write(true)
            .open(&span.path)
            .and_then(|f| f.set_len(span.before));
        match result {
            Ok(()) => cut += 1,
            Err(e) => failed.push(format!("{}: {e}", span.path.display())),
        }
    }
    let mut why = format!(
        "the last run was killed in the middle of a flush: {cut} file(s) cut back to before it \
         (acknowledging workers resend those lines)"
    );
    if !failed.is_empty() {
        why.push_str(&format!(
            "; could not cut back {} (its resent lines may be written twice)",
            failed.join(", ")
        ));
    }
    Some(why)
}

impl SeqStore {
    /// The store of the sink called `name` writing into `logdir`, with the
    /// marks an earlier run saved. A file that cannot be read or parsed
    /// costs only deduplication (resent lines may then be written twice):
    /// the second value says why, for the sink to report.
    pub(crate) fn open(logdir: &Path, name: &str) -> (Self, Option<String>) {
        let path = logdir.join(format!(".{name}.seq"));
        let mut store = SeqStore {
            path,
            marks: HashMap::new(),
            saved: HashMap::new(),
            dirty: false,
        };
        let text = match fs::read_to_string(&store.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (store, None),
            Err(e) => {
                let why = format!("cannot read {}: {e}", store.path.display());
                return (store, Some(why));
            }
        };
        let now = now_secs();
        let mut bad = 0usize;
        let mut prev = Vec::new();
        let mut spans = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some(rest) = line.strip_prefix("p\t") {
                match parse_line(rest) {
                    Some(p) => prev.push(p),
                    None => bad += 1,
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("f\t") {
                match parse_span(rest) {
                    Some(span) => spans.push(span),
                    None => bad += 1,
                }
                continue;
            }
            match parse_line(line) {
                Some((id, seq)) => {
                    let mark = Mark {
                        seq,
                        touched: now,
                        ended: false,
                    };
                    store.marks.insert(id, mark);
                }
                None => bad += 1,
            }
        }
        let mut why = Vec::new();
        if bad > 0 {
            why.push(format!(
                "{}: {bad} unreadable line(s) ignored",
                store.path.display()
            ));
        }
        if let Some(cut) = cut_back(&spans) {
            // Killed in the middle of the last flush: its files are back to
            // where they were before it, and so are the marks it moved.
            for (id, seq) in prev {
                match seq {
                    0 => {
                        store.marks.remove(&id);
                    }
                    seq => {
                        let mark = Mark {
                            seq,
                            touched: now,
                            ended: false,
                        };
                        store.marks.insert(id, mark);
                    }
                }
            }
            why.push(cut);
        }
        store.saved = store
            .marks
            .iter()
            .map(|(id, m)| (id.clone(), m.seq))
            .collect();
        let why = (!why.is_empty()).then(|| why.join("; "));
        (store, why)
    }

    /// A store that saves nothing (a placeholder while moving one).
    pub(crate) fn empty() -> Self {
        SeqStore {
            path: PathBuf::new(),
            marks: HashMap::new(),
            saved: HashMap::new(),
            dirty: false,
        }
    }

    /// Where the marks are saved.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The highest `seq` written for `id` (0: none).
    pub(crate) fn get(&self, id: &ProcessId) -> u64 {
        self.marks.get(id).map_or(0, |m| m.seq)
    }

    /// Notes that lines up to `seq` of `id` are written.
    pub(crate) fn set(&mut self, id: &ProcessId, seq: u64) {
        let now = now_secs();
        match self.marks.get_mut(id) {
            Some(mark) if mark.seq >= seq => {}
            Some(mark) => {
                mark.seq = seq;
                mark.touched = now;
                self.dirty = true;
            }
            None => {
                let mark = Mark {
                    seq,
                    touched: now,
                    ended: false,
                };
                self.marks.insert(id.clone(), mark);
                self.dirty = true;
            }
        }
    }

    /// The process said goodbye: it will resend nothing, so its mark is
    /// dropped at the next save.
    pub(crate) fn ended(&mut self, id: &ProcessId) {
        if let Some(mark) = self.marks.get_mut(id) {
            mark.ended = true;
            self.dirty = true;
        }
    }

    /// Whether marks changed since the last save.
    #[cfg(test)]
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Saves the marks if they changed (write a temporary file, rename it
    /// over the old one), with `spans`, what the flush about to run writes,
    /// and the marks before for those it moves. On error the marks stay
    /// dirty for the next try.
    pub(crate) fn save(&mut self, spans: &[FileSpan]) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let now = now_secs();
        self.marks
            .retain(|_, m| !m.ended && now.saturating_sub(m.touched) < FORGET_AFTER.as_secs());
        if self.marks.len() > MAX_MARKS {
            let mut by_age: Vec<(u64, ProcessId)> = self
                .marks
                .iter()
                .map(|(id, m)| (m.touched, id.clone()))
                .collect();
            by_age.sort_unstable_by_key(|(t, _)| *t);
            let excess = self.marks.len() - MAX_MARKS;
            for (_, id) in by_age.into_iter().take(excess) {
                self.marks.remove(&id);
            }
        }
        let record = |text: &mut String, tag: &str, seq: u64, id: &ProcessId| {
            text.push_str(&format!(
                "{tag}{seq}\t{}\t{}\t{}\n",
                id.pid,
                id.start_time_ns,
                escape(&id.host)
            ));
        };
        let mut text = String::with_capacity(64 + self.marks.len() * 48);
        text.push_str(HEADER);
        text.push('\n');
        for (id, mark) in &self.marks {
            record(&mut text, "", mark.seq, id);
        }
        // The marks before, of the processes whose mark moved (0: none).
        for (id, mark) in &self.marks {
            let before = self.saved.get(id).copied().unwrap_or(0);
            if before != mark.seq {
                record(&mut text, "p\t", before, id);
            }
        }
        for (id, &before) in &self.saved {
            if !self.marks.contains_key(id) {
                record(&mut text, "p\t", before, id);
            }
        }
        for span in spans {
            text.push_str(&format!(
                "f\t{}\t{}\t{}\t{}\t{}\n",
                span.dev,
                span.ino,
                span.before,
                span.after,
                escape(&span.path.to_string_lossy())
            ));
        }
        let tmp = self.path.with_extension("seq.tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        drop(file);
        fs::rename(&tmp, &self.path)?;
        self.saved = self
            .marks
            .iter()
            .map(|(id, m)| (id.clone(), m.seq))
            .collect();
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(host: &str, pid: u32) -> ProcessId {
        ProcessId {
            host: host.to_owned(),
            pid,
            start_time_ns: 1_733_000_000_000_000_000,
        }
    }

    #[test]
    fn marks_survive_a_restart_and_only_grow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, warning) = SeqStore::open(dir.path(), "mplog");
        assert!(warning.is_none());
        store.set(&id("web-1", 7), 10);
        store.set(&id("web-1", 7), 4); // older: ignored
        store.set(&id("odd\thost%\n", 8), 3);
        store.save(&[]).expect("save");
        assert!(!store.is_dirty());
        let (again, warning) = SeqStore::open(dir.path(), "mplog");
        assert!(warning.is_none(), "{warning:?}");
        assert_eq!(again.get(&id("web-1", 7)), 10);
        assert_eq!(again.get(&id("odd\thost%\n", 8)), 3);
        assert_eq!(again.get(&id("web-2", 7)), 0);
    }

    /// A flush killed half-way: its files are cut back and the marks it
    /// moved go back; a flush that finished stays as it is.
    #[test]
    fn a_flush_cut_short_is_undone_at_the_next_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("all.log");
        fs::write(&log, "old line\n").expect("write");
        let meta = fs::metadata(&log).expect("meta");
        let (dev, ino) = crate::sys::file_id(&meta);
        let span = FileSpan {
            path: log.clone(),
            dev,
            ino,
            before: 9,
            after: 9 + 20,
        };
        let (mut store, _) = SeqStore::open(dir.path(), "s");
        store.set(&id("h", 1), 5);
        store.save(&[]).expect("save");
        store.set(&id("h", 1), 9);
        store.set(&id("h", 2), 3);
        store.save(std::slice::from_ref(&span)).expect("save");
        // Killed after 12 of the flush's 20 bytes.
        fs::write(&log, "old line\nnew line 1\nne").expect("write");
        let (again, why) = SeqStore::open(dir.path(), "s");
        assert!(why.is_some_and(|w| w.contains("1 file(s) cut back")));
        assert_eq!(fs::read_to_string(&log).expect("read"), "old line\n");
        assert_eq!((again.get(&id("h", 1)), again.get(&id("h", 2))), (5, 0));
        // The same record after a flush that finished: nothing to undo.
        let (mut store, _) = SeqStore::open(dir.path(), "s");
        store.set(&id("h", 1), 9);
        store.save(std::slice::from_ref(&span)).expect("save");
        fs::write(&log, "old line\nnew line 1\nnew line 2\n").expect("write");
        let (again, why) = SeqStore::open(dir.path(), "s");
        assert!(why.is_none(), "{why:?}");
        assert_eq!(again.get(&id("h", 1)), 9);
        assert_eq!(fs::metadata(&log).expect("meta").len(), 31);
    }

    #[test]
    fn ended_processes_are_forgotten_at_the_next_save() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = SeqStore::open(dir.path(), "s");
        store.set(&id("h", 1), 5);
        store.set(&id("h", 2), 6);
        store.ended(&id("h", 1));
        store.save(&[]).expect("save");
        let (again, _) = SeqStore::open(dir.path(), "s");
        assert_eq!((again.get(&id("h", 1)), again.get(&id("h", 2))), (0, 6));
    }

    #[test]
    fn a_damaged_file_costs_only_its_bad_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".s.seq");
        fs::write(&path, format!("{HEADER}\n9\t1\t2\th\ngarbage\n\u{0}\t\t\n")).expect("write");
        let (store, warning) = SeqStore::open(dir.path(), "s");
        let warning = warning.expect("reported");
        assert!(warning.contains("2 unreadable"), "{warning}");
        let mark = ProcessId {
            host: "h".into(),
            pid: 1,
            start_time_ns: 2,
        };
        assert_eq!(store.get(&mark), 9);
    }
}
