//! [`Queue`]: one destination's bounded queue. The writer pushes without
//! ever waiting: when the queue is full the oldest records are dropped and
//! counted. The destination's thread takes batches from the front.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::Record;

/// A destination's live counts, read by the metrics and the report.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Records the destination took.
    pub(crate) forwarded: AtomicU64,
    /// Records dropped: pushed out of a full queue, refused by the
    /// destination, or still queued when the drain time ran out.
    pub(crate) dropped: AtomicU64,
    /// Records waiting in the queue now.
    pub(crate) queued: AtomicU64,
    /// Whether the last export succeeded (`true` until one fails).
    pub(crate) down: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    records: VecDeque<Arc<Record>>,
    /// No more pushes: take what is left, then stop.
    closed: bool,
    /// The drain time ran out: stop now.
    abandoned: bool,
}

/// A bounded queue, oldest dropped first.
#[derive(Debug)]
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
    pub(crate) stats: Arc<Stats>,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            stats: Arc::new(Stats::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `records`, dropping the oldest beyond the capacity; never
    /// waits for the destination.
    pub(crate) fn push(&self, records: impl IntoIterator<Item = Arc<Record>>) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        let before = state.records.len();
        state.records.extend(records);
        let over = state.records.len().saturating_sub(self.capacity);
        if over > 0 {
            state.records.drain(..over);
            self.stats.dropped.fetch_add(over as u64, Ordering::Relaxed);
        }
        self.stats
            .queued
            .store(state.records.len() as u64, Ordering::Relaxed);
        // Wakes the thread waiting for a first record or lingering for more.
        if state.records.len() != before {
            self.ready.notify_one();
        }
    }

    /// Up to `max` records from the front: waits until there is one (or
    /// the queue is closed), then up to `linger` more for the batch to
    /// fill. Empty only once closed and empty.
    pub(crate) fn take(&self, max: usize, linger: Duration) -> Vec<Arc<Record>> {
        let mut state = self.lock();
        while state.records.is_empty() && !state.closed && !state.abandoned {
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if !linger.is_zero() && !state.closed {
            let until = Instant::now() + linger;
            while state.records.len() < max && !state.closed {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                state = self
                    .ready
                    .wait_timeout(state, until - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        if state.abandoned {
            return Vec::new();
        }
        let n = state.records.len().min(max);
        let batch: Vec<_> = state.records.drain(..n).collect();
        self.stats
            .queued
            .store(state.records.len() as u64, Ordering::Relaxed);
        batch
    }

    /// Waits up to `d` (a back-off), or less if the queue is abandoned
    /// meanwhile; `true` when it is abandoned.
    pub(crate) fn pause(&self, d: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .ready
            .wait_timeout_while(state, d, |s| !s.abandoned)
            .unwrap_or_else(PoisonError::into_inner);
        state.abandoned
    }

    /// Whether the drain time ran out.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.lock().abandoned
    }

    /// The drain time ran out: the thread stops at its next step and what
    /// is left is dropped (see [`discard`](Self::discard)).
    pub(crate) fn abandon(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.abandoned = true;
        self.ready.notify_all();
    }

    /// No more records come: the thread sends what is left, then stops.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Drops what is left (the drain time ran out), counting it.
    pub(crate) fn discard(&self) -> u64 {
        let mut state = self.lock();
        let n = state.records.len() as u64;
        state.records.clear();
        self.stats.queued.store(0, Ordering::Relaxed);
        self.stats.dropped.fetch_add(n, Ordering::Relaxed);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::record::sample::{self, message};

    fn numbered(n: usize) -> Vec<Arc<Record>> {
        (0..n)
            .map(|i| Arc::new(sample::record_with(|e| e.message = Some(i.to_string()))))
            .collect()
    }

    fn messages(batch: &[Arc<Record>]) -> Vec<String> {
        batch.iter().map(|r| message(r)).collect()
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_them() {
        let q = Queue::new(3);
        q.push(numbered(2));
        q.push(numbered(5).into_iter().skip(2));
        assert_eq!(q.stats.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(q.stats.queued.load(Ordering::Relaxed), 3);
        assert_eq!(messages(&q.take(10, Duration::ZERO)), ["2", "3", "4"]);
        assert_eq!(q.stats.queued.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn take_gives_at_most_max_in_order() {
        let q = Queue::new(100);
        q.push(numbered(5));
        assert_eq!(messages(&q.take(2, Duration::ZERO)), ["0", "1"]);
        assert_eq!(messages(&q.take(9, Duration::ZERO)), ["2", "3", "4"]);
    }

    #[test]
    fn take_waits_for_a_push_and_lingers_for_more() {
        let q = Arc::new(Queue::new(100));
        let pusher = {
            let q = Arc::clone(&q);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                q.push(numbered(1));
                std::thread::sleep(Duration::from_millis(30));
                q.push(numbered(2).into_iter().skip(1));
            })
        };
        // Lingers long enough for the second push to join the batch.
        let batch = q.take(2, Duration::from_secs(10));
        assert_eq!(messages(&batch), ["0", "1"]);
        pusher.join().expect("pusher");
    }

    #[test]
    fn a_closed_queue_hands_out_the_rest_then_nothing() {
        let q = Queue::new(100);
        q.push(numbered(2));
        q.close();
        q.push(numbered(1));
        assert_eq!(q.take(10, Duration::from_secs(10)).len(), 2);
        assert!(q.take(10, Duration::from_secs(10)).is_empty());
        assert!(!q.pause(Duration::from_millis(1)));
        q.abandon();
        assert!(q.pause(Duration::from_secs(10)));
    }

    #[test]
    fn discard_counts_what_was_left() {
        let q = Queue::new(100);
        q.push(numbered(4));
        assert_eq!(q.discard(), 4);
        assert_eq!(q.stats.dropped.load(Ordering::Relaxed), 4);
    }
}
