//! Events become lines in the readers: [`LineMaker`] applies the level
//! threshold, formats with the templates (or as JSON lines) and works out each line's
//! per-key file key; [`Lines`] is the batch a reader hands the writer.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tracing_core::Level;

use super::router::Router;
use super::tail::{Tail, TailSide};
use crate::format::JsonFormatter;
use crate::forward::Record;
use crate::record::Client;
use crate::record::RecordView;

/// `Item::key` of a line that goes to no per-key file.
pub(crate) const NO_KEY: u32 = u32::MAX;

/// One event of a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    /// Where its line ends in [`Lines::text`]; a line that starts where it
    /// ends is an event below the level threshold (counted, not written).
    pub(crate) end: usize,
    /// The event's sequence number (resent duplicates are dropped by it).
    pub(crate) seq: u64,
    /// Index of its per-key file key in [`Lines::keys`], or [`NO_KEY`].
    pub(crate) key: u32,
    /// The event's level (outputs may have stricter thresholds).
    pub(crate) level: Level,
}

/// Formatted lines of one connection, in the order its events came.
#[derive(Debug)]
pub(crate) struct Lines {
    pub(crate) origin: Arc<Client>,
    pub(crate) text: String,
    pub(crate) items: Vec<Item>,
    /// The distinct keys of this batch's lines.
    pub(crate) keys: Vec<String>,
    /// Reused to compute per-record keys.
    scratch: String,
    /// In acknowledged mode: where the writer publishes the highest `seq`
    /// of this connection's process whose line is handed to the OS.
    pub(crate) ack: Option<Arc<AtomicU64>>,
    /// The index in `keys` of the connection's key, once added.
    conn_key: Option<u32>,
    /// Whether `seq` numbers come from the sender, so a resent line (seq
    /// not above the last written) is dropped. `false` for Python records,
    /// which have no sequence of their own: each is written.
    pub(crate) resent_check: bool,
    /// Records to forward, with the index of their item (empty when
    /// forwarding is off).
    pub(crate) records: Vec<(u32, Arc<Record>)>,
    /// When the batch's first forwarded record was read (ns since the
    /// epoch): one clock read per batch, not per record.
    observed_ns: Option<i64>,
    /// The live tail's side of the batch, while the tail exists.
    pub(crate) tail: Option<Box<TailSide>>,
    /// The connection said goodbye after these lines: its worker is
    /// exiting and waits for them to be written (and acknowledged), so the
    /// writer writes them as soon as its channel is empty, without waiting
    /// for it to stay quiet.
    pub(crate) last: bool,
}

/// What a new batch reserves at its first line: a busy connection's
/// batches grow to tens of KiB, and growing from nothing copies the text
/// ten times. (Most batches reuse a written one's buffers instead: see
/// [`Buffers`].)
const FIRST_TEXT: usize = 8 * 1024;
const FIRST_ITEMS: usize = 64;

/// The buffers of a batch, empty, with their capacity: what a written
/// batch leaves for the next one (see `batch::Spares`).
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    text: String,
    items: Vec<Item>,
    keys: Vec<String>,
}

impl Buffers {
    /// Bytes of text (and of items) the buffers hold room for.
    pub(crate) fn capacity(&self) -> usize {
        self.text.capacity() + self.items.capacity() * std::mem::size_of::<Item>()
    }
}

impl Lines {
    /// An empty batch of `origin`'s lines, in `buffers`.
    pub(crate) fn new(origin: Arc<Client>, buffers: Buffers) -> Self {
        let Buffers { text, items, keys } = buffers;
        Lines {
            origin,
            text,
            items,
            keys,
            scratch: String::new(),
            ack: None,
            conn_key: None,
            resent_check: true,
            records: Vec::new(),
            observed_ns: None,
            tail: None,
            last: false,
        }
    }

    /// The batch's buffers, emptied, for another batch.
    pub(crate) fn into_buffers(self) -> Buffers {
        let Lines {
            mut text,
            mut items,
            mut keys,
            ..
        } = self;
        text.clear();
        items.clear();
        keys.clear();
        Buffers { text, items, keys }
    }

    /// The time the records of this batch count as observed.
    pub(crate) fn observed_ns(&mut self) -> i64 {
        *self.observed_ns.get_or_insert_with(now_ns)
    }

    /// Adds the record to forward of the item just added.
    pub(crate) fn forward(&mut self, record: Record) {
        let item = u32::try_from(self.items.len().saturating_sub(1)).unwrap_or(u32::MAX);
        self.records.push((item, Arc::new(record)));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Where the line of item `i` starts in [`text`](Self::text).
    pub(crate) fn start(&self, i: usize) -> usize {
        match i.checked_sub(1) {
            Some(prev) => self.items[prev].end,
            None => 0,
        }
    }

    /// The target of item `i`, for the tail (`""` without the tail).
    pub(crate) fn tail_target(&self, i: usize) -> &str {
        self.tail.as_ref().map_or("", |t| t.target(i))
    }

    /// The JSON line of item `i`, for the tail's JSON followers.
    pub(crate) fn tail_json(&self, i: usize) -> Option<&str> {
        self.tail.as_ref()?.json(i, self.line(i))
    }

    /// The line of item `i` (empty: below the threshold).
    pub(crate) fn line(&self, i: usize) -> &str {
        self.text
            .get(self.start(i)..self.items[i].end)
            .unwrap_or("")
    }

    fn key_index(&mut self, key: &str) -> u32 {
        // Batches hold few distinct keys; a short scan beats hashing.
        if let Some(i) = self.keys.iter().rposition(|k| k == key) {
            return u32::try_from(i).unwrap_or(NO_KEY);
        }
        self.keys.push(key.to_owned());
        u32::try_from(self.keys.len() - 1).unwrap_or(NO_KEY)
    }
}

/// A batch's text, as the files' buffers keep it until written (see
/// [`RotatingFile::append_shared`](crate::rotate::RotatingFile)).
impl AsRef<[u8]> for Lines {
    fn as_ref(&self) -> &[u8] {
        self.text.as_bytes()
    }
}

/// Now, in ns since the epoch.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// What the readers need to turn events into lines, shared by all.
#[derive(Debug)]
pub(crate) struct LineMaker {
    pub(crate) formatter: crate::format::Lines,
    pub(crate) router: Router,
    pub(crate) level: Level,
    /// Records at this level or more severe are forwarded (`None`:
    /// forwarding is off).
    pub(crate) forward: Option<Level>,
    /// The live tail (while the metrics server runs), and the JSON
    /// formatter of its JSON followers.
    pub(crate) tail: Option<(Arc<Tail>, JsonFormatter)>,
}

impl LineMaker {
    /// Whether a record of `level` is forwarded somewhere.
    pub(crate) fn forwards(&self, level: Level) -> bool {
        self.forward.is_some_and(|l| level <= l)
    }
}

impl LineMaker {
    /// The key of every line of a connection, when it does not depend on
    /// the record (no `target` key); `None` otherwise or without keys.
    pub(crate) fn connection_key(&self, origin: &Client) -> Option<String> {
        if self.router.key_per_record() {
            return None;
        }
        let mut key = String::new();
        self.router
            .key_of(&origin.process_name, origin.pid, "", &origin.host, &mut key)
            .then_some(key)
    }

    /// Adds the line of one event to `batch`.
    pub(crate) fn add(
        &self,
        batch: &mut Lines,
        seq: u64,
        rec: &dyn RecordView,
        conn_key: Option<&str>,
    ) {
        if batch.items.is_empty() {
            batch.text.reserve(FIRST_TEXT);
            batch.items.reserve(FIRST_ITEMS);
        }
        let written = rec.level() <= self.level;
        if written {
            // Only the record's own writes could fail, into a String.
            let _ = self.formatter.format_record(rec, &mut batch.text);
        }
        if let Some((tail, json)) = &self.tail {
            let lines_are_json = matches!(self.formatter, crate::format::Lines::Json(_));
            (batch.tail)
                .get_or_insert_with(|| Box::new(TailSide::new(lines_are_json, tail.wants_json())))
                .push(rec, json, written);
        }
        let key = match conn_key {
            // The same for every line of the connection: looked up once.
            Some(key) => match batch.conn_key {
                Some(index) => index,
                None => {
                    let index = batch.key_index(key);
                    batch.conn_key = Some(index);
                    index
                }
            },
            None => {
                let mut key = std::mem::take(&mut batch.scratch);
                let index = if self.router.key(rec, &mut key) {
                    batch.key_index(&key)
                } else {
                    NO_KEY
                };
                batch.scratch = key;
                index
            }
        };
        batch.items.push(Item {
            end: batch.text.len(),
            seq,
            key,
            level: rec.level(),
        });
    }
}
