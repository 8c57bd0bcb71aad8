//! Rules evaluated in the writer thread, where the events are: `level`,
//! `match`, `unclean-disconnect` and `dropped`. A firing goes to the alert
//! thread through a bounded channel with `try_send`: the writer never
//! waits for an action.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing_core::Level;

use super::{AlertOn, Monitor};
use crate::record::{Client, ProcessId};

/// Firings that may wait for the alert thread; more are counted as
/// action failures of their rule.
pub(crate) const QUEUE: usize = 1024;

/// One firing of a rule.
#[derive(Debug, Clone)]
pub(crate) struct Firing {
    /// The rule's index.
    pub(crate) rule: usize,
    pub(crate) time: SystemTime,
    pub(crate) process: String,
    pub(crate) pid: u32,
    pub(crate) host: String,
    pub(crate) summary: String,
    pub(crate) message: Option<String>,
    pub(crate) level: Option<Level>,
    pub(crate) count: Option<u64>,
}

impl Firing {
    /// The JSON object every action receives.
    pub(crate) fn to_json(&self, name: &str, on: AlertOn) -> Value {
        let time = OffsetDateTime::from(self.time)
            .format(&Rfc3339)
            .unwrap_or_default();
        let mut v = json!({
            "alert": name,
            "on": on.as_str(),
            "time": time,
            "process": self.process,
            "pid": self.pid,
            "host": self.host,
            "summary": self.summary,
        });
        if let Some(map) = v.as_object_mut() {
            if let Some(m) = &self.message {
                map.insert("message".into(), m.clone().into());
            }
            if let Some(l) = self.level {
                map.insert("level".into(), l.as_str().to_ascii_lowercase().into());
            }
            if let Some(c) = self.count {
                map.insert("count".into(), c.into());
            }
        }
        v
    }
}

/// Per process: which rules watch it, their windows and last firings.
#[derive(Debug)]
struct Watched {
    /// Indices of the `level` and `match` rules that apply.
    per_event: Vec<usize>,
    /// Per rule (all of them): the times of counted records (`level`).
    windows: Vec<VecDeque<Instant>>,
    /// Per rule: the last firing.
    fired: Vec<Option<Instant>>,
}

/// The writer's rule evaluator.
#[derive(Debug)]
pub(crate) struct Evaluator {
    monitor: Arc<Monitor>,
    procs: HashMap<ProcessId, Watched>,
    tx: flume::Sender<Firing>,
}

impl Evaluator {
    pub(crate) fn new(monitor: Arc<Monitor>, tx: flume::Sender<Firing>) -> Self {
        Evaluator {
            monitor,
            procs: HashMap::new(),
            tx,
        }
    }

    fn watched(&mut self, origin: &Client) -> &mut Watched {
        let rules = &self.monitor.rules;
        self.procs
            .entry(origin.process_id())
            .or_insert_with(|| Watched {
                per_event: (0..rules.len())
                    .filter(|&i| {
                        matches!(rules[i].rule.on, AlertOn::Level | AlertOn::Match)
                            && rules[i].applies_to(&origin.process_name)
                    })
                    .collect(),
                windows: vec![VecDeque::new(); rules.len()],
                fired: vec![None; rules.len()],
            })
    }

    /// Sends a firing unless the rule is cooling down for this process.
    fn fire(&mut self, rule: usize, origin: &Client, firing: impl FnOnce() -> Firing) {
        let now = Instant::now();
        let cooldown = self.monitor.rules[rule].rule.cooldown;
        let w = self.watched(origin);
        if w.fired[rule].is_some_and(|t| now.duration_since(t) < cooldown) {
            return;
        }
        w.fired[rule] = Some(now);
        send(&self.monitor, &self.tx, firing());
    }

    fn base(origin: &Client, rule: usize, summary: String) -> Firing {
        Firing {
            rule,
            time: SystemTime::now(),
            process: origin.process_name.clone(),
            pid: origin.pid,
            host: origin.host.clone(),
            summary,
            message: None,
            level: None,
            count: None,
        }
    }

    /// The fresh events (no resent duplicates) of one batch of `origin`:
    /// each event's level and its formatted line.
    pub(crate) fn batch<'a>(
        &mut self,
        origin: &Client,
        events: impl IntoIterator<Item = (Level, &'a str)>,
    ) {
        let rules = Arc::clone(&self.monitor.rules);
        let per_event = std::mem::take(&mut self.watched(origin).per_event);
        if per_event.is_empty() {
            return;
        }
        let now = Instant::now();
        for (level, text) in events {
            for &r in &per_event {
                let c = &rules[r];
                match c.rule.on {
                    AlertOn::Level if level <= c.rule.level => {
                        let w = self.watched(origin);
                        let window = &mut w.windows[r];
                        window.push_back(now);
                        while window
                            .front()
                            .is_some_and(|&t| now.duration_since(t) > c.rule.window)
                        {
                            window.pop_front();
                        }
                        let count = window.len() as u64;
                        if count >= c.rule.count {
                            let line = text.trim_end().to_owned();
                            self.fire(r, origin, || Firing {
                                message: Some(line),
                                level: Some(level),
                                count: Some(count),
                                ..Self::base(
                                    origin,
                                    r,
                                    format!(
                                        "{}[{}] logged {count} records at {} or above within {:?}",
                                        origin.process_name,
                                        origin.pid,
                                        c.rule.level,
                                        c.rule.window
                                    ),
                                )
                            });
                        }
                    }
                    AlertOn::Match => {
                        let line = text.trim_end_matches(['\n', '\r']);
                        if c.regex.as_ref().is_some_and(|re| re.is_match(line)) {
                            let line = line.to_owned();
                            self.fire(r, origin, || Firing {
                                message: Some(line),
                                level: Some(level),
                                count: Some(1),
                                ..Self::base(
                                    origin,
                                    r,
                                    format!(
                                        "{}[{}] logged a record matching /{}/",
                                        origin.process_name,
                                        origin.pid,
                                        c.rule.regex.as_deref().unwrap_or("")
                                    ),
                                )
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        self.watched(origin).per_event = per_event;
    }

    /// A connection of `origin` ended.
    pub(crate) fn closed(&mut self, origin: &Client, clean: bool) {
        // At shutdown the sink itself ends every connection.
        if clean || self.monitor.draining.load(Ordering::Acquire) {
            return;
        }
        for r in self.rules_on(AlertOn::UncleanDisconnect, origin) {
            self.fire(r, origin, || {
                Self::base(
                    origin,
                    r,
                    format!(
                        "{}[{}] disconnected without a goodbye (killed or crashed)",
                        origin.process_name, origin.pid
                    ),
                )
            });
        }
    }

    /// The worker of `origin` reported `count` dropped events.
    pub(crate) fn dropped(&mut self, origin: &Client, why: &str, count: u64) {
        for r in self.rules_on(AlertOn::Dropped, origin) {
            self.fire(r, origin, || Firing {
                count: Some(count),
                ..Self::base(
                    origin,
                    r,
                    format!(
                        "{}[{}] dropped {count} events ({why})",
                        origin.process_name, origin.pid
                    ),
                )
            });
        }
    }

    /// Forgets a process that ended: its windows and cooldowns go with it.
    pub(crate) fn forget(&mut self, key: &ProcessId) {
        self.procs.remove(key);
    }

    fn rules_on(&self, on: AlertOn, origin: &Client) -> Vec<usize> {
        let rules = &self.monitor.rules;
        (0..rules.len())
            .filter(|&i| rules[i].rule.on == on && rules[i].applies_to(&origin.process_name))
            .collect()
    }
}

/// Counts a firing and queues it without waiting; a full queue counts as
/// an action failure.
pub(crate) fn send(monitor: &Monitor, tx: &flume::Sender<Firing>, firing: Firing) {
    let counts = &monitor.alerts[firing.rule];
    counts.fired.fetch_add(1, Ordering::Relaxed);
    if tx.try_send(firing).is_err() {
        counts.failures.fetch_add(1, Ordering::Relaxed);
    }
}
