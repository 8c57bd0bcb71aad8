//! Sink outages under [`Backpressure::BlockWithGrace`](crate::Backpressure):
//! when the sink has taken nothing for the outage grace, logging stops
//! waiting for it.
//!
//! **What an outage is.** The sender thread marks *progress* whenever the
//! kernel accepts bytes of a batch on the socket, and whenever it is idle
//! (nothing to write). A sink that is absent (connecting fails), gone, or
//! connected but no longer reading (the sender is blocked in `send`) makes
//! no progress. A logging thread that finds the channel full waits until
//! `last progress + grace`; if the sender made no progress meanwhile, the
//! outage is declared: one warning on stderr, and from then on every thread
//! drops (and counts) what does not fit in the channel, without waiting.
//! The next progress ends the outage: a second line on stderr says so with
//! the number dropped, and logging is lossless again.
//!
//! The clock is per process state (an `Instant` taken when it is built plus
//! an atomic offset), so nothing here takes a lock or a global `Once`, which
//! a `fork()`ed child could inherit held.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The outage state of one process's sender, shared with its logging
/// threads.
#[derive(Debug)]
pub(crate) struct Outage {
    base: Instant,
    /// Nanoseconds after `base` of the sender's last progress.
    progress_ns: AtomicU64,
    /// Nanoseconds after `base` at which the current outage was declared.
    declared_ns: AtomicU64,
    /// An outage is declared: logging threads drop instead of waiting.
    dropping: AtomicBool,
    /// Events dropped since the current outage was declared.
    dropped: AtomicU64,
}

impl Default for Outage {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            progress_ns: AtomicU64::new(0),
            declared_ns: AtomicU64::new(0),
            dropping: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        }
    }
}

impl Outage {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether an outage is declared (logging threads drop without waiting).
    pub(crate) fn dropping(&self) -> bool {
        self.dropping.load(Ordering::Acquire)
    }

    /// Until when a logging thread that found the channel full may wait: the
    /// sender's last progress plus the grace.
    pub(crate) fn deadline(&self, grace: Duration) -> Instant {
        let progress = Duration::from_nanos(self.progress_ns.load(Ordering::Acquire));
        self.base
            .checked_add(progress.saturating_add(grace))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365))
    }

    /// Whether the sender has made no progress for at least `grace`.
    pub(crate) fn stalled_for(&self, grace: Duration) -> bool {
        let progress = self.progress_ns.load(Ordering::Acquire);
        let stalled = Duration::from_nanos(self.now_ns().saturating_sub(progress));
        stalled >= grace
    }

    /// Declares the outage; says so on stderr if this call declared it.
    pub(crate) fn declare(&self, endpoint: &dyn std::fmt::Display, grace: Duration) {
        let pid = std::process::id();
        self.declared_ns.store(self.now_ns(), Ordering::Release);
        if !self.dropping.swap(true, Ordering::AcqRel) {
            eprintln!(
                "tracing-mplog: process {pid}: the sink at {endpoint} is unreachable (it took nothing for {grace:?}); \
                 events are being dropped and counted until it is back"
            );
        }
    }

    /// Counts one event dropped during the outage.
    pub(crate) fn count_drop(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// The sender made progress: ends a declared outage (and says so).
    pub(crate) fn progress(&self, endpoint: &dyn std::fmt::Display) {
        let now = self.now_ns();
        self.progress_ns.store(now, Ordering::Release);
        if self.dropping.load(Ordering::Acquire) && self.dropping.swap(false, Ordering::AcqRel) {
            let pid = std::process::id();
            let dropped = self.dropped.swap(0, Ordering::AcqRel);
            let since =
                Duration::from_nanos(now.saturating_sub(self.declared_ns.load(Ordering::Acquire)));
            eprintln!(
                "tracing-mplog: process {pid}: the sink at {endpoint} takes events again; \
                 {dropped} event(s) were dropped in the {:.1?} before (reported to the sink); logging is lossless again",
                since
            );
        }
    }
}

/// Parses an outage grace: a non-negative decimal number of seconds
/// (`30`, `2.5`), or a number followed by `s` or `ms` (`30s`, `500ms`).
/// Surrounding spaces are ignored.
pub(crate) fn parse_grace(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    let number = number.trim_end();
    let digits = number.bytes().filter(u8::is_ascii_digit).count();
    let dots = number.bytes().filter(|&b| b == b'.').count();
    if digits == 0 || dots > 1 || digits + dots != number.len() {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    Duration::try_from_secs_f64(value * scale).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_syntax() {
        let ok = [
            ("30", Duration::from_secs(30)),
            ("2.5", Duration::from_millis(2500)),
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            (" 2s ", Duration::from_secs(2)),
            ("0", Duration::ZERO),
            ("1.5 s", Duration::from_millis(1500)),
            ("250.0ms", Duration::from_millis(250)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_grace(text), Some(want), "{text:?}");
        }
        for bad in [
            "", "s", "ms", "-1", "+1", "1e3", "inf", "NaN", "1..2", "1m", "1h", "abc", "1 2",
            "1sms", ".",
        ] {
            assert_eq!(parse_grace(bad), None, "{bad:?} should be refused");
        }
    }

    #[test]
    fn outage_is_declared_once_and_ended_by_progress() {
        let o = Outage::default();
        assert!(!o.dropping());
        assert!(o.stalled_for(Duration::ZERO));
        assert!(!o.stalled_for(Duration::from_secs(3600)));
        o.declare(&"unix:/x", Duration::ZERO);
        o.declare(&"unix:/x", Duration::ZERO);
        assert!(o.dropping());
        o.count_drop();
        o.count_drop();
        assert_eq!(o.dropped.load(Ordering::SeqCst), 2);
        o.progress(&"unix:/x");
        assert!(!o.dropping());
        assert_eq!(o.dropped.load(Ordering::SeqCst), 0);
        assert!(o.deadline(Duration::from_secs(10)) > Instant::now());
    }
}
