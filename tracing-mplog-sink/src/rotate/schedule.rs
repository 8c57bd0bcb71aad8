//! Where time periods start and end.
//!
//! Boundaries are computed in the civil time of the zone (a wall clock) and
//! turned into instants with [`Zone::from_local`], so they follow DST: a
//! `midnight` period is 23 hours long on the spring-forward day and 25 on
//! the fall-back day. A boundary that falls in a DST gap happens when the
//! clocks jump (02:30 in a 02:00→03:00 gap resolves to 03:30 new time); in
//! the repeated hour of a fall-back, civil boundaries resolve to their first
//! occurrence, so the period in force when the clocks go back lasts until
//! the first boundary after the repeated hour. Periods never overlap and
//! never go backwards.

use time::{Duration, OffsetDateTime, PrimitiveDateTime, Time};

use super::builder::When;
use crate::zone::Zone;

/// Bound on the walk through civil boundaries (a DST repeated hour costs at
/// most 3 600 steps with `when=S`).
const MAX_STEPS: usize = 100_000;

/// The rule that places period boundaries.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    when: When,
    interval: u32,
    at: Time,
    zone: Zone,
}

/// One period: `[start, end)`; `end` is `None` for size-only rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    /// The period's start on the zone's wall clock (names rotated files).
    pub(crate) start_civil: PrimitiveDateTime,
    /// The period's start instant.
    pub(crate) start: OffsetDateTime,
    /// The first instant of the next period.
    pub(crate) end: Option<OffsetDateTime>,
}

impl Schedule {
    /// `at` is ignored for anything but `midnight` and `W0`–`W6`.
    pub(crate) fn new(when: When, interval: u32, at: Time, zone: Zone) -> Self {
        let at = match when {
            When::Midnight | When::Weekday(_) => at,
            _ => Time::MIDNIGHT,
        };
        Self {
            when,
            interval: interval.max(1),
            at,
            zone,
        }
    }

    /// Whether time rotates files at all.
    pub(crate) fn is_timed(&self) -> bool {
        self.when != When::Never
    }

    /// Instant `t` on the zone's wall clock, to the second.
    pub(crate) fn civil(&self, t: OffsetDateTime) -> PrimitiveDateTime {
        let local = self.zone.to_local(t);
        let time = local.time();
        let second =
            Time::from_hms(time.hour(), time.minute(), time.second()).unwrap_or(Time::MIDNIGHT);
        PrimitiveDateTime::new(local.date(), second)
    }

    /// The period that contains `t`.
    pub(crate) fn period_at(&self, t: OffsetDateTime) -> Period {
        let civil = self.civil(t);
        if !self.is_timed() {
            return Period {
                start_civil: civil,
                start: t,
                end: None,
            };
        }
        let mut start_civil = self.floor(civil);
        let mut start = self.zone.from_local(start_civil);
        let mut steps = 0;
        // A floor inside a DST gap resolves after the jump, possibly after t.
        while start > t && steps < MAX_STEPS {
            start_civil = self.floor(start_civil - Duration::SECOND);
            start = self.zone.from_local(start_civil);
            steps += 1;
        }
        // In a repeated hour, later civil boundaries may resolve before t.
        loop {
            let next_civil = self.next(start_civil);
            let next = self.zone.from_local(next_civil);
            if next > t {
                return Period {
                    start_civil,
                    start,
                    end: Some(next),
                };
            }
            if steps >= MAX_STEPS {
                return Period {
                    start_civil,
                    start,
                    end: Some(t + Duration::SECOND),
                };
            }
            start_civil = next_civil;
            start = next;
            steps += 1;
        }
    }

    /// The latest civil boundary at or before `civil`.
    fn floor(&self, civil: PrimitiveDateTime) -> PrimitiveDateTime {
        let n = i64::from(self.interval);
        let date = civil.date();
        if let Some(unit) = self.when.unit_seconds() {
            let len = n * unit;
            let time = civil.time();
            let sod = i64::from(time.hour()) * 3600
                + i64::from(time.minute()) * 60
                + i64::from(time.second());
            return date.midnight() + Duration::seconds(sod / len * len);
        }
        let day = if civil.time() >= self.at {
            date
        } else {
            date - Duration::DAY
        };
        let day = match self.when {
            When::Weekday(weekday) => {
                let day = if day.weekday() == weekday {
                    day
                } else {
                    day.prev_occurrence(weekday)
                };
                // Same-weekday dates have consecutive `julian / 7` values.
                let week = i64::from(day.to_julian_day()).div_euclid(7);
                day - Duration::weeks(week.rem_euclid(n))
            }
            _ => {
                let julian = i64::from(day.to_julian_day());
                day - Duration::days(julian.rem_euclid(n))
            }
        };
        PrimitiveDateTime::new(day, self.at)
    }

    /// The civil boundary after boundary `b`.
    fn next(&self, b: PrimitiveDateTime) -> PrimitiveDateTime {
        let n = i64::from(self.interval);
        match self.when {
            When::Seconds | When::Minutes | When::Hours => {
                let len = n * self.when.unit_seconds().unwrap_or(1);
                let next = b + Duration::seconds(len);
                if next.date() != b.date() {
                    (b.date() + Duration::DAY).midnight()
                } else {
                    next
                }
            }
            When::Weekday(_) => b + Duration::weeks(n),
            _ => b + Duration::days(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Weekday;
    use time::macros::{datetime, offset, time};

    fn eastern() -> Zone {
        Zone::from_posix_tz("EST5EDT,M3.2.0,M11.1.0").expect("valid TZ string")
    }

    /// A period's length in seconds.
    fn len(p: &Period) -> i64 {
        p.end.map_or(0, |end| (end - p.start).whole_seconds())
    }

    fn sched(when: When, interval: u32, zone: Zone) -> Schedule {
        Schedule::new(when, interval, Time::MIDNIGHT, zone)
    }

    #[test]
    fn sub_day_periods_align_on_multiples_since_midnight() {
        let s = sched(When::Seconds, 1, Zone::utc());
        let p = s.period_at(datetime!(2024-01-01 12:00:00.7 UTC));
        assert_eq!(p.start, datetime!(2024-01-01 12:00:00 UTC));
        assert_eq!(p.end, Some(datetime!(2024-01-01 12:00:01 UTC)));

        let s = sched(When::Minutes, 15, Zone::utc());
        let p = s.period_at(datetime!(2024-01-01 12:44:59 UTC));
        assert_eq!(p.start, datetime!(2024-01-01 12:30 UTC));
        assert_eq!(p.end, Some(datetime!(2024-01-01 12:45 UTC)));

        // 7 h does not divide a day: 00, 07, 14, 21, then midnight.
        let s = sched(When::Hours, 7, Zone::utc());
        let p = s.period_at(datetime!(2024-01-01 22:00 UTC));
        assert_eq!(p.start, datetime!(2024-01-01 21:00 UTC));
        assert_eq!(p.end, Some(datetime!(2024-01-02 00:00 UTC)));
        let p = s.period_at(datetime!(2024-01-02 06:59:59 UTC));
        assert_eq!(p.start, datetime!(2024-01-02 00:00 UTC));
        assert_eq!(len(&p), 7 * 3600);
    }

    #[test]
    fn local_zone_moves_the_boundaries() {
        // UTC+05:30: local hours start at :30 UTC.
        let s = sched(When::Hours, 1, Zone::fixed(offset!(+5:30)));
        let p = s.period_at(datetime!(2024-01-01 12:10 UTC));
        assert_eq!(p.start, datetime!(2024-01-01 11:30 UTC));
        assert_eq!(p.start_civil, datetime!(2024-01-01 17:00));
        let s = sched(When::Midnight, 1, Zone::fixed(offset!(+2)));
        let p = s.period_at(datetime!(2024-01-01 23:00 UTC));
        assert_eq!(p.start, datetime!(2024-01-01 22:00 UTC));
        assert_eq!(p.start_civil, datetime!(2024-01-02 00:00));
    }

    #[test]
    fn multi_day_and_weekly_periods_are_aligned_on_the_epoch() {
        // Julian day of 2024-01-01 is 2460311; 2460311 % 3 == 2.
        let s = sched(When::Days, 3, Zone::utc());
        let p = s.period_at(datetime!(2024-01-01 10:00 UTC));
        assert_eq!(p.start, datetime!(2023-12-30 00:00 UTC));
        assert_eq!(p.end, Some(datetime!(2024-01-02 00:00 UTC)));

        let s = Schedule::new(When::Weekday(Weekday::Monday), 1, time!(06:00), Zone::utc());
        // 2024-01-03 is a Wednesday.
        let p = s.period_at(datetime!(2024-01-03 10:00 UTC));
        assert_eq!(p.start, datetime!(2024-01-01 06:00 UTC));
        assert_eq!(p.end, Some(datetime!(2024-01-08 06:00 UTC)));
        // Monday before 06:00 still belongs to the previous week.
        let p = s.period_at(datetime!(2024-01-08 05:59 UTC));
        assert_eq!(p.start, datetime!(2024-01-01 06:00 UTC));

        let s = Schedule::new(
            When::Weekday(Weekday::Sunday),
            2,
            Time::MIDNIGHT,
            Zone::utc(),
        );
        let p = s.period_at(datetime!(2024-01-10 10:00 UTC));
        assert_eq!(p.start.weekday(), Weekday::Sunday);
        assert_eq!(len(&p), 14 * 86_400);
        assert!(p.start <= datetime!(2024-01-10 10:00 UTC));
    }

    #[test]
    fn midnight_follows_dst_in_eastern_time() {
        let s = sched(When::Midnight, 1, eastern());
        // Spring forward, 2024-03-10: a 23-hour day.
        let p = s.period_at(datetime!(2024-03-10 12:00 UTC));
        assert_eq!(p.start, datetime!(2024-03-10 05:00 UTC));
        assert_eq!(p.end, Some(datetime!(2024-03-11 04:00 UTC)));
        // Fall back, 2024-11-03: a 25-hour day.
        let p = s.period_at(datetime!(2024-11-03 12:00 UTC));
        assert_eq!(p.start, datetime!(2024-11-03 04:00 UTC));
        assert_eq!(p.end, Some(datetime!(2024-11-04 05:00 UTC)));
    }

    #[test]
    fn at_time_inside_the_gap_happens_at_the_jump() {
        let s = Schedule::new(When::Midnight, 1, time!(02:30), eastern());
        let p = s.period_at(datetime!(2024-03-10 12:00 UTC));
        // 02:30 does not exist; it resolves to 03:30 EDT = 07:30 UTC.
        assert_eq!(p.start, datetime!(2024-03-10 07:30 UTC));
        assert_eq!(p.start_civil, datetime!(2024-03-10 02:30));
        let p = s.period_at(datetime!(2024-03-10 07:29 UTC));
        assert_eq!(p.end, Some(datetime!(2024-03-10 07:30 UTC)));
    }

    #[test]
    fn hourly_periods_absorb_the_repeated_hour() {
        let s = sched(When::Hours, 1, eastern());
        // 01:30 EDT (first pass) and 01:30 EST (second pass) share a period
        // that runs from 01:00 EDT to 02:00 EST.
        let first = s.period_at(datetime!(2024-11-03 05:30 UTC));
        let second = s.period_at(datetime!(2024-11-03 06:30 UTC));
        assert_eq!(first, second);
        assert_eq!(first.start, datetime!(2024-11-03 05:00 UTC));
        assert_eq!(first.end, Some(datetime!(2024-11-03 07:00 UTC)));

        let s = sched(When::Minutes, 1, eastern());
        let p = s.period_at(datetime!(2024-11-03 06:30 UTC));
        assert!(p.start <= datetime!(2024-11-03 06:30 UTC));
        assert!(p.end > Some(datetime!(2024-11-03 06:30 UTC)));
        assert_eq!(p.start_civil, datetime!(2024-11-03 01:59));
    }

    #[test]
    fn periods_chain_without_gaps_or_overlaps_across_dst() {
        for when in [When::Minutes, When::Hours, When::Midnight] {
            let s = sched(when, 1, eastern());
            for start in [
                datetime!(2024-03-09 20:00 UTC),
                datetime!(2024-11-02 20:00 UTC),
            ] {
                let mut p = s.period_at(start);
                while p.start < start + Duration::days(2) {
                    let end = p.end.expect("timed");
                    let next = s.period_at(end);
                    assert_eq!(next.start, end, "{when}: {p:?} -> {next:?}");
                    assert!(next.start_civil > p.start_civil, "{when}: names go back");
                    p = next;
                }
            }
        }
    }

    #[test]
    fn never_has_no_end() {
        let s = sched(When::Never, 1, Zone::utc());
        let p = s.period_at(datetime!(2024-01-01 12:00:00.5 UTC));
        assert_eq!(p.end, None);
        assert_eq!(p.start_civil, datetime!(2024-01-01 12:00:00));
    }
}
