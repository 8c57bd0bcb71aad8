//! What the tests of the tracing-mplog workspace share (unpublished; a
//! dev-dependency of the crates whose tests use it).
//!
//! - [`wait_until`], [`poll`], [`wait_exit`], [`wait_pid`]: waiting for
//!   another thread or process, polled with a short backoff and bounded,
//!   instead of hand-written `loop { …; sleep(…) }`.
//! - [`lines`], [`lines_so_far`], [`log_lines`], [`log_files`],
//!   [`file_names`]: what landed in log files, with or without a torn
//!   last line the writer is still finishing.
//! - [`series`], [`assert_series`]: the `w{id} e{n}` events the tests'
//!   workers log, checked once each and in order.
//! - [`Scratch`]: a temporary folder with the usual socket and log folder.
//! - [`Proc`], [`SpawnGuarded`], [`wait_ok`], [`RunningSink`]: child
//!   processes that never outlive a failing test, and a running
//!   `mplog-sink` whose stderr is watched.
//! - [`binary_beside`]: a binary of another package of the same build.
//! - [`http_get`], [`metric`], [`scrape_until`]: the sink's `/metrics`.
//! - [`Ca`]: certificates for TLS tests; [`pickle_dict`]: Python
//!   `SocketHandler` records; [`log_through_the_bridge`]: a `log` record.
//!
//! It depends on no crate of the workspace, so the libraries' own unit
//! tests can use it without a second copy of themselves in the build; what
//! needs a library's types stays in that crate's `tests/support`.

mod bridge;
mod files;
mod metrics;
mod peer;
mod process;
mod python;
mod running;
mod scratch;
mod series;
mod tls;
mod wait;

use std::time::Duration;

pub use bridge::log_through_the_bridge;
pub use files::{
    complete_lines, file_names, lines, lines_so_far, log_files, log_lines, log_lines_so_far, read,
};
pub use metrics::{http_get, metric, scrape_until};
pub use peer::skip_unless_ci;
pub use process::{
    Proc, SpawnGuarded, binary_beside, fd_targets, peak_rss_kib, rss_kib, status_kib, wait_exit,
    wait_ok, wait_pid,
};
pub use python::{pickle_dict, with_length};
pub use running::RunningSink;
pub use scratch::Scratch;
pub use series::{Events, assert_series, series};
pub use tls::Ca;
pub use wait::{Ready, poll, wait_until};

/// The bound on a wait for another process or a peer (a line on its
/// stderr, its exit, an HTTP answer): generous, as the machines that run
/// the tests are often loaded (two cores shared by many builds).
pub const TIMEOUT: Duration = Duration::from_secs(60);
