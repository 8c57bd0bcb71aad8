//! Parsers for the values of flags and config keys.
//!
//! Each returns the reason as a `String` on failure; the caller (clap for a
//! flag, [`crate::config`] for a config key) adds the flag or key and the
//! value, so every message names both.

use std::str::FromStr;
use std::time::Duration;

use time::Time;
use tracing::Level;
use tracing_mplog_sink::format::LineFormat;
use tracing_mplog_sink::rotate::{FileMode, When};
use tracing_mplog_sink::{FormatLevel, ProcessKey};

/// One `--process-key` value: a key, or `none` (no per-key files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyArg {
    /// Per-key files by this record attribute.
    Key(ProcessKey),
    /// No per-key files at all.
    None,
}

/// `name|pid|target|host|none`, any case.
pub(crate) fn parse_process_key(text: &str) -> Result<KeyArg, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(KeyArg::None);
    }
    ProcessKey::from_str(text.trim())
        .map(KeyArg::Key)
        .map_err(|_| "expected name, pid, target, host or none".to_owned())
}

/// Turns the keys given (in order) into the list for the sink: `none` alone
/// means no per-key files; `none` with others, or a key twice, is refused.
pub(crate) fn resolve_process_keys(args: &[KeyArg]) -> Result<Vec<ProcessKey>, String> {
    if args.contains(&KeyArg::None) {
        if args.len() > 1 {
            return Err("`none` cannot be combined with other keys".to_owned());
        }
        return Ok(Vec::new());
    }
    let mut keys = Vec::with_capacity(args.len());
    for arg in args {
        if let KeyArg::Key(key) = *arg {
            if keys.contains(&key) {
                return Err(format!("key `{key}` given twice"));
            }
            keys.push(key);
        }
    }
    Ok(keys)
}

/// `10M` → (`10`, `M`): the leading digits and what follows them.
fn number_and_unit(text: &str) -> (&str, &str) {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(digits_end)
}

/// A byte count: plain bytes, or a `K`, `M`, `G` suffix (powers of 1024,
/// like logrotate's `size 100k`), with an optional `i` and/or `B`, any case:
/// `10M` == `10MiB` == `10mb` == 10 485 760. `0` means no size limit.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, unit) = number_and_unit(text);
    if digits.is_empty() {
        return Err(
            "expected a whole number of bytes, optionally with K, M or G (e.g. 10M)".into(),
        );
    }
    let unit = unit.trim_start();
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "ki" | "kib" => 1 << 10,
        "m" | "mb" | "mi" | "mib" => 1 << 20,
        "g" | "gb" | "gi" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown unit `{unit}`: use no unit (bytes), K, M or G (optionally KiB/KB, …)"
            ));
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "the number is too large".to_owned())?;
    n.checked_mul(multiplier)
        .ok_or_else(|| "the size does not fit in 64 bits".to_owned())
}

/// A duration: a whole number with a unit `s`, `m`, `h`, `d` or `w` (also
/// spelled out: `sec`, `min`, `hour`, `day`, `week`, plural or not); a plain
/// number is seconds. Must be longer than zero.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let (digits, unit) = number_and_unit(text);
    if digits.is_empty() {
        return Err("expected a whole number with a unit s, m, h, d or w (e.g. 7d)".into());
    }
    let unit = unit.trim_start();
    let unit_seconds: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        _ => return Err(format!("unknown unit `{unit}`: use s, m, h, d or w")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "the number is too large".to_owned())?;
    let seconds = n
        .checked_mul(unit_seconds)
        .ok_or_else(|| "the duration is too long".to_owned())?;
    if seconds == 0 {
        return Err("must be longer than zero (leave it out for no age limit)".into());
    }
    Ok(Duration::from_secs(seconds))
}

/// A time of day, `HH:MM` or `HH:MM:SS` (24-hour clock).
pub(crate) fn parse_at_time(text: &str) -> Result<Time, String> {
    const EXPECTED: &str = "expected HH:MM or HH:MM:SS (24-hour clock)";
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(EXPECTED.into());
    }
    let mut numbers = [0u8; 3];
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EXPECTED.into());
        }
        *slot = part.parse().map_err(|_| EXPECTED.to_owned())?;
    }
    let [h, m, s] = numbers;
    Time::from_hms(h, m, s).map_err(|_| format!("{EXPECTED}: hour 0-23, minute and second 0-59"))
}

/// One `--format` value, `LEVEL=TEMPLATE`; LEVEL is
/// `trace|debug|info|warn|error|default`.
pub(crate) fn parse_format(text: &str) -> Result<FormatArg, String> {
    let Some((level, template)) = text.split_once('=') else {
        return text.parse().map(FormatArg::Lines).map_err(|_| {
            "expected json, text or LEVEL=TEMPLATE, e.g. info=%(asctime)s %(message)s".into()
        });
    };
    let level = parse_format_level(level)?;
    Ok(FormatArg::Template(level, template.to_owned()))
}

/// One `--format` value (or the config file's `format`): a level's
/// template, or how the lines are written (`json`, `text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FormatArg {
    Template(FormatLevel, String),
    Lines(LineFormat),
}

/// `trace|debug|info|warn|error|default`, any case.
pub(crate) fn parse_format_level(text: &str) -> Result<FormatLevel, String> {
    FormatLevel::from_str(text.trim()).map_err(|_| {
        format!("unknown level `{text}`: expected trace, debug, info, warn, error or default")
    })
}

/// The threshold: `trace|debug|info|warn|error`, any case (`warning` too).
pub(crate) fn parse_level(text: &str) -> Result<Level, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "trace" => Ok(Level::TRACE),
        "debug" => Ok(Level::DEBUG),
        "info" => Ok(Level::INFO),
        "warn" | "warning" => Ok(Level::WARN),
        "error" => Ok(Level::ERROR),
        _ => Err("expected trace, debug, info, warn or error".into()),
    }
}

/// `append|truncate`, any case.
pub(crate) fn parse_file_mode(text: &str) -> Result<FileMode, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "append" => Ok(FileMode::Append),
        "truncate" => Ok(FileMode::Truncate),
        _ => Err("expected append or truncate".into()),
    }
}

/// `S|M|H|D|midnight|W0..W6|never`, any case (`rotate::When`'s parser).
pub(crate) fn parse_when(text: &str) -> Result<When, String> {
    When::from_str(text).map_err(|_| "expected S, M, H, D, midnight, W0..W6 or never".to_owned())
}

/// The rotation interval: a whole number ≥ 1.
pub(crate) fn parse_interval(text: &str) -> Result<u32, String> {
    let n: u32 = text
        .trim()
        .parse()
        .map_err(|_| "expected a whole number ≥ 1".to_owned())?;
    check_interval(n.into())
}

/// `--max-connections` and `--max-open-files`: a whole number ≥ 1.
pub(crate) fn parse_max_connections(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".into()),
    }
}

/// An interval from a number (the config file gives integers).
pub(crate) fn check_interval(n: i64) -> Result<u32, String> {
    match u32::try_from(n) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".into()),
    }
}

/// The number of rotated files to keep (0 = all).
pub(crate) fn parse_backup_count(text: &str) -> Result<usize, String> {
    text.trim()
        .parse()
        .map_err(|_| "expected a whole number ≥ 0 (0 keeps all)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_every_suffix_as_powers_of_1024() {
        let cases = [
            ("0", 0),
            ("1234", 1234),
            ("7b", 7),
            ("7B", 7),
            ("1k", 1024),
            ("1K", 1024),
            ("1kb", 1024),
            ("1KB", 1024),
            ("1Ki", 1024),
            ("1KiB", 1024),
            ("1kib", 1024),
            ("10M", 10 << 20),
            ("10m", 10 << 20),
            ("10MB", 10 << 20),
            ("10MiB", 10 << 20),
            ("10 MiB", 10 << 20),
            ("3G", 3 << 30),
            ("3gb", 3 << 30),
            ("3GiB", 3 << 30),
            (" 5k ", 5 << 10),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text), Ok(want), "{text:?}");
        }
        assert_eq!(parse_size("10M"), parse_size("10MiB"));
    }

    #[test]
    fn bad_sizes_say_why() {
        for bad in ["", "M", "-1", "1.5M", "10T", "10MiBs", "x"] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_size("10T").expect_err("refused").contains("`T`"));
        assert!(parse_size("99999999999999999999").is_err());
        assert!(
            parse_size("17179869184G")
                .expect_err("refused")
                .contains("64 bits")
        );
    }

    #[test]
    fn durations_take_every_unit() {
        let cases = [
            ("45", 45),
            ("30s", 30),
            ("30sec", 30),
            ("15m", 15 * 60),
            ("15min", 15 * 60),
            ("12h", 12 * 3600),
            ("12 hours", 12 * 3600),
            ("7d", 7 * 86_400),
            ("1day", 86_400),
            ("2w", 14 * 86_400),
            ("2W", 14 * 86_400),
        ];
        for (text, secs) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text:?}"
            );
        }
        for bad in ["", "d", "0", "0d", "1y", "1.5h", "-3s", "3ms"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_duration("0s").expect_err("refused").contains("zero"));
    }

    #[test]
    fn at_time_takes_hh_mm_with_optional_seconds() {
        assert_eq!(
            parse_at_time("03:30"),
            Time::from_hms(3, 30, 0).map_err(|e| e.to_string())
        );
        assert_eq!(
            parse_at_time("23:59:58"),
            Time::from_hms(23, 59, 58).map_err(|e| e.to_string())
        );
        assert_eq!(
            parse_at_time("0:05"),
            Time::from_hms(0, 5, 0).map_err(|e| e.to_string())
        );
        for bad in [
            "",
            "3",
            "24:00",
            "12:60",
            "12:00:60",
            "12:00:00:00",
            "ab:cd",
            "12:",
            "+1:00",
            "123:00",
        ] {
            assert!(parse_at_time(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn process_keys_and_none() {
        assert_eq!(parse_process_key("name"), Ok(KeyArg::Key(ProcessKey::Name)));
        assert_eq!(parse_process_key("PID"), Ok(KeyArg::Key(ProcessKey::Pid)));
        assert_eq!(
            parse_process_key("target"),
            Ok(KeyArg::Key(ProcessKey::Target))
        );
        assert_eq!(parse_process_key("Host"), Ok(KeyArg::Key(ProcessKey::Host)));
        assert_eq!(parse_process_key("none"), Ok(KeyArg::None));
        assert!(parse_process_key("thread").is_err());

        let k = |s: &str| parse_process_key(s).expect("valid key");
        assert_eq!(resolve_process_keys(&[k("none")]), Ok(vec![]));
        assert_eq!(
            resolve_process_keys(&[k("pid"), k("name")]),
            Ok(vec![ProcessKey::Pid, ProcessKey::Name])
        );
        assert!(
            resolve_process_keys(&[k("none"), k("pid")])
                .expect_err("refused")
                .contains("none")
        );
        assert!(
            resolve_process_keys(&[k("pid"), k("pid")])
                .expect_err("refused")
                .contains("twice")
        );
    }

    #[test]
    fn formats_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_format("info=%(message)s a=b"),
            Ok(FormatArg::Template(
                FormatLevel::Info,
                "%(message)s a=b".to_owned()
            ))
        );
        assert_eq!(
            parse_format("DEFAULT={message}"),
            Ok(FormatArg::Template(
                FormatLevel::Default,
                "{message}".to_owned()
            ))
        );
        assert_eq!(
            parse_format("error="),
            Ok(FormatArg::Template(FormatLevel::Error, String::new()))
        );
        assert!(
            parse_format("info")
                .expect_err("refused")
                .contains("LEVEL=TEMPLATE")
        );
        assert_eq!(parse_format("json"), Ok(FormatArg::Lines(LineFormat::Json)));
        assert_eq!(parse_format("Text"), Ok(FormatArg::Lines(LineFormat::Text)));
        assert!(
            parse_format("fatal=x")
                .expect_err("refused")
                .contains("`fatal`")
        );
    }

    #[test]
    fn small_parsers() {
        assert_eq!(parse_level("WARNING"), Ok(Level::WARN));
        assert_eq!(parse_level("debug"), Ok(Level::DEBUG));
        assert!(parse_level("default").is_err());
        assert_eq!(parse_file_mode("Truncate"), Ok(FileMode::Truncate));
        assert!(parse_file_mode("w").is_err());
        assert_eq!(parse_when("w6"), Ok(When::Weekday(time::Weekday::Sunday)));
        assert_eq!(parse_when("midnight"), Ok(When::Midnight));
        assert!(parse_when("W7").is_err());
        assert_eq!(parse_interval("3"), Ok(3));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("-1").is_err());
        assert_eq!(check_interval(i64::from(u32::MAX) + 1).ok(), None);
        assert_eq!(parse_backup_count("0"), Ok(0));
        assert!(parse_backup_count("-2").is_err());
    }
}
