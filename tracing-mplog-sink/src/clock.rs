//! Where "now" comes from.
//!
//! Every component of this crate that needs the current time (the in-process
//! formatter, the rotating file) reads it through a [`Clock`], so tests and
//! simulations can drive time explicitly with a [`ManualClock`] instead of
//! sleeping. The default everywhere is [`SystemClock`].

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// A source of the current time (UTC).
///
/// Implement this to drive formatting and rotation from your own notion of
/// time. Implementations must be cheap: the rotating file asks once per write.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The system's real-time clock ([`OffsetDateTime::now_utc`]). The default.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use time::{Duration, macros::datetime};
/// use tracing_mplog_sink::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new(datetime!(2016-12-19 11:39:44.953189 UTC));
/// let handle = clock.clone();
/// handle.advance(Duration::seconds(2));
/// assert_eq!(clock.now(), datetime!(2016-12-19 11:39:46.953189 UTC));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock standing at `start` (any offset; it is kept as UTC).
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start.to_offset(time::UtcOffset::UTC))),
        }
    }

    /// Moves the clock to `to` (which may be earlier than now).
    pub fn set(&self, to: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) =
            to.to_offset(time::UtcOffset::UTC);
    }

    /// Moves the clock forward by `by` (or backward if negative).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}
