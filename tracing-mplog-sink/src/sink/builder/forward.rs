//! The forwarding settings of the sink's [`Builder`] (`docs/forwarding.md`).

use std::time::Duration;

use super::Builder;
use crate::forward::Destination;

/// Default [`Builder::forward_drain`]: how long shutdown gives
/// destinations to send what their queues hold.
pub const DEFAULT_FORWARD_DRAIN: Duration = Duration::from_secs(5);

/// Forwarding to syslog relays and OpenTelemetry (`docs/forwarding.md`).
impl Builder {
    /// Forwards every record the sink takes (at or above the
    /// destination's own [`level`](Destination::level)) to `destination`,
    /// next to the files. Repeatable. Each destination has its own bounded
    /// queue and thread: a slow or dead one never holds up the files or
    /// the others; when its queue is full its oldest records are dropped
    /// and counted ([`SinkReport::forwards`](crate::SinkReport::forwards),
    /// the metrics). A destination that cannot work (a bad option, an
    /// unreadable `tls-ca`) stops [`start`](Self::start), naming its URL.
    ///
    /// ```
    /// use tracing_mplog_sink::{Sink, forward::Destination};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let err = Sink::builder()
    ///     .listen(format!("unix:{}", dir.path().join("log.sock").display()).parse()?)
    ///     .logdir(dir.path())
    ///     .forward("syslog+tcp://127.0.0.1:514".parse::<Destination>()?.queue(0))
    ///     .start()
    ///     .expect_err("an empty queue");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "sink builder: `forward`: forward destination `syslog+tcp://127.0.0.1:514`: `queue` must be at least 1"
    /// );
    /// # Ok(()) }
    /// ```
    pub fn forward(mut self, destination: Destination) -> Self {
        self.forwards.push(destination);
        self
    }

    /// How long [`SinkHandle::shutdown`](crate::SinkHandle::shutdown)
    /// lets destinations send what their queues hold, after the files are
    /// written (default 5 s); what is left then is dropped and counted. An
    /// export under way may add up to 5 s more.
    pub fn forward_drain(mut self, d: Duration) -> Self {
        self.forward_drain = d;
        self
    }
}
