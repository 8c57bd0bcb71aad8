//! `datefmt`: strftime directives compiled once, rendered with a per-second
//! cache.
//!
//! Everything but the sub-second part changes at most once a second, so the
//! rendered text of the current second is kept and only the fraction
//! (`%f`) is written per record. Local time goes through [`Zone`], which
//! reads the system's rules once (tz-rs) and stays correct across DST
//! changes in multi-threaded programs.
//!
//! Each thread keeps its own cache (the sink's readers format at once: a
//! shared one was locked per record, and skipped whenever another held it),
//! and a record's time comes as seconds and nanoseconds (no `i128`, no
//! `OffsetDateTime` unless the second changes).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use time::OffsetDateTime;

use super::text;
use crate::zone::Zone;

/// One compiled directive.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Lit(String),
    Year,
    Year2,
    Month,
    Day,
    DaySpace,
    Hour,
    Hour12,
    Minute,
    Second,
    /// Fraction of a second with this many digits (`%f` = 6).
    Frac(u8),
    AmPm,
    DayOfYear,
    WeekdayShort,
    WeekdayLong,
    WeekdayNum,
    MonthShort,
    MonthLong,
    /// `+HHMM`
    Offset,
    /// `+HH:MM`
    OffsetColon,
    /// Seconds since the epoch.
    Epoch,
}

/// Why a `datefmt` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at byte {at}: {what}")]
pub struct DatefmtError {
    /// Byte offset into the `datefmt` string.
    pub at: usize,
    /// What is wrong there.
    pub what: String,
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The directives understood, for error messages and docs.
pub(crate) const SUPPORTED: &str =
    "%Y %y %m %d %e %H %I %M %S %f %3f %6f %9f %p %j %a %A %u %b %B %h %z %:z %s %F %T %D %R %%";

/// A compiled `datefmt`.
#[derive(Debug)]
pub(crate) struct DateFormat {
    items: Vec<Item>,
    has_frac: bool,
    /// Names this format's entry in each thread's [`CACHES`] (every
    /// compiled or cloned format has its own).
    id: u64,
}

/// Numbers the formats for the caches.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Clone for DateFormat {
    fn clone(&self) -> Self {
        DateFormat {
            items: self.items.clone(),
            has_frac: self.has_frac,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// The rendering of one second: text with the fraction's places cut out.
#[derive(Debug, Default)]
struct Cache {
    /// The format it belongs to (`DateFormat::id`).
    id: u64,
    second: Option<i64>,
    text: String,
    /// (byte offset into `text`, digits) for each fraction directive.
    fracs: Vec<(usize, u8)>,
}

/// The caches of a thread's formats, most recently added last: a thread
/// formats with one or two; a thread that goes through more reuses the
/// oldest entry.
const CACHES_PER_THREAD: usize = 4;

thread_local! {
    static CACHES: RefCell<Vec<Cache>> = const { RefCell::new(Vec::new()) };
}

impl DateFormat {
    /// Compiles `fmt`; an unsupported directive is an error naming it.
    pub(crate) fn compile(fmt: &str) -> Result<Self, DatefmtError> {
        let mut items = Vec::new();
        let mut lit = String::new();
        let mut chars = fmt.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            let (d, digits) = directive(&mut chars, at)?;
            if d == '%' {
                lit.push('%');
                continue;
            }
            let expanded = match d {
                'f' => vec![Item::Frac(u8::try_from(digits.unwrap_or(6)).unwrap_or(6))],
                _ => expand(d).ok_or_else(|| DatefmtError {
                    at,
                    what: format!("unsupported directive `%{d}` (supported: {SUPPORTED})"),
                })?,
            };
            items.push(Item::Lit(std::mem::take(&mut lit)));
            items.extend(expanded);
        }
        items.push(Item::Lit(lit));
        items.retain(|i| !matches!(i, Item::Lit(s) if s.is_empty()));
        let has_frac = items.iter().any(|i| matches!(i, Item::Frac(_)));
        Ok(DateFormat {
            items,
            has_frac,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Appends `t` (UTC) rendered in `zone` to `out`.
    #[cfg(test)]
    pub(crate) fn render(&self, t: OffsetDateTime, zone: &Zone, out: &mut String) {
        self.render_unix(t.unix_timestamp(), t.nanosecond(), zone, out);
    }

    /// Appends the instant `second` + `nanos` ns after the Unix epoch
    /// (`nanos` < 10^9), rendered in `zone`, to `out`: from this thread's
    /// cache of the second, and the fraction.
    pub(crate) fn render_unix(&self, second: i64, nanos: u32, zone: &Zone, out: &mut String) {
        let rendered = CACHES.try_with(|caches| {
            // A cache in use (only if rendering reentered) is skipped.
            let Ok(mut caches) = caches.try_borrow_mut() else {
                return false;
            };
            let cache = self.cache_in(&mut caches);
            if cache.second != Some(second) {
                let local = zone.to_local(instant(second, nanos));
                let Cache { text, fracs, .. } = &mut *cache;
                text.clear();
                fracs.clear();
                for item in &self.items {
                    match item {
                        Item::Frac(n) => fracs.push((text.len(), *n)),
                        other => render_item(other, local, text),
                    }
                }
                cache.second = Some(second);
            }
            let mut from = 0;
            for &(at, n) in &cache.fracs {
                out.push_str(&cache.text[from..at]);
                push_frac(nanos, n, out);
                from = at;
            }
            out.push_str(&cache.text[from..]);
            true
        });
        if rendered != Ok(true) {
            let local = zone.to_local(instant(second, nanos));
            for item in &self.items {
                match item {
                    Item::Frac(n) => push_frac(nanos, *n, out),
                    other => render_item(other, local, out),
                }
            }
        }
    }

    /// This format's cache among a thread's, added (or taking the oldest's
    /// place) if it has none.
    fn cache_in<'c>(&self, caches: &'c mut Vec<Cache>) -> &'c mut Cache {
        let i = match caches.iter().rposition(|c| c.id == self.id) {
            Some(i) => i,
            None => {
                if caches.len() >= CACHES_PER_THREAD {
                    caches.remove(0);
                }
                caches.push(Cache {
                    id: self.id,
                    ..Cache::default()
                });
                caches.len() - 1
            }
        };
        &mut caches[i]
    }

    /// Whether the format shows sub-second digits.
    #[cfg(test)]
    pub(crate) fn has_frac(&self) -> bool {
        self.has_frac
    }
}

/// Reads the directive after a `%` at `at`: its letter (`Z` for `%:z`,
/// `f` for `%3f`/`%6f`/`%9f`) and the fraction's digits if given.
fn directive(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    at: usize,
) -> Result<(char, Option<u32>), DatefmtError> {
    let d = chars.next().map(|(_, d)| d).ok_or_else(|| DatefmtError {
        at,
        what: "lone `%` at the end".into(),
    })?;
    let unsupported = |d: char| DatefmtError {
        at,
        what: format!("unsupported directive `%{d}` (supported: {SUPPORTED})"),
    };
    match d {
        '3' | '6' | '9' => match chars.next() {
            Some((_, 'f')) => Ok(('f', d.to_digit(10))),
            _ => Err(unsupported(d)),
        },
        ':' => match chars.next() {
            Some((_, 'z')) => Ok(('Z', None)),
            _ => Err(unsupported(':')),
        },
        _ => Ok((d, None)),
    }
}

/// The items of directive `d` (not `%` or `f`); `None` if unsupported.
fn expand(d: char) -> Option<Vec<Item>> {
    let lit = |s: &str| Item::Lit(s.to_owned());
    Some(match d {
        'Y' => vec![Item::Year],
        'y' => vec![Item::Year2],
        'm' => vec![Item::Month],
        'd' => vec![Item::Day],
        'e' => vec![Item::DaySpace],
        'H' => vec![Item::Hour],
        'I' => vec![Item::Hour12],
        'M' => vec![Item::Minute],
        'S' => vec![Item::Second],
        'p' => vec![Item::AmPm],
        'j' => vec![Item::DayOfYear],
        'a' => vec![Item::WeekdayShort],
        'A' => vec![Item::WeekdayLong],
        'u' => vec![Item::WeekdayNum],
        'b' | 'h' => vec![Item::MonthShort],
        'B' => vec![Item::MonthLong],
        'z' => vec![Item::Offset],
        'Z' => vec![Item::OffsetColon],
        's' => vec![Item::Epoch],
        'F' => vec![Item::Year, lit("-"), Item::Month, lit("-"), Item::Day],
        'T' => vec![Item::Hour, lit(":"), Item::Minute, lit(":"), Item::Second],
        'R' => vec![Item::Hour, lit(":"), Item::Minute],
        'D' => vec![Item::Month, lit("/"), Item::Day, lit("/"), Item::Year2],
        _ => return None,
    })
}

/// The instant `second` + `nanos` after the epoch (the epoch itself if
/// out of `time`'s range, as a record's `timestamp` falls back to).
fn instant(second: i64, nanos: u32) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(second)
        .and_then(|t| t.replace_nanosecond(nanos))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The fraction of a second with `digits` places (3, 6 or 9), truncated.
fn push_frac(nanos: u32, digits: u8, out: &mut String) {
    match digits {
        3 => text::push_padded(out, nanos / 1_000_000, 3),
        9 => text::push_padded(out, nanos, 9),
        _ => text::push_padded(out, nanos / 1_000, 6),
    }
}

fn render_item(item: &Item, t: OffsetDateTime, out: &mut String) {
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    // Writing into a String cannot fail.
    let _ = match item {
        Item::Lit(s) => {
            out.push_str(s);
            Ok(())
        }
        Item::Year => write!(out, "{:04}", t.year()),
        Item::Year2 => write!(out, "{:02}", t.year().rem_euclid(100)),
        Item::Month => write!(out, "{:02}", u8::from(t.month())),
        Item::Day => write!(out, "{:02}", t.day()),
        Item::DaySpace => write!(out, "{:2}", t.day()),
        Item::Hour => write!(out, "{:02}", t.hour()),
        Item::Hour12 => write!(out, "{hour12:02}"),
        Item::Minute => write!(out, "{:02}", t.minute()),
        Item::Second => write!(out, "{:02}", t.second()),
        Item::Frac(n) => {
            push_frac(t.nanosecond(), *n, out);
            Ok(())
        }
        Item::AmPm => {
            out.push_str(if t.hour() < 12 { "AM" } else { "PM" });
            Ok(())
        }
        Item::DayOfYear => write!(out, "{:03}", t.ordinal()),
        Item::WeekdayShort => {
            out.push_str(&WEEKDAYS[usize::from(t.weekday().number_days_from_monday())][..3]);
            Ok(())
        }
        Item::WeekdayLong => {
            out.push_str(WEEKDAYS[usize::from(t.weekday().number_days_from_monday())]);
            Ok(())
        }
        Item::WeekdayNum => write!(out, "{}", t.weekday().number_from_monday()),
        Item::MonthShort => {
            out.push_str(&MONTHS[usize::from(u8::from(t.month()) - 1)][..3]);
            Ok(())
        }
        Item::MonthLong => {
            out.push_str(MONTHS[usize::from(u8::from(t.month()) - 1)]);
            Ok(())
        }
        Item::Offset | Item::OffsetColon => {
            let off = t.offset();
            let sign = if off.is_negative() { '-' } else { '+' };
            let (h, m) = (
                off.whole_hours().unsigned_abs(),
                off.minutes_past_hour().unsigned_abs(),
            );
            if matches!(item, Item::Offset) {
                write!(out, "{sign}{h:02}{m:02}")
            } else {
                write!(out, "{sign}{h:02}:{m:02}")
            }
        }
        Item::Epoch => write!(out, "{}", t.unix_timestamp()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn render(fmt: &str, t: OffsetDateTime, zone: &Zone) -> String {
        let f = DateFormat::compile(fmt).expect("compiles");
        let mut s = String::new();
        f.render(t, zone, &mut s);
        s
    }

    #[test]
    fn acrilog_datefmt_with_microseconds() {
        let t = datetime!(2016-12-19 11:39:44.953189 UTC);
        assert_eq!(
            render("%Y-%m-%d,%H:%M:%S.%f", t, &Zone::utc()),
            "2016-12-19,11:39:44.953189"
        );
    }

    #[test]
    fn every_directive() {
        let t = datetime!(2024-03-05 21:07:09.123456789 UTC);
        let z = Zone::utc();
        assert_eq!(
            render(
                "%y|%e|%I%p|%j|%a %A|%u|%b %B %h|%z %:z|%s|%F %T|%D %R|%3f %9f|100%%",
                t,
                &z
            ),
            "24| 5|09PM|065|Tue Tuesday|2|Mar March Mar|+0000 +00:00|1709672829|2024-03-05 21:07:09|03/05/24 21:07|123 123456789|100%"
        );
    }

    #[test]
    fn cache_serves_the_same_second_and_changes_with_it() {
        let f = DateFormat::compile("%H:%M:%S.%f").expect("compiles");
        assert!(f.has_frac());
        let z = Zone::utc();
        let mut out = String::new();
        for (t, want) in [
            (datetime!(2024-01-01 00:00:01.000001 UTC), "00:00:01.000001"),
            (datetime!(2024-01-01 00:00:01.999999 UTC), "00:00:01.999999"),
            (datetime!(2024-01-01 00:00:02.5 UTC), "00:00:02.500000"),
            (datetime!(2024-01-01 00:00:01.25 UTC), "00:00:01.250000"),
        ] {
            out.clear();
            f.render(t, &z, &mut out);
            assert_eq!(out, want);
        }
    }

    /// Every directive rendered from the `OffsetDateTime` directly, the
    /// fraction with `write!` as it was written before the cache: what
    /// the cached, `fmt`-free rendering must equal.
    fn direct(f: &DateFormat, t: OffsetDateTime, zone: &Zone) -> String {
        let local = zone.to_local(t);
        let mut out = String::new();
        for item in &f.items {
            match item {
                Item::Frac(3) => write!(out, "{:03}", t.nanosecond() / 1_000_000),
                Item::Frac(9) => write!(out, "{:09}", t.nanosecond()),
                Item::Frac(_) => write!(out, "{:06}", t.nanosecond() / 1_000),
                other => {
                    render_item(other, local, &mut out);
                    Ok(())
                }
            }
            .expect("into a String");
        }
        out
    }

    proptest::proptest! {
        /// Random instants (before the epoch too), in UTC and a zone with
        /// DST, rendered twice in a row (the second from the cache) and
        /// after another second: as the direct rendering.
        #[test]
        fn cached_rendering_matches_the_direct_one(
            second in -5_000_000_000i64..5_000_000_000,
            nanos in 0u32..1_000_000_000,
            other in 0u32..1_000_000_000,
            fmt in proptest::sample::select(vec![
                "%Y-%m-%d,%H:%M:%S.%f",
                "%3f|%6f|%9f|%f",
                "%s.%9f %F %T %z %:z %a %b %j %I%p %e %y %u",
            ]),
        ) {
            let f = DateFormat::compile(fmt).expect("compiles");
            let cet = Zone::from_posix_tz("CET-1CEST,M3.5.0,M10.5.0/3").expect("valid TZ");
            for zone in [Zone::utc(), cet] {
                for (s, n) in [(second, nanos), (second, other), (second + 1, nanos)] {
                    let t = instant(s, n);
                    let mut out = String::new();
                    f.render_unix(s, n, &zone, &mut out);
                    proptest::prop_assert_eq!(&out, &direct(&f, t, &zone));
                }
            }
        }
    }

    #[test]
    fn unsupported_directive_is_named() {
        let e = DateFormat::compile("%Y %Q").expect_err("refused");
        assert_eq!(e.at, 3);
        assert!(e.what.contains("`%Q`"), "{e}");
        assert!(DateFormat::compile("%").is_err());
        assert!(DateFormat::compile("%4f").is_err());
    }

    #[test]
    fn local_time_follows_dst() {
        let z = Zone::from_posix_tz("CET-1CEST,M3.5.0,M10.5.0/3").expect("valid TZ");
        // 2024-03-31 00:59:59 UTC is 01:59:59 CET; one second later clocks jump to 03:00:00 CEST.
        assert_eq!(
            render("%H:%M:%S %z", datetime!(2024-03-31 00:59:59 UTC), &z),
            "01:59:59 +0100"
        );
        assert_eq!(
            render("%H:%M:%S %z", datetime!(2024-03-31 01:00:00 UTC), &z),
            "03:00:00 +0200"
        );
    }
}
