//! Per-process counts: what [`SinkHandle::shutdown`](super::SinkHandle::shutdown)
//! returns.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::record::{Client, ProcessId};

/// What a sink received, per worker process, and what went wrong.
///
/// `Display` prints a small table, one row per process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkReport {
    /// One entry per worker process (a `pid` and start time from its
    /// hello), in the order their first connection said hello: every
    /// process still connected, and of those that ended, the latest
    /// [`max_ended_processes`](super::Builder::max_ended_processes) (the
    /// others are summed in [`forgotten`](Self::forgotten)).
    pub processes: Vec<ProcessReport>,
    /// The processes that ended before the latest
    /// [`max_ended_processes`](super::Builder::max_ended_processes), summed:
    /// a sink that runs for months does not remember every worker it served.
    pub forgotten: ForgottenProcesses,
    /// Failed write attempts to log files (each also reported on stderr).
    pub write_errors: u64,
    /// Records that never reached their file: still failing at shutdown
    /// (including those its write buffer held since its last successful
    /// flush), or beyond the retry queue while a file was failing.
    pub unwritten: u64,
    /// Connections refused (every reason: [`rejected`](Self::rejected)).
    pub rejected_connections: u64,
    /// Connections refused, by reason.
    pub rejected: super::Rejections,
    /// What each forwarding destination took and dropped, in the order
    /// they were given.
    pub forwards: Vec<crate::forward::ForwardReport>,
}

/// The processes a [`SinkReport`] no longer lists one by one, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForgottenProcesses {
    /// How many.
    pub processes: u64,
    /// Their event frames received.
    pub received: u64,
    /// Their events the workers reported as dropped.
    pub dropped_by_worker: u64,
    /// Their events the workers cut to fit the frame limit.
    pub truncated_by_worker: u64,
    /// Their connections.
    pub connections: u64,
    /// Those whose last connection ended without a goodbye.
    pub unclean: u64,
}

impl ForgottenProcesses {
    fn add(&mut self, p: &ProcessReport) {
        self.processes += 1;
        self.received += p.received;
        self.dropped_by_worker += p.dropped_by_worker;
        self.truncated_by_worker += p.truncated_by_worker;
        self.connections += u64::from(p.connections);
        self.unclean += u64::from(!p.clean);
    }
}

/// The counts of one worker process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessReport {
    /// The process id from the hello.
    pub pid: u32,
    /// The process name from the hello.
    pub process_name: String,
    /// Event frames received (resent duplicates not counted), whether or
    /// not their level passed the threshold.
    pub received: u64,
    /// Events the worker reported as dropped (dropped frames).
    pub dropped_by_worker: u64,
    /// Events the worker cut to fit the frame limit (each with a marker
    /// saying how many bytes were cut) and delivered: not dropped.
    pub truncated_by_worker: u64,
    /// Whether the process's last connection ended with a goodbye.
    pub clean: bool,
    /// Connections the process opened (reconnects add one each).
    pub connections: u32,
    /// Why the last connection that failed was closed, if one was.
    pub error: Option<String>,
}

impl fmt::Display for SinkReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>8}  {:<20} {:>10} {:>8} {:>5} {:>5}  error",
            "pid", "process", "received", "dropped", "conns", "clean"
        )?;
        for p in &self.processes {
            writeln!(
                f,
                "{:>8}  {:<20} {:>10} {:>8} {:>5} {:>5}  {}",
                p.pid,
                p.process_name,
                p.received,
                p.dropped_by_worker,
                p.connections,
                if p.clean { "yes" } else { "no" },
                p.error.as_deref().unwrap_or("-")
            )?;
        }
        let g = &self.forgotten;
        if g.processes > 0 {
            writeln!(
                f,
                "{:>8}  {:<20} {:>10} {:>8} {:>5} {:>5}  ({} ended earlier, {} unclean)",
                "...",
                "earlier processes",
                g.received,
                g.dropped_by_worker,
                g.connections,
                "-",
                g.processes,
                g.unclean
            )?;
        }
        let r = &self.rejected;
        write!(
            f,
            "write errors: {}, unwritten records: {}, rejected connections: {} \
             (peer uid {}, too many {}, tls {}, token {}, hello {})",
            self.write_errors,
            self.unwritten,
            self.rejected_connections,
            r.peer_uid,
            r.too_many,
            r.tls,
            r.token,
            r.hello
        )?;
        for fw in &self.forwards {
            write!(
                f,
                "\nforwarded to {}: {} records, dropped {}",
                fw.destination, fw.forwarded, fw.dropped
            )?;
        }
        Ok(())
    }
}

/// Default [`Builder::max_ended_processes`](super::Builder::max_ended_processes).
pub const DEFAULT_MAX_ENDED_PROCESSES: usize = 10_000;

/// The writer's running counts.
#[derive(Debug)]
pub(crate) struct Tally {
    order: Vec<ProcessId>,
    procs: HashMap<ProcessId, Proc>,
    /// Ended processes kept one by one at most; the oldest go first.
    max_ended: usize,
    /// What the processes let go of had counted.
    forgotten: ForgottenProcesses,
    pub(crate) write_errors: u64,
    pub(crate) unwritten: u64,
    /// Ended connections that had said hello: unclean, clean.
    pub(crate) disconnects: [u64; 2],
}

#[derive(Debug)]
pub(crate) struct Proc {
    pub(crate) report: ProcessReport,
    /// The highest `seq` written; frames at or below it are resent
    /// duplicates.
    pub(crate) last_seq: u64,
    /// What the monitor reads.
    pub(crate) counts: super::monitor::ProcCounts,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new(DEFAULT_MAX_ENDED_PROCESSES)
    }
}

impl Tally {
    /// Counts that keep at most `max_ended` ended processes one by one.
    pub(crate) fn new(max_ended: usize) -> Self {
        Tally {
            order: Vec::new(),
            procs: HashMap::new(),
            max_ended,
            forgotten: ForgottenProcesses::default(),
            write_errors: 0,
            unwritten: 0,
            disconnects: [0; 2],
        }
    }

    /// Lets go of the ended processes beyond `max_ended`, oldest first
    /// hello first, that have been gone for `min_gone` at least (the metrics
    /// keep showing a process that long); returns them. Their counts go to
    /// the report's [`ForgottenProcesses`]. A process forgotten and heard
    /// from again starts over (its resent events are still known to the
    /// high-water marks of acknowledged delivery).
    pub(crate) fn forget_ended(&mut self, min_gone: Option<Duration>) -> Vec<ProcessId> {
        let ended = |p: &Proc| {
            p.counts.open == 0
                && match min_gone {
                    Some(d) => p.counts.ended.is_some_and(|t| t.elapsed() >= d),
                    None => true,
                }
        };
        let mut excess = (self.procs.values().filter(|p| p.counts.open == 0).count())
            .saturating_sub(self.max_ended);
        let mut gone = Vec::new();
        if excess == 0 {
            return gone;
        }
        self.order.retain(|key| {
            if excess == 0 {
                return true;
            }
            match self.procs.get(key) {
                Some(p) if ended(p) => {
                    excess -= 1;
                    if let Some(p) = self.procs.remove(key) {
                        self.forgotten.add(&p.report);
                    }
                    gone.push(key.clone());
                    false
                }
                Some(_) => true,
                None => false,
            }
        });
        gone
    }

    /// How many processes were let go of.
    pub(crate) fn forgotten(&self) -> u64 {
        self.forgotten.processes
    }

    /// The process of a connection, created on first sight.
    pub(crate) fn process(&mut self, origin: &Client) -> &mut Proc {
        let key = origin.process_id();
        self.procs.entry(key).or_insert_with_key(|key| {
            self.order.push(key.clone());
            Proc {
                report: ProcessReport {
                    pid: origin.pid,
                    process_name: origin.process_name.clone(),
                    received: 0,
                    dropped_by_worker: 0,
                    truncated_by_worker: 0,
                    clean: false,
                    connections: 0,
                    error: None,
                },
                last_seq: 0,
                counts: Default::default(),
            }
        })
    }

    /// Every process, in the order of their first hello.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&ProcessId, &Proc)> {
        self.order
            .iter()
            .filter_map(|k| self.procs.get(k).map(|p| (k, p)))
    }

    pub(crate) fn into_report(mut self, rejected: super::Rejections) -> SinkReport {
        // At the end every ended process counts, however recent.
        self.forget_ended(None);
        let processes = self
            .order
            .iter()
            .filter_map(|k| self.procs.remove(k))
            .map(|p| p.report)
            .collect();
        SinkReport {
            processes,
            forgotten: self.forgotten,
            write_errors: self.write_errors,
            unwritten: self.unwritten,
            rejected_connections: rejected.total(),
            rejected,
            forwards: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(pid: u32, name: &str) -> Client {
        Client {
            conn: 1,
            pid,
            start_time_ns: 1,
            process_name: name.into(),
            host: "h".into(),
        }
    }

    #[test]
    fn only_ended_processes_gone_long_enough_are_forgotten_oldest_first() {
        let mut t = Tally::new(1);
        for pid in 1..=4 {
            let p = t.process(&client(pid, "w"));
            p.report.received = u64::from(pid);
            p.report.connections = 1;
            p.report.clean = pid != 2;
        }
        // 1, 2 and 3 ended; 4 is still connected.
        for pid in 1..=3 {
            t.process(&client(pid, "w")).counts.ended = Some(std::time::Instant::now());
        }
        t.process(&client(4, "w")).counts.open = 1;
        assert!(t.forget_ended(Some(Duration::from_secs(3600))).is_empty());
        let gone: Vec<u32> = (t.forget_ended(Some(Duration::ZERO)).iter())
            .map(|id| id.pid)
            .collect();
        assert_eq!(gone, [1, 2]);
        let report = t.into_report(Default::default());
        let pids: Vec<u32> = report.processes.iter().map(|p| p.pid).collect();
        assert_eq!(pids, [3, 4]);
        let g = report.forgotten;
        assert_eq!(
            (g.processes, g.received, g.connections, g.unclean),
            (2, 3, 2, 1)
        );
    }

    #[test]
    fn display_prints_one_row_per_process_and_the_totals() {
        let mut t = Tally::default();
        let p = t.process(&client(42, "w1"));
        p.report.received = 7;
        p.report.clean = true;
        p.report.connections = 1;
        t.process(&client(43, "w2")).report.error = Some("bad frame".into());
        let rejected = super::super::Rejections {
            peer_uid: 1,
            tls: 1,
            ..Default::default()
        };
        let text = t.into_report(rejected).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[1].contains("42") && lines[1].contains("w1") && lines[1].contains("yes"));
        assert!(lines[2].contains("w2") && lines[2].contains("bad frame"));
        assert!(lines[3].contains("rejected connections: 2 (peer uid 1, too many 0, tls 1"));
    }
}
