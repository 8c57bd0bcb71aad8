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
#![warn(missing_docs)]

pub mod clock;
pub mod format;
pub mod forward;
#[cfg(unix)]
#[doc = include_str!("../../docs/guide.md")]
pub mod guide {}
pub mod python;
pub mod record;
pub mod rotate;
#[cfg(unix)]
pub mod sink;
mod sys;
mod transport;
pub mod zone;

pub use format::{FormatError, FormatLevel, LevelFormatter};
pub use rotate::RotatingFile;
#[cfg(unix)]
pub use sink::{
    ProcessKey, ProcessReport, Rejections, Sink, SinkError, SinkHandle, SinkLayer, SinkReport,
};
