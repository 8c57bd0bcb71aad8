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
//!   comes first, with retention and compression.
#![warn(missing_docs)]

pub mod clock;
pub mod format;
pub mod record;
pub mod rotate;
mod sys;
pub mod zone;

pub use format::{FormatError, FormatLevel, LevelFormatter};
pub use rotate::RotatingFile;
