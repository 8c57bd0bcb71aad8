//! Without the feature `monitor`: the counts stay (the writer and the
//! report keep them), with no alert rules, no evaluator and no threads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{DEFAULT_METRICS_RETENTION, Monitor};
use crate::record::Client;
use crate::sink::{Shared, SinkError};

/// An alert rule, checked: there are none without the feature.
#[derive(Debug)]
pub(crate) enum Compiled {}

/// What the alert thread would receive: nothing without the feature.
#[derive(Debug)]
pub(crate) enum Firing {}

/// The alert queue's capacity; nothing is ever queued.
pub(crate) const QUEUE: usize = 1;

/// The per-event rules: none, so every call does nothing (and, with no
/// rules, the sink never makes one).
#[derive(Debug)]
pub(crate) struct Evaluator;

impl Evaluator {
    pub(crate) fn new(_monitor: Arc<Monitor>, _tx: flume::Sender<Firing>) -> Self {
        Evaluator
    }

    pub(crate) fn batch<'a>(
        &mut self,
        _origin: &Client,
        _events: impl IntoIterator<Item = (tracing_core::Level, &'a str)>,
    ) {
    }

    pub(crate) fn closed(&mut self, _origin: &Client, _clean: bool) {}

    pub(crate) fn dropped(&mut self, _origin: &Client, _why: &str, _count: u64) {}

    pub(crate) fn forget(&mut self, _key: &crate::record::ProcessId) {}
}

/// The monitor's builder settings: the retention only (no setter changes
/// it without the feature).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) retention: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retention: DEFAULT_METRICS_RETENTION,
        }
    }
}

impl Settings {
    /// No rules and no address to check.
    pub(crate) fn check(&self) -> Result<(Vec<Compiled>, Option<SocketAddr>), SinkError> {
        Ok((Vec::new(), None))
    }
}

/// No monitor threads without the feature.
#[derive(Debug)]
pub(crate) struct Running {
    /// Where `/metrics` is served: nowhere.
    pub(crate) metrics_addr: Option<SocketAddr>,
}

impl Running {
    pub(crate) fn start(
        _shared: &Arc<Shared>,
        _addr: Option<SocketAddr>,
        _firings: flume::Receiver<Firing>,
    ) -> Result<Running, SinkError> {
        Ok(Running { metrics_addr: None })
    }

    pub(crate) fn stop(&mut self) {}
}
