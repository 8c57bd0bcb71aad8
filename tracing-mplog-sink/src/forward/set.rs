//! [`Forwarders`]: every destination's queue and thread, started with the
//! sink; [`Senders`]: what the writer pushes records to.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tracing_core::Level;

use super::queue::{Queue, Stats};
use super::worker::{Job, Notify};
use super::{Destination, DestinationError, EXPORT_TIMEOUT, Record};

/// What one destination did, in [`SinkReport::forwards`](crate::SinkReport::forwards).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwardReport {
    /// The destination's URL, as given.
    pub destination: String,
    /// Records the destination took.
    pub forwarded: u64,
    /// Records dropped: pushed out of the full queue while it was slow or
    /// down, refused by it, or left when the drain time ran out.
    pub dropped: u64,
}

/// One destination as the writer sees it.
#[derive(Debug, Clone)]
struct Sender {
    level: Level,
    queue: Arc<Queue>,
}

/// The destinations' queues, for the writer: pushing never waits.
#[derive(Debug, Clone, Default)]
pub(crate) struct Senders {
    to: Vec<Sender>,
    /// The most verbose threshold of all (`None`: no destination).
    level: Option<Level>,
}

impl Senders {
    /// Records of this level or more severe are forwarded somewhere
    /// (`None`: forwarding is off, build no record).
    pub(crate) fn level(&self) -> Option<Level> {
        self.level
    }

    /// Pushes records to every destination whose threshold they pass.
    pub(crate) fn send(&self, records: &[Arc<Record>]) {
        for s in &self.to {
            s.queue
                .push(records.iter().filter(|r| r.level() <= s.level).cloned());
        }
    }
}

/// The running destinations.
#[derive(Debug, Default)]
pub(crate) struct Forwarders {
    running: Vec<(String, Arc<Queue>, Option<JoinHandle<()>>)>,
    senders: Senders,
}

impl Forwarders {
    /// Checks every destination and builds its exporter, then starts the
    /// threads (nothing starts if one destination is refused).
    pub(crate) fn start(dests: &[Destination], notify: &Notify) -> Result<Self, StartError> {
        let mut jobs = Vec::new();
        for dest in dests {
            dest.validate().map_err(StartError::Destination)?;
            let exporter = super::exporter(dest).map_err(StartError::Destination)?;
            let queue = Arc::new(Queue::new(dest.options().queue));
            let job = Job::new(dest, Arc::clone(&queue), exporter, Arc::clone(notify));
            jobs.push((dest.options().level, job));
        }
        let mut set = Forwarders::default();
        for (level, job) in jobs {
            let url = job.url.clone();
            let queue = Arc::clone(&job.queue);
            let handle = thread::Builder::new()
                .name("mplog-forward".into())
                .spawn(move || job.run())
                .map_err(StartError::Thread);
            let handle = match handle {
                Ok(h) => h,
                Err(e) => {
                    set.shutdown(Duration::ZERO);
                    return Err(e);
                }
            };
            set.senders.to.push(Sender {
                level,
                queue: Arc::clone(&queue),
            });
            set.senders.level = Some(set.senders.level.map_or(level, |l| l.max(level)));
            set.running.push((url, queue, Some(handle)));
        }
        Ok(set)
    }

    /// What the writer pushes to.
    pub(crate) fn senders(&self) -> Senders {
        self.senders.clone()
    }

    /// Each destination's URL and live counts, for the metrics.
    pub(crate) fn stats(&self) -> Vec<(String, Arc<Stats>)> {
        self.running
            .iter()
            .map(|(url, q, _)| (url.clone(), Arc::clone(&q.stats)))
            .collect()
    }

    /// Lets every destination send what its queue holds for up to `drain`,
    /// then drops the rest (counted) and joins the threads: an export under
    /// way may take [`EXPORT_TIMEOUT`] more.
    pub(crate) fn shutdown(&mut self, drain: Duration) -> Vec<ForwardReport> {
        for (_, q, _) in &self.running {
            q.close();
        }
        let deadline = Instant::now() + drain;
        while self
            .running
            .iter()
            .any(|(_, _, h)| h.as_ref().is_some_and(|h| !h.is_finished()))
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(5));
        }
        for (_, q, _) in &self.running {
            q.abandon();
        }
        let last = Instant::now() + EXPORT_TIMEOUT + Duration::from_secs(1);
        let mut reports = Vec::new();
        for (url, q, handle) in &mut self.running {
            if let Some(h) = handle.take() {
                while !h.is_finished() && Instant::now() < last {
                    thread::sleep(Duration::from_millis(5));
                }
                if h.is_finished() {
                    let _ = h.join();
                } else {
                    // Stuck past every bound: left behind, its queue counted.
                    q.discard();
                }
            }
            reports.push(ForwardReport {
                destination: url.clone(),
                forwarded: q.stats.forwarded.load(Ordering::Relaxed),
                dropped: q.stats.dropped.load(Ordering::Relaxed),
            });
        }
        reports
    }
}

impl Drop for Forwarders {
    /// Without [`shutdown`](Self::shutdown) (a sink that failed to start):
    /// the threads stop at their next step, unjoined.
    fn drop(&mut self) {
        for (_, q, _) in &self.running {
            q.abandon();
        }
    }
}

/// Why forwarding could not start.
#[derive(Debug)]
pub(crate) enum StartError {
    Destination(DestinationError),
    Thread(std::io::Error),
}
