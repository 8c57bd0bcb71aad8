//! How a batch's lines reach its files' buffers: in parts that fit an
//! empty buffer, each file taking its lines of a part in runs of
//! consecutive lines (see `Writer::lines`).

use super::{FILE_BUFFER, Health, Writer};
use crate::rotate::SharedText;
use crate::sink::lines::{Item, Lines, NO_KEY};

/// Where a batch's lines go: the consolidated file, the output of each of
/// its keys (`None`: the consolidated file), and the buffer's size; and the
/// batch's text, as the files' buffers keep it.
pub(super) struct Targets {
    pub(super) consolidated: Option<usize>,
    pub(super) keys: Vec<Option<usize>>,
    pub(super) cap: usize,
    pub(super) text: SharedText,
}

impl Writer {
    /// Writes the fresh lines of `batch` to its files, in parts that fit
    /// an empty buffer (see [`lines`](Self::lines)); `marks[i]` is the
    /// high-water mark a part ending at item `i` may claim.
    pub(super) fn write_parts(
        &mut self,
        batch: &Lines,
        t: &Targets,
        fresh: &[bool],
        marks: &[u64],
    ) {
        // Distinct outputs, in order (two keys may name one file).
        let mut outs: Vec<usize> = t.keys.iter().flatten().copied().collect();
        outs.sort_unstable();
        outs.dedup();
        // Open the batch's per-key files first: closing another to make
        // room may flush, which must not happen halfway through a part.
        for &out in &outs {
            self.touch(out);
        }
        // Only the files this batch writes to can overflow with it.
        let need = batch.text_len();
        let full = |room: usize| FILE_BUFFER.saturating_sub(room) + need >= t.cap;
        let overflows = t
            .consolidated
            .iter()
            .chain(&outs)
            .filter_map(|&out| self.outputs.files.get(out))
            .any(|o| full(o.buffer_room()));
        if overflows {
            self.flush_all();
        }
        let mut part = Vec::with_capacity(fresh.len());
        let mut from = 0;
        while from < batch.items.len() {
            // The items from `from` whose lines fit an empty buffer (at
            // least one: a line larger than the buffer goes alone).
            let start = batch.start(from);
            let mut to = from + 1;
            while to < batch.items.len() && batch.items[to].end - start < t.cap {
                to += 1;
            }
            part.clear();
            part.extend((0..fresh.len()).map(|i| fresh[i] && (from..to).contains(&i)));
            if let Some(out) = t.consolidated {
                let level = self.cfg.consolidated_level;
                self.write_runs(out, batch, &t.text, &part, |item| item.level <= level);
            }
            let level = self.cfg.per_key_level;
            for &out in &outs {
                self.write_runs(out, batch, &t.text, &part, |item| {
                    item.level <= level
                        && item.key != NO_KEY
                        && t.keys.get(item.key as usize) == Some(&Some(out))
                });
            }
            if let Some(slot) = &batch.ack {
                self.ledger.note(&batch.origin, slot, marks[to - 1]);
            }
            if to < batch.items.len() {
                self.flush_all();
            }
            from = to;
        }
    }

    /// Writes the lines of `batch` that are `fresh` and `wanted` to output
    /// `out`, in order, a run of consecutive lines at a time.
    fn write_runs(
        &mut self,
        out: usize,
        batch: &Lines,
        text: &SharedText,
        fresh: &[bool],
        wanted: impl Fn(&Item) -> bool,
    ) {
        let picked = |i: usize| fresh.get(i) == Some(&true) && wanted(&batch.items[i]);
        let mut i = 0;
        while i < batch.items.len() {
            if !picked(i) {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < batch.items.len() && picked(j) {
                j += 1;
            }
            self.write_run(out, batch, text, i, j);
            i = j;
        }
    }

    /// Writes the lines of items `i..j` of `batch` to output `out`: as many
    /// as fit go to the file's buffer at once, the next one through the
    /// file's `write` (which flushes, rotates, or fails and keeps the line),
    /// and so on. A line below the threshold (empty) is no record.
    fn write_run(&mut self, out: usize, batch: &Lines, text: &SharedText, mut i: usize, j: usize) {
        let mut ends = std::mem::take(&mut self.ends);
        ends.clear();
        ends.extend(batch.items[i..j].iter().map(|item| item.end));
        let first = i;
        self.touch(out);
        while i < j {
            let Some(output) = self.outputs.files.get_mut(out) else {
                break;
            };
            i += output.append(batch, text, i, &ends[i - first..]);
            if i == j {
                break;
            }
            let line = batch.line(i);
            if !line.is_empty() {
                match output.write(line, &self.cfg, &mut self.tally) {
                    Health::Same => {}
                    h => self.changes.push((out, h)),
                }
            }
            i += 1;
        }
        self.ends = ends;
    }
}
