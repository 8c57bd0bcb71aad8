//! Reading `TZ` (and `TZDIR`) as glibc's `tzset` does, so the sink shows the
//! same local time as a Python program (whose `time` module asks glibc) run
//! with the same environment.
//!
//! | `TZ` | Zone |
//! |---|---|
//! | unset | `/etc/localtime`; UTC when that file does not exist |
//! | empty, or `:` alone | UTC (glibc's `"Universal"`) |
//! | `:NAME` or `NAME` | the TZif file `NAME` under `TZDIR` (when set and not empty) or the system folders (`/usr/share/zoneinfo`, …) |
//! | `:/PATH` or `/PATH` | the TZif file at `PATH` |
//! | anything else | a POSIX rule: `EST5EDT,M3.2.0,M11.1.0`, `XYZ-3` |
//!
//! A file that is missing or unreadable falls through to the POSIX rule, as
//! in glibc; `UTC`, `GMT` and their aliases mean UTC even without tzdata.
//! What glibc would silently turn into UTC (a value that is no file and no
//! rule) is an error here, naming the variable and its value.

use std::ffi::OsStr;
use std::path::Path;

use super::ZoneError;

/// Where tz-rs looks for zone names when `TZDIR` does not say.
const SYSTEM_DIRS: &[&str] = tz::TimeZoneSettings::DEFAULT_DIRECTORIES;

/// The file read when `TZ` is unset (glibc's `TZDEFAULT`).
pub(super) const TZDEFAULT: &str = "/etc/localtime";

/// Names that mean UTC even when no tzdata is installed (glibc's parser
/// also accepts a bare name without offset as UTC).
const UTC_NAMES: &[&str] = &[
    "UTC",
    "UCT",
    "GMT",
    "Universal",
    "Zulu",
    "Etc/UTC",
    "Etc/UCT",
    "Etc/GMT",
    "Etc/Universal",
    "Etc/Zulu",
];

/// What the environment asks for.
pub(super) enum Resolved {
    /// UTC.
    Utc,
    /// A rule set, with the description shown by `Debug`.
    Rules(String, tz::TimeZone),
}

/// Resolves the values of `TZ` and `TZDIR` (as read from the environment;
/// `None` when unset).
pub(super) fn resolve(
    tz_var: Option<&OsStr>,
    tzdir_var: Option<&OsStr>,
) -> Result<Resolved, ZoneError> {
    let Some(raw) = tz_var else {
        return match std::fs::read(TZDEFAULT) {
            Ok(bytes) => tz::TimeZone::from_tz_data(&bytes)
                .map(|tz| Resolved::Rules(TZDEFAULT.to_owned(), tz))
                .map_err(|e| ZoneError::new(TZDEFAULT, format!("not a TZif file: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Resolved::Utc),
            Err(e) => Err(ZoneError::new(TZDEFAULT, format!("cannot read: {e}"))),
        };
    };
    let value = raw
        .to_str()
        .ok_or_else(|| ZoneError::env(&raw.to_string_lossy(), "not valid UTF-8".to_owned()))?;
    let tzdir = tzdir_var.and_then(OsStr::to_str).filter(|d| !d.is_empty());
    resolve_spec(value, tzdir).map_err(|reason| ZoneError::env(value, reason))
}

/// Resolves one `TZ` value; the error is the reason, for the caller to wrap.
pub(super) fn resolve_spec(value: &str, tzdir: Option<&str>) -> Result<Resolved, String> {
    let spec = value.strip_prefix(':').unwrap_or(value);
    if spec.is_empty() {
        return Ok(Resolved::Utc);
    }
    let file = if spec.starts_with('/') {
        Some((spec.to_owned(), std::fs::read(spec)))
    } else {
        let dirs: Vec<&str> = match tzdir {
            Some(dir) => vec![dir],
            None => SYSTEM_DIRS.to_vec(),
        };
        dirs.iter()
            .map(|dir| {
                let path = Path::new(dir).join(spec);
                (path.display().to_string(), std::fs::read(&path))
            })
            .find(|(_, read)| read.is_ok())
    };
    if let Some((path, Ok(bytes))) = file {
        return tz::TimeZone::from_tz_data(&bytes)
            .map(|tz| Resolved::Rules(format!("{value} ({path})"), tz))
            .map_err(|e| format!("{path} is not a TZif file: {e}"));
    }
    if UTC_NAMES.contains(&spec) {
        return Ok(Resolved::Utc);
    }
    // No file: a POSIX rule. A settings value that reads no file makes tz-rs
    // parse the string as a rule only.
    let rules_only = tz::TimeZoneSettings::new(&[], |_| Err("no file lookup".into()));
    match rules_only.parse_posix_tz(spec) {
        Ok(tz) => Ok(Resolved::Rules(value.to_owned(), tz)),
        Err(e) => {
            let place = match (spec.starts_with('/'), tzdir) {
                (true, _) => format!("no readable file {spec}"),
                (false, Some(dir)) => format!("no zone {spec:?} under TZDIR={dir}"),
                (false, None) => format!("no zone {spec:?} under {}", SYSTEM_DIRS.join(", ")),
            };
            Err(format!("{place}, and not a POSIX TZ rule ({e})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(r: Resolved) -> tz::TimeZone {
        match r {
            Resolved::Rules(_, tz) => tz,
            Resolved::Utc => panic!("expected rules, got UTC"),
        }
    }

    fn offset_at(tz: &tz::TimeZone, unix: i64) -> i32 {
        tz.find_local_time_type(unix)
            .expect("offset for the instant")
            .ut_offset()
    }

    /// 2024-01-15 12:00 UTC and 2024-07-15 12:00 UTC.
    const WINTER: i64 = 1_705_320_000;
    const SUMMER: i64 = 1_721_044_800;

    #[test]
    fn posix_rules() {
        let fixed = rules(resolve_spec("XYZ-3", None).expect("fixed rule"));
        assert_eq!(offset_at(&fixed, WINTER), 3 * 3600);
        let eastern = rules(resolve_spec("EST5EDT,M3.2.0,M11.1.0", None).expect("DST rule"));
        assert_eq!(offset_at(&eastern, WINTER), -5 * 3600);
        assert_eq!(offset_at(&eastern, SUMMER), -4 * 3600);
        // A rule behind a colon, as glibc reads it when no file has the name.
        let colon = rules(resolve_spec(":XYZ-3", Some("/nonexistent")).expect("rule"));
        assert_eq!(offset_at(&colon, WINTER), 3 * 3600);
    }

    #[test]
    fn empty_means_utc() {
        assert!(matches!(resolve_spec("", None), Ok(Resolved::Utc)));
        assert!(matches!(resolve_spec(":", None), Ok(Resolved::Utc)));
        assert!(matches!(
            resolve(Some(OsStr::new("")), None),
            Ok(Resolved::Utc)
        ));
    }

    #[test]
    fn utc_names_without_tzdata() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tzdir = dir.path().to_str().expect("UTF-8 temp path");
        for name in ["UTC", ":UTC", "GMT", "Etc/UTC"] {
            assert!(
                matches!(resolve_spec(name, Some(tzdir)), Ok(Resolved::Utc)),
                "{name}"
            );
        }
    }

    /// A zone file of the system's tzdata, or `None` (with a message) where
    /// none is installed.
    fn system_zone(name: &str) -> Option<std::path::PathBuf> {
        let found = SYSTEM_DIRS
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file());
        if found.is_none() {
            eprintln!("skipped: no tzdata file for {name} on this machine");
        }
        found
    }

    #[test]
    fn names_under_the_system_folders() {
        if system_zone("America/New_York").is_none() {
            return;
        }
        for value in ["America/New_York", ":America/New_York"] {
            let ny = rules(resolve_spec(value, None).expect("named zone"));
            assert_eq!(offset_at(&ny, WINTER), -5 * 3600, "{value}");
            assert_eq!(offset_at(&ny, SUMMER), -4 * 3600, "{value}");
        }
    }

    #[test]
    fn paths_and_tzdir() {
        let Some(source) = system_zone("Asia/Kolkata") else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("Test")).expect("mkdir");
        let copy = dir.path().join("Test/Zone");
        std::fs::copy(&source, &copy).expect("copy zone file");
        let path = copy.to_str().expect("UTF-8 temp path");
        let ist = 5 * 3600 + 1800;
        for value in [path.to_owned(), format!(":{path}")] {
            let z = rules(resolve_spec(&value, None).expect("zone file by path"));
            assert_eq!(offset_at(&z, SUMMER), ist, "{value}");
        }
        // TZDIR replaces the system folders, as in glibc.
        let tzdir = dir.path().to_str().expect("UTF-8 temp path");
        let z = rules(resolve_spec("Test/Zone", Some(tzdir)).expect("name under TZDIR"));
        assert_eq!(offset_at(&z, WINTER), ist);
        let e = resolve_spec("Asia/Kolkata", Some(tzdir))
            .err()
            .expect("not under TZDIR");
        assert!(e.contains("under TZDIR="), "{e}");
    }

    #[test]
    fn unresolvable_values_are_errors_naming_them() {
        let e = resolve(Some(OsStr::new("Mars/Olympus_Mons")), None)
            .err()
            .expect("no such zone");
        let text = e.to_string();
        assert!(text.contains("TZ=\"Mars/Olympus_Mons\""), "{text}");
        assert!(text.contains("not a POSIX TZ rule"), "{text}");
        let e = resolve_spec("/nonexistent/zone", None)
            .err()
            .expect("no such file");
        assert!(e.contains("no readable file /nonexistent/zone"), "{e}");
        assert!(resolve_spec("../../etc/passwd", None).is_err());
        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"not a zone file").expect("write");
        let e = resolve_spec(junk.to_str().expect("UTF-8"), None)
            .err()
            .expect("not TZif");
        assert!(e.contains("is not a TZif file"), "{e}");
    }
}
