//! The writer's side of the monitor: counts what the writer already
//! handles (plain integer adds, no lock per event) in its [`Tally`], hands
//! the per-event rules each fresh event's level and line, and publishes a
//! [`Snapshot`] when the writer flushes. The monitor reads only what is
//! published here, never the writer's own types.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracing_mplog::wire::DropReason;

use super::super::lines::Lines;
use super::super::monitor::{Evaluator, FileSnap, Monitor, ProcSnap, Snapshot, level_index};
use super::super::output::Outputs;
use super::super::report::Tally;
use crate::record::Client;

/// A snapshot walks every process remembered and every file, and a busy
/// sink flushes every few milliseconds: after a snapshot that took `t`,
/// the next waits until `t * PUBLISH_SPACING` has passed, so snapshots
/// take at most about 1/20 of the writer's time. A small sink's snapshot
/// takes microseconds: it is published at every flush.
const PUBLISH_SPACING: u32 = 20;

/// The monitor as the writer sees it.
#[derive(Debug)]
pub(crate) struct Watch {
    monitor: Arc<Monitor>,
    eval: Option<Evaluator>,
    /// Something changed since the last snapshot.
    dirty: bool,
    /// When the last snapshot was published, and how long that took.
    published: Option<(Instant, Duration)>,
    logdir: PathBuf,
}

impl Watch {
    pub(crate) fn new(monitor: Arc<Monitor>, eval: Option<Evaluator>) -> Self {
        let logdir = monitor.logdir.clone();
        Watch {
            monitor,
            eval,
            dirty: true,
            published: None,
            logdir,
        }
    }

    /// A connection of `origin` said hello.
    pub(crate) fn opened(&mut self, tally: &mut Tally, origin: &Client) {
        let c = &mut tally.process(origin).counts;
        c.open += 1;
        c.ended = None;
        c.since = Some(SystemTime::now());
        if c.host != origin.host {
            c.host.clone_from(&origin.host);
        }
        self.dirty = true;
    }

    /// A batch was written; `fresh[i]`: item `i` is no resent duplicate.
    pub(crate) fn batch(&mut self, tally: &mut Tally, batch: &Lines, fresh: &[bool]) {
        let mut levels = [0u64; 5];
        for (item, &new) in batch.items.iter().zip(fresh) {
            levels[level_index(item.level)] += u64::from(new);
        }
        if levels.iter().any(|&n| n > 0) {
            let o = &batch.origin;
            let c = &mut tally.process(o).counts;
            for (total, n) in c.levels.iter_mut().zip(levels) {
                *total += n;
            }
            c.last_event = Some(SystemTime::now());
            self.dirty = true;
        }
        if let Some(eval) = &mut self.eval {
            let events = (batch.items.iter().enumerate())
                .filter(|&(i, _)| fresh.get(i) == Some(&true))
                .map(|(i, item)| (item.level, batch.line(i)));
            eval.batch(&batch.origin, events);
        }
    }

    /// The worker of `origin` reported dropped events.
    pub(crate) fn dropped(
        &mut self,
        tally: &mut Tally,
        origin: &Client,
        reason: DropReason,
        why: &str,
        count: u64,
    ) {
        let c = &mut tally.process(origin).counts;
        let i = match reason {
            DropReason::Oversized => 1,
            DropReason::Truncated => 2,
            _ => 0,
        };
        c.dropped[i] += count;
        self.dirty = true;
        // A truncated event was delivered: no `dropped` alert for it.
        if reason == DropReason::Truncated {
            return;
        }
        if let Some(eval) = &mut self.eval {
            eval.dropped(origin, why, count);
        }
    }

    /// A connection of `origin` that had said hello ended.
    pub(crate) fn closed(&mut self, tally: &mut Tally, origin: &Client, clean: bool) {
        tally.disconnects[usize::from(clean)] += 1;
        let c = &mut tally.process(origin).counts;
        c.open = c.open.saturating_sub(1);
        if c.open == 0 {
            c.ended = Some(Instant::now());
        }
        self.dirty = true;
        if let Some(eval) = &mut self.eval {
            eval.closed(origin, clean);
            if clean {
                eval.forget(&origin.process_id());
            }
        }
    }

    /// How long until a snapshot of the changes made is due: `None` if
    /// nothing changed since the last one.
    pub(crate) fn publish_due(&self) -> Option<Duration> {
        self.dirty.then(|| {
            self.published.map_or(Duration::ZERO, |(at, took)| {
                (took * PUBLISH_SPACING).saturating_sub(at.elapsed())
            })
        })
    }

    /// Publishes a snapshot if anything changed and it is due (see
    /// [`PUBLISH_SPACING`]); first lets go of the ended processes beyond
    /// the tally's limit that the metrics no longer show.
    pub(crate) fn publish(&mut self, tally: &mut Tally, outputs: &Outputs) {
        if self.publish_due() != Some(Duration::ZERO) {
            return;
        }
        self.dirty = false;
        let started = Instant::now();
        let retention = self.monitor.retention;
        for gone in tally.forget_ended(Some(retention)) {
            if let Some(eval) = self.eval.as_mut() {
                eval.forget(&gone);
            }
        }
        let eval = &mut self.eval;
        let processes = tally
            .iter()
            .filter(|(key, p)| {
                let c = &p.counts;
                let kept = c.open > 0 || c.ended.is_none_or(|t| t.elapsed() < retention);
                if !kept {
                    // Its windows and cooldowns go with its series.
                    if let Some(eval) = eval.as_mut() {
                        eval.forget(key);
                    }
                }
                kept
            })
            .map(|(_, p)| ProcSnap {
                name: p.report.process_name.clone(),
                pid: p.report.pid,
                clean: p.report.clean,
                counts: p.counts.clone(),
            })
            .collect();
        let files = outputs
            .files
            .iter()
            .filter(|o| !o.is_vacant())
            .map(|o| FileSnap {
                name: o
                    .path
                    .strip_prefix(&self.logdir)
                    .unwrap_or(&o.path)
                    .display()
                    .to_string(),
                lines: o.lines,
                bytes: o.bytes,
                rotations: o.file.as_ref().map_or(0, |f| f.rotations()),
                write_errors: o.errors,
            })
            .collect();
        self.monitor.publish(Snapshot {
            processes,
            files,
            disconnects: tally.disconnects,
            forgotten: tally.forgotten(),
        });
        self.published = Some((started, started.elapsed()));
    }
}
