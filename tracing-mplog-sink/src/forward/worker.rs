//! One destination's thread: takes batches from its [`Queue`], exports
//! them, and while the destination is down keeps the batch, backs off
//! (100 ms doubling to 10 s, with jitter) and tries again. It says once
//! that the destination is down and once that it is back, with what was
//! dropped meanwhile.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing_core::Level;

use super::queue::Queue;
use super::{Destination, ExportError, Exporter};

/// The first back-off after a failed export.
pub(crate) const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest back-off.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Refusals are reported at most this often (with their count since).
const REFUSAL_REPORT: Duration = Duration::from_secs(60);

/// How the thread reports (to the sink's own records).
pub(crate) type Notify = Arc<dyn Fn(Level, String) + Send + Sync>;

/// What a destination's thread needs.
pub(crate) struct Job {
    pub(crate) url: String,
    pub(crate) batch: usize,
    pub(crate) linger: Duration,
    pub(crate) capacity: usize,
    pub(crate) queue: Arc<Queue>,
    pub(crate) exporter: Box<dyn Exporter>,
    pub(crate) notify: Notify,
}

impl Job {
    pub(crate) fn new(
        dest: &Destination,
        queue: Arc<Queue>,
        exporter: Box<dyn Exporter>,
        notify: Notify,
    ) -> Self {
        let otlp = dest.protocol().is_otlp();
        Job {
            url: dest.url().to_owned(),
            // Syslog sends what is there at once; OTLP fills requests.
            batch: if otlp { dest.options().batch_size } else { 512 },
            linger: if otlp {
                dest.options().batch_timeout
            } else {
                Duration::ZERO
            },
            capacity: dest.options().queue,
            queue,
            exporter,
            notify,
        }
    }

    /// Runs until the queue is closed and empty, or abandoned.
    pub(crate) fn run(mut self) {
        let stats = Arc::clone(&self.queue.stats);
        let mut backoff = MIN_BACKOFF;
        // Since when the destination is down, and the drops then.
        let mut down: Option<(Instant, u64)> = None;
        let mut refused: Option<(Instant, u64)> = None;
        loop {
            let batch = self.queue.take(self.batch, self.linger);
            if batch.is_empty() {
                break;
            }
            let n = batch.len() as u64;
            loop {
                match self.exporter.export(&batch) {
                    Ok(()) => {
                        stats.forwarded.fetch_add(n, Ordering::Relaxed);
                        backoff = MIN_BACKOFF;
                        if let Some((since, dropped_then)) = down.take() {
                            stats.down.store(false, Ordering::Relaxed);
                            let dropped = stats.dropped.load(Ordering::Relaxed) - dropped_then;
                            (self.notify)(
                                Level::INFO,
                                format!(
                                    "forward to {}: the destination is back after {:.1} s \
                                     ({dropped} records dropped meanwhile)",
                                    self.url,
                                    since.elapsed().as_secs_f64()
                                ),
                            );
                        }
                        break;
                    }
                    Err(ExportError::Refused(why)) => {
                        stats.dropped.fetch_add(n, Ordering::Relaxed);
                        self.refused(&mut refused, n, &why);
                        break;
                    }
                    Err(ExportError::Down(why)) => {
                        if down.is_none() {
                            stats.down.store(true, Ordering::Relaxed);
                            down = Some((Instant::now(), stats.dropped.load(Ordering::Relaxed)));
                            (self.notify)(
                                Level::WARN,
                                format!(
                                    "forward to {}: the destination is down ({why}); records \
                                     wait in its queue (up to {}), then the oldest are \
                                     dropped and counted",
                                    self.url, self.capacity
                                ),
                            );
                        }
                        let jitter = backoff.mul_f64(fastrand::f64() * 0.2);
                        if self.queue.pause(backoff + jitter) {
                            stats.dropped.fetch_add(n, Ordering::Relaxed);
                            break;
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            if self.queue.is_abandoned() {
                break;
            }
        }
        self.queue.discard();
        self.exporter.close();
    }

    /// Reports refused batches, at most once per [`REFUSAL_REPORT`].
    fn refused(&self, last: &mut Option<(Instant, u64)>, n: u64, why: &str) {
        match last {
            Some((at, count)) if at.elapsed() < REFUSAL_REPORT => *count += n,
            _ => {
                let earlier = last.map_or(0, |(_, c)| c);
                (self.notify)(
                    Level::WARN,
                    format!(
                        "forward to {}: {} records refused by the destination ({why}); \
                         they are dropped",
                        self.url,
                        n + earlier
                    ),
                );
                *last = Some((Instant::now(), 0));
            }
        }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::Record;
    use crate::forward::record::sample::{self, message};
    use std::sync::Mutex;

    /// An exporter that is down for its first `down` calls, refuses
    /// batches holding a record whose message is `"bad"`, and keeps what it
    /// took.
    struct Scripted {
        down: usize,
        took: Arc<Mutex<Vec<String>>>,
        calls: Arc<Mutex<usize>>,
    }

    impl Exporter for Scripted {
        fn export(&mut self, batch: &[Arc<Record>]) -> Result<(), ExportError> {
            *self.calls.lock().expect("calls") += 1;
            if self.down > 0 {
                self.down -= 1;
                return Err(ExportError::Down("connection refused".into()));
            }
            if batch.iter().any(|r| message(r) == "bad") {
                return Err(ExportError::Refused("400".into()));
            }
            let mut took = self.took.lock().expect("took");
            took.extend(batch.iter().map(|r| message(r)));
            Ok(())
        }
    }

    fn record(text: &str) -> Arc<Record> {
        Arc::new(sample::record_with(|e| e.message = Some(text.to_owned())))
    }

    struct Run {
        queue: Arc<Queue>,
        took: Arc<Mutex<Vec<String>>>,
        calls: Arc<Mutex<usize>>,
        notices: Arc<Mutex<Vec<(Level, String)>>>,
        thread: std::thread::JoinHandle<()>,
    }

    fn start(down: usize, capacity: usize) -> Run {
        let queue = Arc::new(Queue::new(capacity));
        let took = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(Mutex::new(0));
        let notices = Arc::new(Mutex::new(Vec::new()));
        let n = Arc::clone(&notices);
        let job = Job {
            url: "syslog+tcp://127.0.0.1:9".into(),
            batch: 2,
            linger: Duration::ZERO,
            capacity,
            queue: Arc::clone(&queue),
            exporter: Box::new(Scripted {
                down,
                took: Arc::clone(&took),
                calls: Arc::clone(&calls),
            }),
            notify: Arc::new(move |level, text| n.lock().expect("notices").push((level, text))),
        };
        let thread = std::thread::spawn(move || job.run());
        Run {
            queue,
            took,
            calls,
            notices,
            thread,
        }
    }

    #[test]
    fn a_destination_down_for_a_while_gets_every_record_in_order() {
        let run = start(3, 100);
        run.queue
            .push(["a", "b", "c", "d", "e"].into_iter().map(record));
        run.queue.close();
        run.thread.join().expect("thread");
        assert_eq!(*run.took.lock().expect("took"), ["a", "b", "c", "d", "e"]);
        // 3 failures, then 3 batches of at most 2.
        assert_eq!(*run.calls.lock().expect("calls"), 6);
        let stats = &run.queue.stats;
        assert_eq!(stats.forwarded.load(Ordering::Relaxed), 5);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 0);
        assert!(!stats.down.load(Ordering::Relaxed));
        let notices = run.notices.lock().expect("notices");
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert_eq!(notices[0].0, Level::WARN);
        assert!(
            notices[0].1.contains("is down (connection refused)"),
            "{notices:?}"
        );
        assert!(notices[1].1.contains("is back after"), "{notices:?}");
        assert!(
            notices[1].1.contains("(0 records dropped meanwhile)"),
            "{notices:?}"
        );
    }

    #[test]
    fn a_refused_batch_is_dropped_counted_and_reported() {
        let run = start(0, 100);
        run.queue.push(["bad", "x", "ok"].into_iter().map(record));
        run.queue.close();
        run.thread.join().expect("thread");
        assert_eq!(*run.took.lock().expect("took"), ["ok"]);
        assert_eq!(run.queue.stats.dropped.load(Ordering::Relaxed), 2);
        let notices = run.notices.lock().expect("notices");
        assert_eq!(notices.len(), 1);
        assert!(
            notices[0]
                .1
                .contains("2 records refused by the destination (400)")
        );
    }

    #[test]
    fn abandoning_a_dead_destination_counts_everything_left() {
        let run = start(usize::MAX, 3);
        run.queue.push((0..5).map(|i| record(&i.to_string())));
        // 2 pushed out by the full queue; the thread holds a batch of 2.
        run.queue.close();
        std::thread::sleep(Duration::from_millis(50));
        assert!(run.queue.stats.down.load(Ordering::Relaxed));
        run.queue.abandon();
        run.thread.join().expect("thread");
        assert!(run.took.lock().expect("took").is_empty());
        let stats = &run.queue.stats;
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 5);
        assert_eq!(stats.forwarded.load(Ordering::Relaxed), 0);
        assert_eq!(stats.queued.load(Ordering::Relaxed), 0);
    }
}
