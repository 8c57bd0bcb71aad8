//! [`FlushGuard`]: waits for the sink on drop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::state::{Msg, ProcState, Shared};

/// Why [`FlushGuard::flush`] returned before everything was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// The sink did not take the events within the flush timeout.
    #[error("{undelivered} event(s) not yet written to {endpoint} after {timeout:?}")]
    TimedOut {
        /// The sink's endpoint.
        endpoint: String,
        /// Events queued but not yet written to the socket.
        undelivered: u64,
        /// The configured flush timeout.
        timeout: Duration,
    },
}

/// Flushes an [`MpLayer`](crate::MpLayer) when dropped.
///
/// On drop, everything queued is written to the socket, then a goodbye frame,
/// and the connection is closed. The drop waits as long as that takes, up to
/// the builder's `flush_timeout`; if it gives up, it says on stderr how many
/// events were not delivered. Keep the guard alive for as long as the
/// process logs (typically: bind it in `main`).
///
/// In a `fork()`ed child, the inherited guard acts on the child's own events
/// only (and does nothing if the child never logged); see
/// [`fork::after_fork_guard`](crate::fork::after_fork_guard) for a child that
/// has no guard at hand.
#[derive(Debug)]
#[must_use = "dropping the guard at once shuts the layer down"]
pub struct FlushGuard {
    shared: Vec<Arc<Shared>>,
}

impl FlushGuard {
    pub(crate) fn new(shared: Vec<Arc<Shared>>) -> Self {
        Self { shared }
    }

    /// Returns once every event logged (by any thread of this process)
    /// before the call has been written to the socket, or with an error
    /// after the flush timeout.
    ///
    /// ```no_run
    /// # let (layer, guard) = tracing_mplog::MpLayer::builder()
    /// #     .endpoint("unix:/run/app/log.sock".parse()?).build()?;
    /// tracing::info!("checkpoint");
    /// guard.flush()?; // "checkpoint" is in the sink's socket now
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self) -> Result<(), FlushError> {
        for shared in &self.shared {
            flush(shared)?;
        }
        Ok(())
    }
}

/// Returns once every event this process logged through `shared` before
/// the call is written, or after its flush timeout. Takes no lock but this
/// process's own channel (safe in a `fork()`ed child).
pub(crate) fn flush(shared: &Shared) -> Result<(), FlushError> {
    let Some(state) = shared.existing() else {
        return Ok(());
    };
    let timeout = shared.config.flush_timeout;
    let deadline = Instant::now() + timeout;
    if state.counters.undelivered() == 0 {
        return Ok(());
    }
    let (ack, done) = flume::bounded(1);
    let acked =
        state.send_deadline(Msg::Flush(ack), deadline) && done.recv_deadline(deadline).is_ok();
    let undelivered = state.counters.undelivered();
    if !acked && undelivered > 0 {
        return Err(FlushError::TimedOut {
            endpoint: shared.config.endpoint.to_string(),
            undelivered,
            timeout,
        });
    }
    Ok(())
}

pub(crate) fn shut_down(shared: &Shared, state: &ProcState) {
    let counters = &state.counters;
    if counters.closed.swap(true, Ordering::SeqCst) {
        return; // Another guard of this process did it.
    }
    let timeout = shared.config.flush_timeout;
    let deadline = Instant::now() + timeout;
    let (ack, done) = flume::bounded(1);
    if state.send_deadline(Msg::Shutdown(ack), deadline) && done.recv_deadline(deadline).is_ok() {
        return;
    }
    counters.abandoned.store(true, Ordering::SeqCst);
    let lost = counters.undelivered() + counters.unreported_drops();
    eprintln!(
        "tracing-mplog: process {} gave up after {timeout:?}: {lost} event(s) not delivered to {}",
        state.pid, shared.config.endpoint
    );
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        for shared in &self.shared {
            if let Some(state) = shared.existing() {
                shut_down(shared, state);
            }
        }
    }
}
