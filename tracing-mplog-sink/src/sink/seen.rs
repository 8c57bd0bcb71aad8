//! High-water marks that survive a sink restart: for each worker process in
//! acknowledged mode, the highest `seq` whose line is in the files.
//!
//! A worker in acknowledged mode resends every frame the sink has not
//! acknowledged. After a sink killed with SIGKILL restarts, some of those
//! were written already (written, not yet acknowledged); the mark tells the
//! new sink which, so it writes them once. The writer saves the marks after
//! it has handed the lines to the operating system and before the readers
//! acknowledge them, so a mark never claims a line that is not in the
//! files, and an acknowledged line always has its mark.
//!
//! The file, `.{name}.seq` in the log folder, is text, one process a line,
//! its fields separated by tabs (`%`, tab and line breaks in the host name
//! escaped as `%25`, `%09`, `%0A`, `%0D`):
//!
//! ```text
//! # mplog-sink high-water marks, version 1: seq pid start_time_ns host
//! 1532<TAB>4242<TAB>1733123456789000000<TAB>web-1
//! ```
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

use super::view::Origin;

/// Marks of processes not heard from for this long are dropped.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// At most this many marks are kept (the least recently touched go first).
pub(crate) const MAX_MARKS: usize = 100_000;

const HEADER: &str = "# mplog-sink high-water marks, version 1: seq pid start_time_ns host";

/// A worker process as the marks know it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ProcId {
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) start_time_ns: i64,
}

impl ProcId {
    /// The process of a connection's hello.
    pub(crate) fn of(origin: &Origin) -> Self {
        ProcId {
            host: origin.host.clone(),
            pid: origin.pid,
            start_time_ns: origin.start_time_ns,
        }
    }
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
}

impl Ledger {
    pub(crate) fn new(seen: SeqStore) -> Self {
        Ledger {
            seen,
            waiting: Vec::new(),
            failing: false,
        }
    }

    /// Whether acknowledgements wait for a flush.
    pub(crate) fn is_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The highest `seq` of `origin`'s process an earlier run of the sink
    /// wrote (0: none).
    pub(crate) fn written_before(&self, origin: &Origin) -> u64 {
        self.seen.get(&ProcId::of(origin))
    }

    /// Lines of `origin`'s process up to `seq` are written (to the files'
    /// buffers): acknowledge them through `slot` at the next release.
    pub(crate) fn note(&mut self, origin: &Origin, slot: &Arc<AtomicU64>, seq: u64) {
        self.seen.set(&ProcId::of(origin), seq);
        self.waiting.push((Arc::clone(slot), seq));
    }

    /// `origin`'s process said goodbye: it resends nothing.
    pub(crate) fn ended(&mut self, origin: &Origin) {
        self.seen.ended(&ProcId::of(origin));
    }

    /// Every file has handed its lines to the OS: saves the marks, then
    /// publishes the waiting acknowledgements. If the marks cannot be
    /// saved, nothing is acknowledged, and the first failure of a run is
    /// returned, in words, to be reported.
    pub(crate) fn release(&mut self) -> Option<String> {
        if self.waiting.is_empty() {
            return None;
        }
        if let Err(e) = self.seen.save() {
            let first = !std::mem::replace(&mut self.failing, true);
            return first.then(|| {
                format!(
                    "cannot save the high-water marks to {}: {e}; acknowledgements wait",
                    self.seen.path().display()
                )
            });
        }
        self.failing = false;
        for (slot, seq) in self.waiting.drain(..) {
            slot.fetch_max(seq, Ordering::AcqRel);
        }
        None
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
    marks: HashMap<ProcId, Mark>,
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

fn parse_line(line: &str) -> Option<(ProcId, u64)> {
    let mut parts = line.splitn(4, '\t');
    let seq = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    let start_time_ns = parts.next()?.parse().ok()?;
    let host = unescape(parts.next()?);
    Some((
        ProcId {
            host,
            pid,
            start_time_ns,
        },
        seq,
    ))
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
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
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
        let why = (bad > 0)
            .then(|| format!("{}: {bad} unreadable line(s) ignored", store.path.display()));
        (store, why)
    }

    /// A store that saves nothing (a placeholder while moving one).
    pub(crate) fn empty() -> Self {
        SeqStore {
            path: PathBuf::new(),
            marks: HashMap::new(),
            dirty: false,
        }
    }

    /// Where the marks are saved.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The highest `seq` written for `id` (0: none).
    pub(crate) fn get(&self, id: &ProcId) -> u64 {
        self.marks.get(id).map_or(0, |m| m.seq)
    }

    /// Notes that lines up to `seq` of `id` are written.
    pub(crate) fn set(&mut self, id: &ProcId, seq: u64) {
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
    pub(crate) fn ended(&mut self, id: &ProcId) {
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
    /// over the old one). On error the marks stay dirty for the next try.
    pub(crate) fn save(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let now = now_secs();
        self.marks
            .retain(|_, m| !m.ended && now.saturating_sub(m.touched) < FORGET_AFTER.as_secs());
        if self.marks.len() > MAX_MARKS {
            let mut by_age: Vec<(u64, ProcId)> = self
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
        let mut text = String::with_capacity(64 + self.marks.len() * 48);
        text.push_str(HEADER);
        text.push('\n');
        for (id, mark) in &self.marks {
            text.push_str(&format!(
                "{}\t{}\t{}\t{}\n",
                mark.seq,
                id.pid,
                id.start_time_ns,
                escape(&id.host)
            ));
        }
        let tmp = self.path.with_extension("seq.tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        drop(file);
        fs::rename(&tmp, &self.path)?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(host: &str, pid: u32) -> ProcId {
        ProcId {
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
        store.save().expect("save");
        assert!(!store.is_dirty());
        let (again, warning) = SeqStore::open(dir.path(), "mplog");
        assert!(warning.is_none(), "{warning:?}");
        assert_eq!(again.get(&id("web-1", 7)), 10);
        assert_eq!(again.get(&id("odd\thost%\n", 8)), 3);
        assert_eq!(again.get(&id("web-2", 7)), 0);
    }

    #[test]
    fn ended_processes_are_forgotten_at_the_next_save() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = SeqStore::open(dir.path(), "s");
        store.set(&id("h", 1), 5);
        store.set(&id("h", 2), 6);
        store.ended(&id("h", 1));
        store.save().expect("save");
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
        let mark = ProcId {
            host: "h".into(),
            pid: 1,
            start_time_ns: 2,
        };
        assert_eq!(store.get(&mark), 9);
    }
}
