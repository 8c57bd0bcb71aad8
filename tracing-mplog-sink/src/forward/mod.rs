//! Forwarding: the sink sends the records it writes on to the log engines
//! a fleet already runs, next to its files: syslog relays (rsyslog,
//! syslog-ng) over TCP, TLS or UDP, and OpenTelemetry (OTLP over HTTP or
//! gRPC, plaintext or TLS: the Collector, and everything that ingests
//! OTLP).
//!
//! Each [`Destination`] has its own bounded queue and thread: a slow or
//! dead destination never holds up the files or the other destinations.
//! While it is down its records wait in the queue; when the queue is full
//! the oldest are dropped and counted. The mappings and the behaviour are
//! in `docs/forwarding.md`.
//!
//! | module | concern |
//! |---|---|
//! | `destination` | [`Destination`]: the URL and its options |
//! | `record` | the owned record a queue holds |
//! | `queue` | the bounded, drop-oldest queue and its counts |
//! | `worker` | one destination's thread: batch, export, back off, drain |
//! | `tls` | the TLS destinations' client settings: roots, client certificate, why a handshake failed |
//! | `syslog` | RFC 5424 messages; TCP (RFC 6587), TLS (RFC 5425), UDP (RFC 5426) |
//! | `otlp` | OTLP `ExportLogsServiceRequest`s over HTTP and gRPC, with or without TLS |
//!
//! The syslog exporters come with the feature `forward-syslog`, the OTLP
//! ones with `otlp` (alias `forward-otlp`); without them such destinations
//! parse but are refused at start.

mod destination;
mod queue;
pub(crate) mod record;
mod set;
#[cfg(any(all(feature = "tls", feature = "forward-syslog"), feature = "otlp"))]
mod tls;
mod worker;

pub use destination::{
    DEFAULT_BATCH, DEFAULT_BATCH_TIMEOUT, DEFAULT_FACILITY, DEFAULT_MAX_DATAGRAM, DEFAULT_QUEUE,
    Destination, DestinationError, Options, Protocol,
};
pub(crate) use queue::Stats;
pub(crate) use record::Record;
pub use set::ForwardReport;
pub(crate) use set::{Forwarders, Senders, StartError};
pub(crate) use worker::Notify;

use std::sync::Arc;
use std::time::Duration;

/// The longest one export may take (connect, send, reply) before it counts
/// as failed: bounds how long a dead destination holds its thread, and so
/// the drain at shutdown.
pub(crate) const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an export failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExportError {
    /// The destination cannot be reached or failed mid-way: the batch is
    /// kept and sent again after a back-off.
    #[error("{0}")]
    #[cfg_attr(
        not(any(feature = "forward-syslog", feature = "otlp")),
        allow(dead_code, reason = "no exporter built in")
    )]
    Down(String),
    /// The destination refused the batch for good (an OTLP 400, say):
    /// sending it again would fail again, so it is dropped and counted.
    #[error("refused: {0}")]
    #[cfg_attr(not(feature = "otlp"), allow(dead_code, reason = "only OTLP refuses"))]
    Refused(String),
}

/// One destination's protocol: turns batches of records into requests or
/// messages and sends them. Runs on the destination's own thread.
pub(crate) trait Exporter: Send {
    /// Sends `batch` in order, connecting first if needed. `Ok`: the
    /// destination took every record (handed to the OS for syslog, a 2xx
    /// answer for OTLP). Bounded by [`EXPORT_TIMEOUT`].
    ///
    /// After a `Down` error the caller backs off and calls again with the
    /// same batch: the exporter drops its broken connection and reconnects.
    /// Records of a batch that failed mid-way may arrive twice.
    fn export(&mut self, batch: &[Arc<Record>]) -> Result<(), ExportError>;

    /// Ends the connection cleanly (at shutdown, after the last export).
    fn close(&mut self) {}
}

/// The exporter of a destination; fails on settings that cannot work (an
/// unreadable `tls-ca`, say), so the sink refuses to start.
pub(crate) fn exporter(dest: &Destination) -> Result<Box<dyn Exporter>, DestinationError> {
    match dest.protocol() {
        Protocol::SyslogTcp | Protocol::SyslogTls | Protocol::SyslogUdp => syslog::exporter(dest),
        Protocol::OtlpHttp | Protocol::OtlpGrpc | Protocol::OtlpHttps | Protocol::OtlpGrpcs => {
            otlp::exporter(dest)
        }
    }
}

mod otlp;
#[cfg(feature = "forward-syslog")]
mod syslog;

/// Without the `forward-syslog` feature, syslog destinations are refused
/// at start.
#[cfg(not(feature = "forward-syslog"))]
mod syslog {
    use super::{Destination, DestinationError, Exporter};

    pub(crate) fn exporter(dest: &Destination) -> Result<Box<dyn Exporter>, DestinationError> {
        Err(DestinationError {
            url: dest.url().to_owned(),
            reason: "syslog forwarding is not built in: build tracing-mplog-sink with its \
                     feature `forward-syslog` (on by default)"
                .into(),
        })
    }
}
