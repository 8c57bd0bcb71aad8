//! One call for a worker process: [`init`].

use std::time::Duration;

use tracing_subscriber::filter::{EnvFilter, FromEnvError, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;

use crate::layer::DEFAULT_OUTAGE_GRACE;
use crate::outage::parse_grace;
pub use crate::{ACK_ENV, ENDPOINT_ENV, OUTAGE_GRACE_ENV, PROCESS_NAME_ENV};
use crate::{BuildError, Endpoint, EndpointError, FlushGuard, MpLayer};

/// Why [`init`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint variable is not set.
    #[error(
        "environment variable {var} is not set: the parent process must hand down the sink's endpoint"
    )]
    MissingEndpoint {
        /// The variable's name ([`ENDPOINT_ENV`]).
        var: &'static str,
    },
    /// The endpoint variable is not valid Unicode.
    #[error("environment variable {var} is not valid Unicode")]
    EndpointNotUnicode {
        /// The variable's name ([`ENDPOINT_ENV`]).
        var: &'static str,
    },
    /// The endpoint variable does not hold an endpoint.
    #[error("environment variable {var}: {source}")]
    InvalidEndpoint {
        /// The variable's name ([`ENDPOINT_ENV`]).
        var: &'static str,
        /// What is wrong with its value.
        #[source]
        source: EndpointError,
    },
    /// The outage grace variable does not hold a duration.
    #[error(
        "environment variable {var}: {value:?} is not a duration: expected seconds (`30`, `2.5`) \
         or a number with unit `s` or `ms` (`30s`, `500ms`)"
    )]
    InvalidOutageGrace {
        /// The variable's name ([`OUTAGE_GRACE_ENV`]).
        var: &'static str,
        /// Its value (lossily decoded if it is not Unicode).
        value: String,
    },
    /// The acknowledged-delivery variable is neither on nor off.
    #[error("environment variable {var}: {value:?} is not 1/true/yes/on or 0/false/no/off")]
    InvalidAck {
        /// The variable's name ([`ACK_ENV`]).
        var: &'static str,
        /// Its value (lossily decoded if it is not Unicode).
        value: String,
    },
    /// `RUST_LOG` is not a valid filter.
    #[error("environment variable RUST_LOG: {0}")]
    Filter(#[from] FromEnvError),
    /// The layer could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Another global subscriber is already installed.
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInstalled(#[from] tracing::subscriber::SetGlobalDefaultError),
}

/// Sets up logging in a worker: reads the sink's endpoint from
/// `TRACING_MPLOG_ENDPOINT`, the process name from
/// `TRACING_MPLOG_PROCESS_NAME` (else the executable's name), the TLS and
/// token files from `TRACING_MPLOG_TLS_CA`, `TRACING_MPLOG_TLS_CERT`,
/// `TRACING_MPLOG_TLS_KEY` and `TRACING_MPLOG_TOKEN_FILE` (those set), the
/// [outage grace](crate::Builder::outage_grace) from
/// `TRACING_MPLOG_OUTAGE_GRACE` (seconds such as `30` or `2.5`, or `30s`,
/// `500ms`; default 30 s) and the filter from `RUST_LOG` (default `info`),
/// installs `registry().with(EnvFilter).with(MpLayer)`, wrapped in
/// [`ForkSafe`](crate::fork::ForkSafe) so that `fork()` is safe whatever
/// `RUST_LOG` says, as the global default, and returns the guard that
/// flushes on drop.
///
/// Last words land: it installs [`panic_hook`](crate::panic_hook) (a panic
/// is an ERROR event in the sink, flushed before the previous hook, std's
/// message on stderr, runs), and a process that ends through
/// `std::process::exit`, or returns from `main` without dropping the
/// guard, flushes at exit (within the flush timeout), as any process with
/// an [`MpLayer`] does. Acknowledged delivery is on unless
/// `TRACING_MPLOG_ACK` is `0` (or `false`, `no`, `off`).
///
/// With the cargo feature `log` (on by default) it also bridges the `log`
/// crate: records of libraries that log through `log::warn!` and friends
/// reach the sink like events, with their own target, module path, file
/// and line (tracing-log's `LogTracer`). If the program already installed a
/// `log` logger, that logger is kept and `init` still succeeds; one line on
/// stderr says that `log` records go to it, not to the sink.
///
/// ```no_run
/// fn main() -> Result<(), tracing_mplog::worker::Error> {
///     let _guard = tracing_mplog::worker::init()?;
///     tracing::info!("worker started");
///     Ok(())
/// }
/// ```
pub fn init() -> Result<FlushGuard, Error> {
    let text = match std::env::var(ENDPOINT_ENV) {
        Ok(text) => text,
        Err(std::env::VarError::NotPresent) => {
            return Err(Error::MissingEndpoint { var: ENDPOINT_ENV });
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Error::EndpointNotUnicode { var: ENDPOINT_ENV });
        }
    };
    let endpoint: Endpoint = text.parse().map_err(|source| Error::InvalidEndpoint {
        var: ENDPOINT_ENV,
        source,
    })?;
    let outage_grace = outage_grace_from_env()?;
    let acknowledged = ack_from_env()?;
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env()?;
    let mut builder = MpLayer::builder()
        .endpoint(endpoint)
        .net_from_env()
        .outage_grace(outage_grace)
        .panic_hook(true);
    if let Some(on) = acknowledged {
        builder = builder.acknowledged(on);
    }
    let (layer, guard) = builder.build()?;
    tracing::subscriber::set_global_default(crate::fork::ForkSafe::new(
        tracing_subscriber::registry().with(filter).with(layer),
    ))?;
    bridge_log();
    Ok(guard)
}

/// `TRACING_MPLOG_ACK`: `None` (the endpoint's default) if unset or empty.
fn ack_from_env() -> Result<Option<bool>, Error> {
    let Some(value) = std::env::var_os(ACK_ENV).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "0" | "false" | "no" | "off" => Ok(Some(false)),
        _ => Err(Error::InvalidAck {
            var: ACK_ENV,
            value: value.into_owned(),
        }),
    }
}

/// Sends the `log` crate's records through `tracing` (feature `log`): installs
/// tracing-log's `LogTracer`, with `log`'s maximum level set to what the
/// filter lets through. A `log` logger the program installed itself is kept
/// (it was chosen on purpose, and failing the worker for it would be worse):
/// one line on stderr says that `log` records go there, not to the sink.
#[cfg(feature = "log")]
fn bridge_log() {
    use tracing_log::AsLog;
    let max = tracing_core::LevelFilter::current().as_log();
    if tracing_log::LogTracer::builder()
        .with_max_level(max)
        .init()
        .is_err()
    {
        eprintln!(
            "tracing-mplog: a `log` logger is already installed; records of the `log` crate go to it, not to the sink"
        );
    }
}

#[cfg(not(feature = "log"))]
fn bridge_log() {}

/// `TRACING_MPLOG_OUTAGE_GRACE`, else the builder's default.
fn outage_grace_from_env() -> Result<Duration, Error> {
    let Some(value) = std::env::var_os(OUTAGE_GRACE_ENV) else {
        return Ok(DEFAULT_OUTAGE_GRACE);
    };
    let value = value.to_string_lossy();
    parse_grace(&value).ok_or_else(|| Error::InvalidOutageGrace {
        var: OUTAGE_GRACE_ENV,
        value: value.into_owned(),
    })
}
