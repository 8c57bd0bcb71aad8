//! The live tail (`mplog-sink tail`, `GET /tail` on the metrics server):
//! the writer hands each batch's fresh lines to [`Tail::batch`], which
//! keeps the last [`RING`] in a ring (for `--lines N`) and offers each to
//! every follower whose [`Filter`] takes it.
//!
//! A follower never slows the sink: its lines go into a bounded channel
//! with `try_send`; when it is full (a slow or stopped reader) the line is
//! dropped and counted, and the follower is told how many before its next
//! line. The tail exists only while the metrics server runs; without
//! followers a batch costs one lock and the copy of its last lines into
//! the ring's reused slots.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use tracing_core::Level;

use super::lines::Lines;

/// Records the ring keeps for `--lines N`.
pub(crate) const RING: usize = 1000;

/// Lines a follower's channel holds before lines for it are dropped.
pub(crate) const FOLLOWER_QUEUE: usize = 10_000;

/// Which records a follower wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    /// Records at this level or more severe.
    pub(crate) level: Level,
    /// Records of these processes (any, when empty).
    pub(crate) processes: Vec<String>,
    /// Records whose target starts with this.
    pub(crate) target: Option<String>,
    /// The last this many records first, from the ring.
    pub(crate) lines: usize,
    /// JSON lines rather than the files' lines.
    pub(crate) json: bool,
}

impl Filter {
    /// From `/tail`'s query: `level=warn&process=w1&process=w2&target=app&lines=20&json=1`.
    pub(crate) fn parse(query: &str) -> Result<Filter, String> {
        let mut f = Filter {
            level: Level::TRACE,
            processes: Vec::new(),
            target: None,
            lines: 0,
            json: false,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value)?;
            match key {
                "level" => f.level = parse_level(&value)?,
                "process" => f.processes.push(value),
                "target" => f.target = Some(value),
                "lines" => {
                    f.lines = value
                        .parse()
                        .map_err(|_| format!("lines: `{value}` is not a count"))?;
                }
                "json" => f.json = matches!(value.as_str(), "" | "1" | "true"),
                other => return Err(format!("unknown parameter `{other}`")),
            }
        }
        Ok(f)
    }

    fn takes(&self, level: Level, process: &str, target: &str) -> bool {
        level <= self.level
            && (self.processes.is_empty() || self.processes.iter().any(|p| p == process))
            && self.target.as_deref().is_none_or(|t| target.starts_with(t))
    }
}

fn parse_level(text: &str) -> Result<Level, String> {
    match text.to_ascii_lowercase().as_str() {
        "trace" => Ok(Level::TRACE),
        "debug" => Ok(Level::DEBUG),
        "info" => Ok(Level::INFO),
        "warn" | "warning" => Ok(Level::WARN),
        "error" => Ok(Level::ERROR),
        _ => Err(format!(
            "level: `{text}` is none of trace, debug, info, warn, error"
        )),
    }
}

/// `%XX` and `+` of a query value.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .ok_or("a `%` without two hex digits")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape `%{hex}`"))?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "a value that is not UTF-8".to_owned())
}

/// One record of the ring.
#[derive(Debug, Default)]
struct Entry {
    level: Option<Level>,
    process: String,
    target: String,
    text: String,
    /// The JSON line, when the batch had JSON lines (the files are JSON,
    /// or a JSON follower was there when it was formatted).
    json: Option<String>,
}

#[derive(Debug)]
struct Follower {
    filter: Filter,
    tx: flume::Sender<String>,
    /// Lines dropped since the last one it got.
    dropped: u64,
}

#[derive(Debug, Default)]
struct Inner {
    ring: VecDeque<Entry>,
    followers: Vec<Follower>,
}

/// The live tail's ring and followers.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    inner: Mutex<Inner>,
    /// Followers that want JSON lines: while there is one, the readers
    /// also format each record as JSON.
    json_followers: AtomicUsize,
    followers: AtomicUsize,
    /// Lines dropped for followers too slow to take them.
    pub(crate) dropped: AtomicU64,
}

impl Tail {
    /// Whether the readers should format JSON lines for a follower.
    pub(crate) fn wants_json(&self) -> bool {
        self.json_followers.load(Ordering::Relaxed) > 0
    }

    /// Followers now.
    pub(crate) fn followers(&self) -> usize {
        self.followers.load(Ordering::Relaxed)
    }

    /// A new follower: its channel, with the last `filter.lines` records
    /// it takes already in it (and a note when JSON lines of them are
    /// missing).
    pub(crate) fn follow(&self, filter: Filter) -> flume::Receiver<String> {
        let (tx, rx) = flume::bounded(FOLLOWER_QUEUE);
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let taken: Vec<&Entry> = (inner.ring.iter())
            .filter(|e| {
                e.level
                    .is_some_and(|l| filter.takes(l, &e.process, &e.target))
            })
            .collect();
        let from = taken.len().saturating_sub(filter.lines);
        let mut text_only = 0;
        for e in &taken[from..] {
            match (&e.json, filter.json) {
                (Some(json), true) => drop(tx.try_send(json.clone())),
                (None, true) => text_only += 1,
                (_, false) => drop(tx.try_send(e.text.clone())),
            }
        }
        if text_only > 0 {
            let _ = tx.try_send(format!(
                "mplog-sink tail: {text_only} earlier records were kept as text lines only \
                 (the files are not JSON); JSON lines follow from now on\n"
            ));
        }
        if filter.json {
            self.json_followers.fetch_add(1, Ordering::Relaxed);
        }
        self.followers.fetch_add(1, Ordering::Relaxed);
        inner.followers.push(Follower {
            filter,
            tx,
            dropped: 0,
        });
        rx
    }

    /// The fresh lines of a batch the writer wrote (`fresh[i]`: item `i`
    /// is no resent duplicate): into the ring, and to the followers.
    pub(crate) fn batch(&self, batch: &Lines, fresh: &[bool]) {
        let n = batch.items.len();
        if n == 0 {
            return;
        }
        let process = batch.origin.process_name.as_str();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let live = |i: usize| fresh.get(i) == Some(&true) && !batch.line(i).is_empty();
        for i in (n.saturating_sub(RING)..n).filter(|&i| live(i)) {
            let mut slot = if inner.ring.len() >= RING {
                inner.ring.pop_front().unwrap_or_default()
            } else {
                Entry::default()
            };
            slot.level = Some(batch.items[i].level);
            reuse(&mut slot.process, process);
            reuse(&mut slot.target, batch.tail_target(i));
            reuse(&mut slot.text, batch.line(i));
            match (batch.tail_json(i), &mut slot.json) {
                (Some(json), Some(s)) => reuse(s, json),
                (Some(json), none) => *none = Some(json.to_owned()),
                (None, s) => *s = None,
            }
            inner.ring.push_back(slot);
        }
        if inner.followers.is_empty() {
            return;
        }
        let before = inner.followers.len();
        inner.followers.retain_mut(|f| {
            (0..n).filter(|&i| live(i)).all(|i| {
                let level = batch.items[i].level;
                if !f.filter.takes(level, process, batch.tail_target(i)) {
                    return true;
                }
                let line = match (f.filter.json, batch.tail_json(i)) {
                    (true, Some(json)) => json,
                    (true, None) => return true,
                    (false, _) => batch.line(i),
                };
                offer(f, line, &self.dropped)
            })
        });
        if inner.followers.len() != before {
            self.recount(&inner);
        }
    }

    fn recount(&self, inner: &Inner) {
        let json = inner.followers.iter().filter(|f| f.filter.json).count();
        self.json_followers.store(json, Ordering::Relaxed);
        self.followers
            .store(inner.followers.len(), Ordering::Relaxed);
    }

    /// Forgets followers whose reader left (called by their thread).
    pub(crate) fn prune(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.followers.retain(|f| !f.tx.is_disconnected());
        self.recount(&inner);
    }
}

/// Hands `line` to `f` without waiting: `false` when it left.
fn offer(f: &mut Follower, line: &str, dropped: &AtomicU64) -> bool {
    if f.dropped > 0 {
        let note = format!(
            "mplog-sink tail: {} records dropped (this tail did not keep up)\n",
            f.dropped
        );
        match f.tx.try_send(note) {
            Ok(()) => f.dropped = 0,
            Err(flume::TrySendError::Full(_)) => {}
            Err(flume::TrySendError::Disconnected(_)) => return false,
        }
    }
    match f.tx.try_send(line.to_owned()) {
        Ok(()) => true,
        Err(flume::TrySendError::Full(_)) => {
            f.dropped += 1;
            dropped.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(flume::TrySendError::Disconnected(_)) => false,
    }
}

fn reuse(slot: &mut String, text: &str) {
    slot.clear();
    slot.push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_becomes_a_filter() {
        let f =
            Filter::parse("level=WARN&process=w1&process=w%202&target=app%3A%3Adb&lines=5&json=1")
                .expect("valid");
        assert_eq!(f.level, Level::WARN);
        assert_eq!(f.processes, ["w1", "w 2"]);
        assert_eq!(f.target.as_deref(), Some("app::db"));
        assert_eq!((f.lines, f.json), (5, true));
        assert!(f.takes(Level::ERROR, "w1", "app::db::pool"));
        assert!(!f.takes(Level::INFO, "w1", "app::db"));
        assert!(!f.takes(Level::WARN, "w3", "app::db"));
        assert!(!f.takes(Level::WARN, "w1", "app::http"));
        for bad in ["level=loud", "lines=x", "colour=red", "target=%zz"] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }
}

/// What a batch carries for the tail beside its lines (only while the
/// tail exists): each record's target, and its JSON line while a JSON
/// follower is there and the files are not JSON.
#[derive(Debug, Default)]
pub(crate) struct TailSide {
    targets: String,
    target_ends: Vec<u32>,
    /// The JSON lines and where each ends (`None`: not formatted).
    json: Option<(String, Vec<u32>)>,
    /// The batch's lines are JSON already.
    lines_are_json: bool,
}

impl TailSide {
    /// For a batch whose lines are JSON (`lines_are_json`), or that must
    /// format JSON lines too (`want_json`).
    pub(crate) fn new(lines_are_json: bool, want_json: bool) -> Self {
        TailSide {
            json: (want_json && !lines_are_json).then(Default::default),
            lines_are_json,
            ..TailSide::default()
        }
    }

    /// The record just added: its target, and with `json` its JSON line.
    pub(crate) fn push(
        &mut self,
        rec: &dyn crate::record::RecordView,
        json: &crate::format::JsonFormatter,
        written: bool,
    ) {
        self.targets.push_str(rec.target());
        self.target_ends
            .push(u32::try_from(self.targets.len()).unwrap_or(u32::MAX));
        if let Some((text, ends)) = &mut self.json {
            if written {
                json.format_record(rec, text);
            }
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
    }

    fn span(ends: &[u32], i: usize) -> (usize, usize) {
        let start = i
            .checked_sub(1)
            .and_then(|p| ends.get(p))
            .copied()
            .unwrap_or(0);
        let end = ends.get(i).copied().unwrap_or(start);
        (start as usize, end as usize)
    }

    /// The target of record `i`.
    pub(crate) fn target(&self, i: usize) -> &str {
        let (s, e) = Self::span(&self.target_ends, i);
        self.targets.get(s..e).unwrap_or("")
    }

    /// The JSON line of record `i` whose line is `line`, if there is one.
    pub(crate) fn json<'a>(&'a self, i: usize, line: &'a str) -> Option<&'a str> {
        if self.lines_are_json {
            return Some(line);
        }
        let (text, ends) = self.json.as_ref()?;
        let (s, e) = Self::span(ends, i);
        text.get(s..e).filter(|j| !j.is_empty())
    }
}
