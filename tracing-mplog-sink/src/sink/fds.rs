//! The sink's descriptor budget: per-key files and connections share what
//! the process may open, so that neither starves the other.
//!
//! At start the sink raises its soft `RLIMIT_NOFILE` to the hard limit and
//! counts what is already open. What is left, less a [`MARGIN`] for
//! everything else (the consolidated file, the seq store, rotation's
//! compression, the metrics server, forwarding sockets), is split:
//!
//! - the writer keeps at most `max_open_files` per-key files open (by
//!   default half of what is left, at most [`DEFAULT_MAX_OPEN_FILES`]) and
//!   closes the least recently written one to open another;
//! - the listener serves as many connections as the rest allows
//!   ([`FDS_PER_CONNECTION`] each). A connection beyond that waits in the
//!   socket's backlog until one ends: it is never accepted and then dropped
//!   unread. Workers keep their events meanwhile (acknowledged delivery).
//!
//! Running short anyway (another part of the process opened descriptors,
//! the system table is full) is handled the same way: the writer closes
//! another file and retries, the listener leaves the backlog alone for a
//! moment. Each shortage is counted; the first is warned about.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tracing_core::Level;

use crate::sys;

/// Default [`Builder::max_open_files`](crate::sink::Builder::max_open_files):
/// per-key files kept open at once, lowered when the descriptor limit
/// leaves less room.
pub const DEFAULT_MAX_OPEN_FILES: usize = 256;

/// Descriptors kept free for what is neither a per-key file nor a
/// connection.
pub(crate) const MARGIN: u64 = 32;

/// Descriptors a served connection holds: its socket and the clone the
/// sink keeps to shut it down.
pub(crate) const FDS_PER_CONNECTION: u64 = 2;

/// The fewest per-key files the default keeps open, however low the limit.
const MIN_OPEN_FILES: usize = 4;

/// The budget, shared by the listener and the writer.
#[derive(Debug)]
pub(crate) struct Descriptors {
    /// The soft limit in force (`None`: none known).
    pub(crate) limit: Option<u64>,
    /// Descriptors open at start plus [`MARGIN`].
    reserve: u64,
    /// The cap on open per-key files.
    pub(crate) max_open_files: usize,
    /// Per-key files open now (written by the writer).
    pub(crate) open_files: AtomicU64,
    /// Per-key files reopened after being closed to make room.
    pub(crate) reopens: AtomicU64,
    /// Times the sink found itself out of descriptors.
    pub(crate) shortages: AtomicU64,
    warned: AtomicBool,
    /// The listener is waiting for a connection to end.
    waiting: AtomicBool,
}

impl Descriptors {
    /// Raises the soft limit and sizes the budget; `max_open_files` is the
    /// configured cap, if any.
    pub(crate) fn new(max_open_files: Option<usize>) -> Self {
        let limit = sys::raise_nofile_limit().ok().flatten();
        let open = sys::open_descriptors().unwrap_or(16);
        Self::sized(limit, open, max_open_files)
    }

    /// The budget for a soft `limit` with `open` descriptors in use.
    pub(crate) fn sized(limit: Option<u64>, open: u64, max_open_files: Option<usize>) -> Self {
        let reserve = open + MARGIN;
        let max_open_files = max_open_files.unwrap_or_else(|| match limit {
            None => DEFAULT_MAX_OPEN_FILES,
            Some(limit) => {
                let half = limit.saturating_sub(reserve) / 2;
                usize::try_from(half)
                    .unwrap_or(usize::MAX)
                    .clamp(MIN_OPEN_FILES, DEFAULT_MAX_OPEN_FILES)
            }
        });
        Descriptors {
            limit,
            reserve,
            max_open_files,
            open_files: AtomicU64::new(0),
            reopens: AtomicU64::new(0),
            shortages: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            waiting: AtomicBool::new(false),
        }
    }

    /// How many connections fit beside the files (`usize::MAX`: no limit
    /// known). At least one, so a sink under a tiny limit still serves.
    pub(crate) fn max_connections(&self) -> usize {
        let Some(limit) = self.limit else {
            return usize::MAX;
        };
        let files = self.max_open_files as u64;
        let left = limit.saturating_sub(self.reserve).saturating_sub(files);
        usize::try_from(left / FDS_PER_CONNECTION)
            .unwrap_or(usize::MAX)
            .max(1)
    }

    /// Whether a connection beyond the `served` ones fits now.
    pub(crate) fn room_for_connection(&self, served: usize) -> bool {
        served < self.max_connections()
    }

    /// The listener leaves connections in the backlog: counts the start of
    /// such a wait (once per wait) and returns the warning to give, the
    /// first time only.
    pub(crate) fn connections_wait(&self, served: usize) -> Option<(Level, String)> {
        if self.waiting.swap(true, Ordering::Relaxed) {
            return None;
        }
        self.short(format!(
            "descriptor limit: serving {served} connections, the most that fit beside {} \
             per-key files under a limit of {}; further workers wait in the backlog \
             (raise `ulimit -n`, or lower --max-open-files)",
            self.max_open_files,
            self.limit
                .map_or_else(|| "none".to_owned(), |l| l.to_string()),
        ))
    }

    /// A connection ended while the listener waited.
    pub(crate) fn connections_resume(&self) {
        self.waiting.store(false, Ordering::Relaxed);
    }

    /// The system refused a descriptor (`EMFILE`/`ENFILE`) while `what`:
    /// counts it, and returns the warning to give the first time.
    pub(crate) fn refused(&self, what: &str, e: &std::io::Error) -> Option<(Level, String)> {
        self.short(format!(
            "out of descriptors while {what}: {e}; closing idle files and \
             leaving new connections in the backlog until some are free \
             (raise `ulimit -n`, or lower --max-open-files)"
        ))
    }

    fn short(&self, message: String) -> Option<(Level, String)> {
        self.shortages.fetch_add(1, Ordering::Relaxed);
        (!self.warned.swap(true, Ordering::Relaxed)).then_some((Level::WARN, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_fits_the_limit_and_leaves_room_for_connections() {
        let d = Descriptors::sized(Some(256), 10, None);
        // (256 - 42) / 2 = 107 files, (256 - 42 - 107) / 2 = 53 connections.
        assert_eq!(d.max_open_files, 107);
        assert_eq!(d.max_connections(), 53);
        let d = Descriptors::sized(Some(65_536), 10, None);
        assert_eq!(d.max_open_files, DEFAULT_MAX_OPEN_FILES);
        let d = Descriptors::sized(Some(40), 10, None);
        assert_eq!((d.max_open_files, d.max_connections()), (MIN_OPEN_FILES, 1));
        let d = Descriptors::sized(None, 10, None);
        assert_eq!(d.max_connections(), usize::MAX);
    }

    #[test]
    fn a_configured_cap_is_kept_and_shortages_warn_once() {
        let d = Descriptors::sized(Some(1024), 10, Some(8));
        assert_eq!(d.max_open_files, 8);
        assert!(d.room_for_connection(0));
        assert!(d.connections_wait(3).is_some());
        assert!(d.connections_wait(3).is_none(), "one count per wait");
        d.connections_resume();
        assert!(d.connections_wait(3).is_none(), "warned once");
        let e = std::io::Error::from_raw_os_error(24);
        assert!(d.refused("opening a file", &e).is_none());
        assert_eq!(d.shortages.load(Ordering::Relaxed), 3);
    }
}
