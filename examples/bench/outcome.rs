//! What one run of one scenario measured, and the line a scenario child
//! prints it on for the parent.

use std::collections::HashMap;

use crate::args::Args;
use crate::common::{self, Caller, Count};

/// What one run of one scenario measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    pub(crate) name: String,
    pub(crate) workers: usize,
    /// Events logged in all (workers × events per worker).
    pub(crate) events: u64,
    /// Wall time from the first event to the last line synced on disk.
    pub(crate) seconds: f64,
    pub(crate) caller: Option<Caller>,
    pub(crate) count: Count,
    /// Peak RSS of the writing process (the sink for the pipeline), KiB.
    pub(crate) peak_rss_kib: Option<u64>,
    /// The pipeline's CPU per event (user + system, every thread): the
    /// sink's process from start to shutdown, and a worker process's from
    /// before `worker::init()` to its guard dropped (mean of the workers).
    pub(crate) sink_cpu_ns: Option<f64>,
    pub(crate) worker_cpu_ns: Option<f64>,
    /// The machine's 1-minute load average before and after the run
    /// (filled in by the parent).
    pub(crate) load: Option<(f64, f64)>,
}

impl Outcome {
    /// The outcome of a scenario child that ran `args`: its own peak RSS.
    pub(crate) fn new(
        name: &str,
        args: &Args,
        seconds: f64,
        caller: Option<Caller>,
        count: Count,
    ) -> Self {
        Outcome {
            name: name.to_owned(),
            workers: args.workers,
            events: args.workers as u64 * args.events,
            seconds,
            caller,
            count,
            peak_rss_kib: common::peak_rss_kib(),
            load: None,
            sink_cpu_ns: None,
            worker_cpu_ns: None,
        }
    }

    pub(crate) fn to_line(&self) -> String {
        format!(
            "RESULT name={} workers={} events={} seconds={:.6} caller_ns={} caller_cpu_ns={} lost={} duplicated={} peak_rss_kib={} sink_cpu_ns={} worker_cpu_ns={}",
            self.name,
            self.workers,
            self.events,
            self.seconds,
            self.caller
                .map_or("-".into(), |c| format!("{:.1}", c.wall_ns)),
            self.caller
                .map_or("-".into(), |c| format!("{:.1}", c.cpu_ns)),
            self.count.lost,
            self.count.duplicated,
            self.peak_rss_kib.map_or("-".into(), |v| v.to_string()),
            self.sink_cpu_ns.map_or("-".into(), |v| format!("{v:.1}")),
            self.worker_cpu_ns.map_or("-".into(), |v| format!("{v:.1}")),
        )
    }

    pub(crate) fn from_line(line: &str) -> Option<Self> {
        let kv: HashMap<&str, &str> = line
            .strip_prefix("RESULT ")?
            .split(' ')
            .filter_map(|p| p.split_once('='))
            .collect();
        let wall = kv.get("caller_ns").and_then(|v| v.parse().ok());
        let cpu = kv.get("caller_cpu_ns").and_then(|v| v.parse().ok());
        Some(Outcome {
            name: kv.get("name")?.to_string(),
            workers: kv.get("workers")?.parse().ok()?,
            events: kv.get("events")?.parse().ok()?,
            seconds: kv.get("seconds")?.parse().ok()?,
            caller: wall
                .zip(cpu)
                .map(|(wall_ns, cpu_ns)| Caller { wall_ns, cpu_ns }),
            count: Count {
                lost: kv.get("lost")?.parse().ok()?,
                duplicated: kv.get("duplicated")?.parse().ok()?,
            },
            peak_rss_kib: kv.get("peak_rss_kib").and_then(|v| v.parse().ok()),
            load: None,
            sink_cpu_ns: kv.get("sink_cpu_ns").and_then(|v| v.parse().ok()),
            worker_cpu_ns: kv.get("worker_cpu_ns").and_then(|v| v.parse().ok()),
        })
    }

    pub(crate) fn per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }

    /// Whether every record landed exactly once.
    pub(crate) fn exact(&self) -> bool {
        self.count.lost == 0 && self.count.duplicated == 0
    }
}
