//! `mplog-sink` follows `TZ` in its own environment, as glibc and Python's
//! `logging` do: the offset written by `%z` is the one `TZ` names. `TZ` is
//! set on the child process only, never in this test process.
#![cfg(unix)]

mod support;

use std::path::Path;
use std::process::Command;

use mplog_test_support::Scratch;
use support::cli::{Place, bin, start};
use support::send_events;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const DATEFMT: &str = "%Y-%m-%dT%H:%M:%S%:z";

/// Runs the sink with `TZ=tz`, sends one event, stops the sink, and returns
/// the written line together with the instants just before and after.
fn line_with_tz(tz: &str) -> (String, OffsetDateTime, OffsetDateTime) {
    let place = Place::new();
    let endpoint = &place.endpoint;
    let sink = start(
        place.path(),
        &[
            "--listen",
            endpoint,
            "--logdir",
            &place.logdir,
            "--name",
            "all",
            "--consolidate",
            "--process-key",
            "none",
            "--datefmt",
            DATEFMT,
            "--format",
            "default=%(asctime)s %(message)s",
        ],
        &[("TZ", tz)],
    );
    sink.wait_line(&format!("listening on {endpoint}"));
    let before = OffsetDateTime::now_utc();
    send_events(endpoint, "w", || tracing::info!("hello"));
    let after = OffsetDateTime::now_utc();
    sink.signal(libc::SIGTERM);
    let (status, stderr) = sink.wait_exit();
    assert!(status.success(), "sink failed: {stderr}");
    let text = place.read_log("all.log");
    let line = text
        .lines()
        .find(|l| l.ends_with(" hello"))
        .unwrap_or_else(|| panic!("no event line in:\n{text}"))
        .to_owned();
    (line, before, after)
}

/// The date of `line` (`2026-01-02T03:04:05+03:00 hello`), parsed.
fn date_of(line: &str) -> OffsetDateTime {
    let (date, _) = line.split_once(' ').expect("date, space, message");
    OffsetDateTime::parse(date, &Rfc3339).unwrap_or_else(|e| panic!("{date:?}: {e}"))
}

/// The line's date is in the offset `TZ` gives, and is the event's instant
/// (seconds, so within the second before `before` and `after`).
fn assert_local(line: &str, offsets: &[&str], before: OffsetDateTime, after: OffsetDateTime) {
    let date = date_of(line);
    let shown = &line[19..25];
    assert!(
        offsets.contains(&shown),
        "offset {shown} not in {offsets:?}: {line}"
    );
    let second = time::Duration::seconds(1);
    assert!(
        date >= before - second && date <= after + second,
        "{line}: not between {before} and {after}"
    );
}

#[test]
fn posix_rule_in_tz_sets_the_offset() {
    let (line, before, after) = line_with_tz("XYZ-3");
    assert_local(&line, &["+03:00"], before, after);
}

#[test]
fn empty_tz_is_utc() {
    let (line, before, after) = line_with_tz("");
    assert_local(&line, &["+00:00"], before, after);
}

/// What Python's `zoneinfo` says the offset of `zone` is now, as `+HH:MM`;
/// `None` (with a message) when `python3` or its tzdata is missing.
fn python_offset_now(zone: &str) -> Option<String> {
    let script = format!(
        "import datetime, zoneinfo\n\
         z = zoneinfo.ZoneInfo({zone:?})\n\
         o = datetime.datetime.now(z).strftime('%z')\n\
         print(o[:3] + ':' + o[3:])"
    );
    match Command::new("python3").args(["-c", &script]).output() {
        Ok(out) if out.status.success() => {
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        Ok(out) => {
            eprintln!(
                "python3 cannot tell the offset of {zone}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("no python3 ({e}): accepting either offset of {zone}");
            None
        }
    }
}

#[test]
fn zone_name_in_tz_sets_the_offset() {
    let zone = "America/New_York";
    if !Path::new("/usr/share/zoneinfo").join(zone).is_file() {
        eprintln!("skipped: no tzdata for {zone} in /usr/share/zoneinfo");
        return;
    }
    let (line, before, after) = line_with_tz(zone);
    match python_offset_now(zone) {
        // A DST change between the two readings is possible, but only
        // twice a year for one second: accept both offsets then.
        Some(offset) => {
            let other = if offset == "-05:00" {
                "-04:00"
            } else {
                "-05:00"
            };
            let at_change = date_of(&line).hour() < 3;
            let allowed: Vec<&str> = if at_change {
                vec![&offset, other]
            } else {
                vec![&offset]
            };
            assert_local(&line, &allowed, before, after);
        }
        None => assert_local(&line, &["-05:00", "-04:00"], before, after),
    }
}

#[test]
fn unknown_zone_in_tz_stops_the_sink_naming_it() {
    let dir = Scratch::new();
    let endpoint = dir.unix_endpoint();
    let out = bin()
        .args(["--listen", &endpoint, "--logdir", "logs"])
        .current_dir(dir.path())
        .env("TZ", "Mars/Olympus_Mons")
        .output()
        .expect("run mplog-sink");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("mplog-sink: TZ=\"Mars/Olympus_Mons\": no zone"),
        "{stderr}"
    );
    assert!(stderr.contains("or pass --utc"), "{stderr}");
    assert!(!dir.socket().exists());

    // With --utc the zone is never read, so the same TZ is no obstacle.
    let sink = start(
        dir.path(),
        &["--listen", &endpoint, "--logdir", "logs", "--utc"],
        &[("TZ", "Mars/Olympus_Mons")],
    );
    sink.wait_line(&format!("listening on {endpoint}"));
    sink.signal(libc::SIGTERM);
    let (status, stderr) = sink.wait_exit();
    assert!(status.success(), "{stderr}");
}

/// The child half of [`local_or_utc_warns_once_and_uses_utc`], run in a
/// process of its own with `TZ` set there; does nothing in the normal run.
#[test]
fn child_calls_local_or_utc_twice() {
    if std::env::var_os("ZONE_TZ_CHILD").is_none() {
        return;
    }
    let first = tracing_mplog_sink::zone::Zone::local_or_utc();
    let second = tracing_mplog_sink::zone::Zone::local_or_utc();
    assert!(first.is_utc() && second.is_utc());
}

/// The library's fallback (what `Sink::builder()` and
/// `LevelFormatter::builder()` use by default): an unknown `TZ` gives UTC,
/// said once on stderr however often the zone is read.
#[test]
fn local_or_utc_warns_once_and_uses_utc() {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_calls_local_or_utc_twice",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZONE_TZ_CHILD", "1")
        .env("TZ", "Mars/Olympus_Mons")
        .output()
        .expect("run the child test");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed: {stderr}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("tracing-mplog-sink: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].starts_with("tracing-mplog-sink: TZ=\"Mars/Olympus_Mons\": no zone")
            && warnings[0].ends_with("; dates and rotation use UTC"),
        "{stderr}"
    );
}
