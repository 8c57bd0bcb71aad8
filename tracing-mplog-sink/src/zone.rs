//! Time zones: UTC, a fixed offset, or a full rule set (the system's zone).
//!
//! The `time` crate refuses to read the local offset in a multi-threaded
//! process on Unix (`current_local_offset` would race with `setenv`), and a
//! fixed offset read once at start-up goes wrong at the next DST change. We
//! therefore read the system zone's rules once with [`tz-rs`](https://docs.rs/tz-rs)
//! (a small, dependency-free TZif and POSIX `TZ` parser that never calls libc's
//! `localtime_r`) and compute the offset for every instant from those rules.

mod tzenv;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The time zone used to render dates and to place rotation boundaries.
///
/// ```
/// use time::macros::datetime;
/// use tracing_mplog_sink::zone::Zone;
///
/// // US Eastern, with the rules spelled out so the example needs no tzdata.
/// let eastern = Zone::from_posix_tz("EST5EDT,M3.2.0,M11.1.0").unwrap();
/// let winter = eastern.to_local(datetime!(2024-01-15 12:00 UTC));
/// let summer = eastern.to_local(datetime!(2024-07-15 12:00 UTC));
/// assert_eq!(winter.hour(), 7);
/// assert_eq!(summer.hour(), 8);
/// ```
#[derive(Clone)]
pub struct Zone {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Fixed(UtcOffset),
    Rules {
        name: Arc<str>,
        tz: Arc<tz::TimeZone>,
    },
}

/// The system time zone could not be read or a zone description was invalid.
///
/// The message names where the zone came from: `TZ="Mars/Base": no zone …`
/// for the environment variable, `time zone "/etc/localtime": …` otherwise.
#[derive(Debug, thiserror::Error)]
#[error("{origin}{spec:?}: {reason}")]
pub struct ZoneError {
    origin: &'static str,
    spec: String,
    reason: String,
}

impl ZoneError {
    fn new(spec: &str, reason: String) -> Self {
        Self {
            origin: "time zone ",
            spec: spec.to_owned(),
            reason,
        }
    }

    fn env(value: &str, reason: String) -> Self {
        Self {
            origin: "TZ=",
            spec: value.to_owned(),
            reason,
        }
    }
}

impl Zone {
    /// Coordinated Universal Time.
    pub fn utc() -> Self {
        Self::fixed(UtcOffset::UTC)
    }

    /// A zone that is always `offset` away from UTC (no DST).
    pub fn fixed(offset: UtcOffset) -> Self {
        Self {
            inner: Inner::Fixed(offset),
        }
    }

    /// The system's time zone, read as glibc's `tzset` (so Python's `time`
    /// and `logging`) reads it:
    ///
    /// | `TZ` | Zone |
    /// |---|---|
    /// | unset | `/etc/localtime`; UTC when that file does not exist |
    /// | empty, or `:` | UTC |
    /// | `Europe/Paris`, `:Europe/Paris` | that file under `TZDIR` if set, else under `/usr/share/zoneinfo` (and tz-rs's other system folders) |
    /// | `/path`, `:/path` | the TZif file at that path |
    /// | `EST5EDT,M3.2.0,M11.1.0`, `XYZ-3` | that POSIX rule |
    ///
    /// The rules are read once; the offset for each instant is then computed
    /// from them, so DST changes while the program runs are honoured.
    ///
    /// # Errors
    ///
    /// When `TZ` is set but is no zone file and no POSIX rule (glibc would
    /// silently use UTC), or when the zone file cannot be read or parsed.
    /// The error names `TZ` and its value.
    ///
    /// ```
    /// use tracing_mplog_sink::zone::Zone;
    ///
    /// match Zone::local() {
    ///     Ok(zone) => println!("local time is {zone:?}"),
    ///     // e.g. `TZ="Mars/Base": no zone "Mars/Base" under /usr/share/zoneinfo, …`
    ///     Err(error) => eprintln!("{error}"),
    /// }
    /// ```
    pub fn local() -> Result<Self, ZoneError> {
        let resolved = tzenv::resolve(
            std::env::var_os("TZ").as_deref(),
            std::env::var_os("TZDIR").as_deref(),
        )?;
        Ok(Self::from_resolved(resolved))
    }

    /// The system's time zone ([`Zone::local`]), or UTC if it cannot be read.
    ///
    /// The first time this falls back in a process, it says so on stderr
    /// (`tracing-mplog-sink: TZ="Mars/Base": …; dates and rotation use UTC`);
    /// later fall-backs are silent. Callers that would rather fail call
    /// [`Zone::local`] (the `mplog-sink` daemon refuses to start).
    pub fn local_or_utc() -> Self {
        static WARNED: AtomicBool = AtomicBool::new(false);
        Self::local().unwrap_or_else(|error| {
            if !WARNED.swap(true, Ordering::Relaxed) {
                eprintln!("tracing-mplog-sink: {error}; dates and rotation use UTC");
            }
            Self::utc()
        })
    }

    /// A zone from a `TZ` value, read as [`Zone::local`] reads `TZ`: a POSIX
    /// rule (`"EST5EDT,M3.2.0,M11.1.0"`), a zone name looked up under
    /// `TZDIR` or the system's tzdata (`"Europe/Paris"`), or a path to a
    /// TZif file (`":/etc/localtime"`); `""` is UTC.
    ///
    /// # Errors
    ///
    /// When the string is no readable zone file and no POSIX rule.
    pub fn from_posix_tz(spec: &str) -> Result<Self, ZoneError> {
        let tzdir = std::env::var("TZDIR").ok();
        tzenv::resolve_spec(spec, tzdir.as_deref().filter(|d| !d.is_empty()))
            .map(Self::from_resolved)
            .map_err(|reason| ZoneError::new(spec, reason))
    }

    fn from_resolved(resolved: tzenv::Resolved) -> Self {
        match resolved {
            tzenv::Resolved::Utc => Self::utc(),
            tzenv::Resolved::Rules(name, tz) => Self {
                inner: Inner::Rules {
                    name: name.into(),
                    tz: Arc::new(tz),
                },
            },
        }
    }

    /// Whether this zone is UTC (a fixed zero offset).
    pub fn is_utc(&self) -> bool {
        matches!(self.inner, Inner::Fixed(o) if o.is_utc())
    }

    /// The offset from UTC in force at instant `t`.
    pub fn offset_at(&self, t: OffsetDateTime) -> UtcOffset {
        match &self.inner {
            Inner::Fixed(offset) => *offset,
            Inner::Rules { tz, .. } => tz
                .find_local_time_type(t.unix_timestamp())
                .ok()
                .and_then(|ltt| UtcOffset::from_whole_seconds(ltt.ut_offset()).ok())
                .unwrap_or(UtcOffset::UTC),
        }
    }

    /// Instant `t` expressed in this zone's civil time.
    pub fn to_local(&self, t: OffsetDateTime) -> OffsetDateTime {
        t.to_offset(self.offset_at(t))
    }

    /// The instant at which this zone's clocks show `civil`.
    ///
    /// When `civil` happens twice (clocks set back), the earlier instant is
    /// returned; when it never happens (clocks set forward), the instant is
    /// computed with the offset in force before the gap, which lands just
    /// after it (02:30 in a 02:00→03:00 gap resolves to 03:30 new time).
    pub fn from_local(&self, civil: PrimitiveDateTime) -> OffsetDateTime {
        let guess = civil.assume_utc();
        let before = self.offset_at(guess - time::Duration::days(1));
        let after = self.offset_at(guess + time::Duration::days(1));
        let mut candidates = [civil.assume_offset(before), civil.assume_offset(after)];
        candidates.sort();
        for candidate in candidates {
            if self.offset_at(candidate) == candidate.offset() {
                return candidate.to_offset(UtcOffset::UTC);
            }
        }
        civil.assume_offset(before).to_offset(UtcOffset::UTC)
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Fixed(offset) => f.debug_tuple("Zone::Fixed").field(offset).finish(),
            Inner::Rules { name, .. } => f.debug_tuple("Zone::Rules").field(name).finish(),
        }
    }
}

impl Default for Zone {
    /// The system's zone, or UTC when it cannot be read.
    fn default() -> Self {
        Self::local_or_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    fn eastern() -> Zone {
        Zone::from_posix_tz("EST5EDT,M3.2.0,M11.1.0").expect("valid TZ string")
    }

    #[test]
    fn offsets_follow_dst() {
        let z = eastern();
        assert_eq!(z.offset_at(datetime!(2024-01-15 12:00 UTC)), offset!(-5));
        assert_eq!(z.offset_at(datetime!(2024-07-15 12:00 UTC)), offset!(-4));
        // 2024-03-10 07:00 UTC is 02:00 EST -> 03:00 EDT.
        assert_eq!(z.offset_at(datetime!(2024-03-10 06:59:59 UTC)), offset!(-5));
        assert_eq!(z.offset_at(datetime!(2024-03-10 07:00 UTC)), offset!(-4));
    }

    #[test]
    fn from_local_handles_gap_and_overlap() {
        let z = eastern();
        // Ordinary time.
        assert_eq!(
            z.from_local(datetime!(2024-01-15 07:00)),
            datetime!(2024-01-15 12:00 UTC)
        );
        // Gap: 02:30 does not exist on 2024-03-10; resolves to 03:30 EDT.
        assert_eq!(
            z.from_local(datetime!(2024-03-10 02:30)),
            datetime!(2024-03-10 07:30 UTC)
        );
        // Overlap: 01:30 happens twice on 2024-11-03; the first (EDT) wins.
        assert_eq!(
            z.from_local(datetime!(2024-11-03 01:30)),
            datetime!(2024-11-03 05:30 UTC)
        );
    }

    #[test]
    fn fixed_and_utc() {
        assert!(Zone::utc().is_utc());
        let z = Zone::fixed(offset!(+2));
        assert_eq!(z.to_local(datetime!(2024-01-01 23:00 UTC)).day(), 2);
        assert!(Zone::from_posix_tz("not a zone!!").is_err());
    }
}
