//! Multi-process logging for the [`tracing`](https://docs.rs/tracing) ecosystem.
//!
//! Every worker process sends its events over a socket to one sink process
//! (`tracing-mplog-sink`), which formats and writes them. The worker only
//! captures and encodes; a background thread ships the frames.
//!
//! Two ways in:
//!
//! - **Compose** [`MpLayer`] with your subscriber (see [`MpLayer`] for the
//!   full `registry().with(EnvFilter).with(mp_layer).with(fmt::layer())`):
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//!
//! let (mp_layer, _guard) = tracing_mplog::MpLayer::builder()
//!     .endpoint("unix:/run/app/log.sock".parse()?)
//!     .build()?;
//! tracing_subscriber::registry().with(mp_layer).init();
//! tracing::info!(job = 3, "started");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - **Helper**: a worker spawned with `TRACING_MPLOG_ENDPOINT` in its
//!   environment calls [`worker::init`] and keeps the returned guard.
//!
//! The sink is normally `tracing_mplog_sink::Sink` (or the `mplog-sink`
//! daemon); anything that reads the [`wire`] protocol will do. Here a plain
//! listener stands in for it and decodes what one event became (it
//! acknowledges nothing, so the worker opts out of acknowledged delivery):
//!
//! ```
//! use std::os::unix::net::UnixListener;
//! use tracing_mplog::wire::{Frame, FrameReader};
//! use tracing_subscriber::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let listener = UnixListener::bind(dir.path().join("log.sock"))?;
//! let (layer, guard) = tracing_mplog::MpLayer::builder()
//!     .endpoint(format!("unix:{}", dir.path().join("log.sock").display()).parse()?)
//!     .process_name("worker-1")
//!     .acknowledged(false)
//!     .build()?;
//! let subscriber = tracing_subscriber::registry().with(layer);
//! tracing::subscriber::with_default(subscriber, || tracing::info!(job = 3, "started"));
//! guard.flush()?; // returns once the event is in the socket
//!
//! let (stream, _) = listener.accept()?;
//! let mut frames = FrameReader::new(stream);
//! let Some(Frame::Hello(hello)) = frames.read_frame()? else { panic!("hello first") };
//! assert_eq!(hello.process_name, "worker-1");
//! let Some(Frame::Event(event)) = frames.read_frame()? else { panic!("then the event") };
//! assert_eq!((event.message(), event.seq()), ("started", 1));
//! # Ok(()) }
//! ```
//!
//! The public surface:
//!
//! | item | what |
//! |---|---|
//! | [`MpLayer`], [`Builder`], [`Backpressure`] (`BlockWithGrace`, `Block`, `BlockFor`, `DropNewest`), [`BuildError`] | the layer and its options |
//! | [`FlushGuard`], [`FlushError`] | flushing on drop or on demand |
//! | [`Endpoint`], [`EndpointError`] | `unix:/path`, `tcp://host:port`, `tls://host:port` |
//! | [`TransportError`], [`TLS_CA_ENV`], [`TLS_CERT_ENV`], [`TLS_KEY_ENV`], [`TOKEN_FILE_ENV`] | TLS and token settings (`docs/cluster.md`) |
//! | [`worker::init`], [`ENDPOINT_ENV`], [`PROCESS_NAME_ENV`], [`OUTAGE_GRACE_ENV`], [`ACK_ENV`] | one-call worker setup |
//! | [`fork::ForkSafe`], [`fork::after_fork_guard`], [`fork::after_fork_guard_named`] | a subscriber safe to `fork()` with; flushing (and naming) a `fork()`ed child |
//! | [`wire`] | the protocol: frames, encoder, decoder (`docs/wire.md`) |
//! | [`origin`] | thread id, host name and process name, as the frames carry them; a bridged `log` record's own metadata |
//!
//! **Cargo feature `log`** (on by default): [`worker::init`] bridges records of the
//! `log` crate (tracing-log's `LogTracer`), and the layer records them with their own
//! target, module path, file and line ([`origin::log_metadata`]).
//!
//! **Delivery guarantee.** With [`Backpressure::BlockWithGrace`] (the
//! default) no event is lost while the process lives, as long as the sink
//! takes events again within the [outage grace](Builder::outage_grace)
//! (30 s by default): a missing, restarting or slow sink makes the sender
//! reconnect with backoff and resend every frame not accepted whole by the
//! socket, and logging threads wait for room in the channel. A sink that
//! takes nothing for longer than the grace (absent, or connected but not
//! reading) never stops the program: the worker says so once on stderr,
//! drops and counts what does not fit in the channel without waiting, and
//! reports the count to the sink (a dropped frame) when it returns, from
//! which point logging is lossless again. [`Backpressure::Block`] never
//! drops, and waits as long as the sink does.
//!
//! An event counts as delivered once the kernel accepted its frame on the
//! socket; what is then lost is only what a sink that crashes (rather than
//! shutting down gracefully) had not read. A process killed outright loses
//! what was still in its channel. The [`FlushGuard`]'s drop waits at most
//! its flush timeout (5 s by default) and says on stderr what it could not
//! deliver.
#![warn(missing_docs)]

mod capture;
mod endpoint;
pub mod fork;
mod guard;
mod last_words;
mod layer;
mod local;
pub mod origin;
mod outage;
mod sender;
mod state;
mod sys;
mod transport;
mod truncate;
mod window;
pub mod wire;
pub mod worker;

pub use endpoint::{Endpoint, EndpointError};
pub use guard::{FlushError, FlushGuard};
pub use last_words::panic_hook;
pub use layer::{Backpressure, BuildError, Builder, MpLayer};
pub use transport::TransportError;
pub use transport::{TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TOKEN_FILE_ENV};

/// The environment variable that hands a worker the sink's endpoint
/// (`unix:/path`), read by [`worker::init`].
pub const ENDPOINT_ENV: &str = "TRACING_MPLOG_ENDPOINT";

/// The environment variable that sets a worker's
/// [outage grace](Builder::outage_grace), read by [`worker::init`]: seconds
/// (`30`, `2.5`) or a number with unit `s` or `ms` (`30s`, `500ms`).
/// Unset: 30 s.
pub const OUTAGE_GRACE_ENV: &str = "TRACING_MPLOG_OUTAGE_GRACE";

/// The environment variable that turns [acknowledged
/// delivery](Builder::acknowledged) on (`1`, `true`, `yes`, `on`) or off
/// (`0`, `false`, `no`, `off`), read by [`worker::init`]. Unset or empty:
/// on, on every transport (`unix:` included).
pub const ACK_ENV: &str = "TRACING_MPLOG_ACK";

/// The environment variable that names a worker process (default: the
/// executable's file stem).
pub const PROCESS_NAME_ENV: &str = "TRACING_MPLOG_PROCESS_NAME";
