//! One call for a worker process: [`init`].

use tracing_subscriber::filter::{EnvFilter, FromEnvError, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;

use crate::{BuildError, Endpoint, EndpointError, FlushGuard, MpLayer};
pub use crate::{ENDPOINT_ENV, PROCESS_NAME_ENV};

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
/// `TRACING_MPLOG_PROCESS_NAME` (else the executable's name) and the filter
/// from `RUST_LOG` (default `info`), installs
/// `registry().with(EnvFilter).with(MpLayer)`, wrapped in
/// [`ForkSafe`](crate::fork::ForkSafe) so that `fork()` is safe whatever
/// `RUST_LOG` says, as the global default, and returns the guard that
/// flushes on drop.
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
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env()?;
    let (layer, guard) = MpLayer::builder().endpoint(endpoint).build()?;
    tracing::subscriber::set_global_default(crate::fork::ForkSafe::new(
        tracing_subscriber::registry().with(filter).with(layer),
    ))?;
    Ok(guard)
}
