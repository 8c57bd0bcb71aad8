//! The receiving end of [`tracing-mplog`](tracing_mplog): per-level formatting and
//! time-or-size rotating files.
//!
//! The pieces stand alone in a single-process program as well as inside the
//! multi-process sink:
//!
//! - [`zone`]: time zones (UTC, fixed, the system's rules) for dates and rotation;
//! - [`clock`]: where "now" comes from, so tests can drive time;
//! - [`format`](mod@format): [`LevelFormatter`], one template per level (Python `logging` or
//!   native syntax), also a `tracing_subscriber::fmt::FormatEvent`;
//! - [`record`]: the record view shared by in-process events and decoded frames;
//! - [`rotate`]: [`RotatingFile`], a log file rotated by time or size, whichever
//!   comes first, with retention and compression;
//! - [`python`]: records of Python's `logging.handlers.SocketHandler`, decoded as data
//!   only (see `docs/python.md`);
//! - [`sink`]: the running sink (Unix): [`Sink::builder`] listens for workers
//!   and writes their records to consolidated and per-key files. The guide
//!   is [`docs/sink.md`](https://github.com/tracing-mplog/tracing-mplog/blob/main/docs/sink.md).
//!
//! Start with the [`guide`]: the three ways in, each with a runnable example.
//!
//! # Features
//!
//! All on by default. With `default-features = false` only the standalone
//! pieces build ([`zone`], [`clock`], [`format`](mod@format), [`record`],
//! [`rotate`]), and none of the crates below is compiled.
//!
//! | feature | brings | dependencies |
//! |---|---|---|
//! | `sink` | [`sink`] (Unix), its `unix:` and `tcp://` transports, the [`forward`] core | socket2, subtle, fastrand |
//! | `tls` | `tls://` listeners, `syslog+tls://` forwarding (implies `sink`) | rustls (ring), rustls-native-certs |
//! | `monitor` | `metrics_listen` (`GET /metrics`), `metrics_retention`, `alert` rules (implies `sink`) | prometheus-client, tiny_http, regex, globset, serde_json |
//! | `python` | [`python`]: `SocketHandler` records; with `sink`, `python_listen` | serde-pickle |
//! | `forward-syslog` | `syslog+tcp://`, `syslog+tls://`, `syslog+udp://` destinations (implies `sink`) | none more |
//! | `otlp` (alias `forward-otlp`) | `otlp+http://`, `otlp+grpc://` destinations, and over TLS `otlp+https://`, `otlp+grpcs://` (implies `sink`) | opentelemetry-proto, prost, tonic, tokio, ureq, rustls (ring), rustls-native-certs |
//! | `cli` | the `mplog-sink` binary (implies `sink`, `monitor`, `python`, `forward-syslog`) | clap, toml, signal-hook |
//!
//! A destination whose forwarder is not built in is refused at start,
//! naming the feature, like a `tls://` endpoint without `tls`.
#![warn(missing_docs)]

pub mod clock;
pub mod format;
#[cfg(all(unix, feature = "sink"))]
pub mod forward;
#[cfg(all(unix, feature = "sink"))]
#[doc = include_str!("../../docs/guide.md")]
pub mod guide {}
#[cfg(all(unix, any(feature = "tls", feature = "otlp")))]
mod pem;
#[cfg(feature = "python")]
pub mod python;
pub mod record;
pub mod rotate;
#[cfg(all(unix, feature = "sink"))]
pub mod sink;
mod sys;
#[cfg(all(unix, feature = "sink"))]
mod transport;
pub mod zone;

pub use format::{FormatError, FormatLevel, LevelFormatter};
pub use rotate::RotatingFile;
#[cfg(all(unix, feature = "sink"))]
pub use sink::{
    ForgottenProcesses, ProcessKey, ProcessReport, Rejections, Sink, SinkError, SinkHandle,
    SinkLayer, SinkReport,
};
