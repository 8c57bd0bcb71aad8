//! Time and size rotation of `RotatingFile` with real files and a fake clock.

mod support;

use std::fs;

use support::rotate::{Setup, expect, leave_file, write};
use time::macros::{datetime, offset, time};
use time::{Duration, OffsetDateTime, Time, Weekday};
use tracing_mplog_sink::rotate::{FileMode, When};
use tracing_mplog_sink::zone::Zone;

struct Case {
    when: When,
    interval: u32,
    at: Option<Time>,
    start: OffsetDateTime,
    boundary: OffsetDateTime,
    rotated: &'static str,
}

/// For each `when`: a record at `start` and one just before `boundary` share
/// a file; the record at `boundary` starts a new one, and the old one is
/// named after its period's start.
#[test]
fn every_when_rotates_at_its_boundary_and_not_before() {
    let c = |when, interval, at, start, boundary, rotated| Case {
        when,
        interval,
        at,
        start,
        boundary,
        rotated,
    };
    // when, interval, at_time, first record, boundary, the rotated file's stamp
    #[rustfmt::skip]
    let cases = [
        c(When::Seconds, 1, None, datetime!(2024-01-01 12:00:00.1 UTC), datetime!(2024-01-01 12:00:01 UTC), "2024-01-01_12-00-00"),
        c(When::Seconds, 10, None, datetime!(2024-01-01 12:00:03 UTC), datetime!(2024-01-01 12:00:10 UTC), "2024-01-01_12-00-00"),
        c(When::Minutes, 1, None, datetime!(2024-01-01 12:34:10 UTC), datetime!(2024-01-01 12:35 UTC), "2024-01-01_12-34-00"),
        c(When::Minutes, 15, None, datetime!(2024-01-01 12:34 UTC), datetime!(2024-01-01 12:45 UTC), "2024-01-01_12-30-00"),
        c(When::Hours, 1, None, datetime!(2024-01-01 12:34 UTC), datetime!(2024-01-01 13:00 UTC), "2024-01-01_12-00-00"),
        c(When::Hours, 6, None, datetime!(2024-01-01 13:00 UTC), datetime!(2024-01-01 18:00 UTC), "2024-01-01_12-00-00"),
        c(When::Days, 1, None, datetime!(2024-01-01 12:00 UTC), datetime!(2024-01-02 00:00 UTC), "2024-01-01_00-00-00"),
        // Julian day 2460311 (2024-01-01) is odd: 2-day periods start on 2023-12-31.
        c(When::Days, 2, None, datetime!(2024-01-01 12:00 UTC), datetime!(2024-01-02 00:00 UTC), "2023-12-31_00-00-00"),
        c(When::Midnight, 1, None, datetime!(2024-01-01 12:00 UTC), datetime!(2024-01-02 00:00 UTC), "2024-01-01_00-00-00"),
        c(When::Midnight, 1, Some(time!(06:30)), datetime!(2024-01-01 07:00 UTC), datetime!(2024-01-02 06:30 UTC), "2024-01-01_06-30-00"),
        // 2024-01-03 is a Wednesday.
        c(When::Weekday(Weekday::Monday), 1, None, datetime!(2024-01-03 12:00 UTC), datetime!(2024-01-08 00:00 UTC), "2024-01-01_00-00-00"),
        c(When::Weekday(Weekday::Friday), 1, Some(time!(18:00)), datetime!(2024-01-03 12:00 UTC), datetime!(2024-01-05 18:00 UTC), "2023-12-29_18-00-00"),
    ];
    for c in cases {
        let s = Setup::new(c.start);
        let mut builder = s.builder().when(c.when).interval(c.interval);
        if let Some(at) = c.at {
            builder = builder.at_time(at);
        }
        let file = s.build(builder);
        write(&file, "a\n");
        s.clock.set(c.boundary - Duration::milliseconds(1));
        write(&file, "b\n");
        assert_eq!(
            s.listing(),
            expect(&[("t.log", "a\nb\n")]),
            "{} interval {}: rotated early",
            c.when,
            c.interval
        );
        s.clock.set(c.boundary);
        write(&file, "c\n");
        let rotated = format!("t.log.{}.0000", c.rotated);
        assert_eq!(
            s.listing(),
            expect(&[(rotated.as_str(), "a\nb\n"), ("t.log", "c\n")]),
            "{} interval {}",
            c.when,
            c.interval
        );
    }
}

#[test]
fn never_rotates_on_time() {
    let s = Setup::new(datetime!(2024-01-01 12:00 UTC));
    let file = s.build(s.builder());
    write(&file, "a\n");
    s.clock.advance(Duration::days(400));
    write(&file, "b\n");
    assert_eq!(s.listing(), expect(&[("t.log", "a\nb\n")]));
}

/// The same instants give different boundaries and names in a local zone
/// (+05:30, hours start at :30 UTC) and with `utc`.
#[test]
fn local_zone_and_utc_place_boundaries_differently() {
    let start = datetime!(2024-01-01 12:10 UTC);
    let local_boundary = datetime!(2024-01-01 12:30 UTC);
    let utc_boundary = datetime!(2024-01-01 13:00 UTC);

    let s = Setup::new(start);
    let file = s.build(
        s.builder()
            .when(When::Hours)
            .zone(Zone::fixed(offset!(+5:30))),
    );
    write(&file, "a\n");
    s.clock.set(local_boundary);
    write(&file, "b\n");
    assert_eq!(
        s.listing(),
        expect(&[("t.log.2024-01-01_17-00-00.0000", "a\n"), ("t.log", "b\n")])
    );

    let s = Setup::new(start);
    let file = s.build(s.builder().when(When::Hours));
    write(&file, "a\n");
    s.clock.set(local_boundary);
    write(&file, "b\n");
    s.clock.set(utc_boundary);
    write(&file, "c\n");
    assert_eq!(
        s.listing(),
        expect(&[
            ("t.log.2024-01-01_12-00-00.0000", "a\nb\n"),
            ("t.log", "c\n")
        ])
    );

    // Midnight in UTC+2 is 22:00 UTC the day before, and the name says the
    // local date.
    let s = Setup::new(datetime!(2024-01-01 21:00 UTC));
    let file = s.build(
        s.builder()
            .when(When::Midnight)
            .zone(Zone::fixed(offset!(+2))),
    );
    write(&file, "a\n");
    s.clock.set(datetime!(2024-01-01 22:00 UTC));
    write(&file, "b\n");
    assert_eq!(
        s.listing(),
        expect(&[("t.log.2024-01-01_00-00-00.0000", "a\n"), ("t.log", "b\n")])
    );
}

/// US Eastern: 2024-03-10 has 23 hours, 2024-11-03 has 25. Midnight
/// rotation must happen at local midnight on both sides of each change, not
/// 24 hours after the previous one, nor at a fixed offset's midnight.
#[test]
fn midnight_rotation_across_dst_changes() {
    let eastern = Zone::from_posix_tz("EST5EDT,M3.2.0,M11.1.0").expect("valid TZ");
    let s = Setup::new(datetime!(2024-03-10 04:59:59 UTC));
    let file = s.build(s.builder().when(When::Midnight).zone(eastern));
    // Each line written at its instant.
    let write_at = |steps: &[(OffsetDateTime, &str)]| {
        for (at, line) in steps {
            s.clock.set(*at);
            write(&file, line);
        }
    };
    write_at(&[
        (datetime!(2024-03-10 04:59:59 UTC), "mar9\n"), // 23:59:59 EST, Mar 9
        (datetime!(2024-03-10 05:00 UTC), "mar10 start\n"), // 00:00 EST, Mar 10
        (datetime!(2024-03-11 03:59:59 UTC), "mar10 end\n"), // 23:59:59 EDT: 23 h later
        (datetime!(2024-03-11 04:00 UTC), "mar11\n"),   // 00:00 EDT, Mar 11
    ]);
    assert_eq!(
        s.listing(),
        expect(&[
            ("t.log.2024-03-09_00-00-00.0000", "mar9\n"),
            ("t.log.2024-03-10_00-00-00.0000", "mar10 start\nmar10 end\n"),
            ("t.log", "mar11\n"),
        ])
    );

    write_at(&[
        (datetime!(2024-11-03 04:00 UTC), "nov3 start\n"), // 00:00 EDT, Nov 3
        (datetime!(2024-11-04 04:30 UTC), "nov3 end\n"),   // 23:30 EST: 24.5 h later
        (datetime!(2024-11-04 05:00 UTC), "nov4\n"),       // 00:00 EST, Nov 4
    ]);
    assert_eq!(
        s.listing(),
        expect(&[
            ("t.log.2024-03-09_00-00-00.0000", "mar9\n"),
            ("t.log.2024-03-10_00-00-00.0000", "mar10 start\nmar10 end\n"),
            ("t.log.2024-03-11_00-00-00.0000", "mar11\n"),
            ("t.log.2024-11-03_00-00-00.0000", "nov3 start\nnov3 end\n"),
            ("t.log", "nov4\n"),
        ])
    );
}

/// Size only: rotate when the next record would pass `max_bytes`; a record
/// that fills the file exactly stays.
#[test]
fn size_only_rotation() {
    let s = Setup::new(datetime!(2024-01-01 12:00 UTC));
    let file = s.build(s.builder().max_bytes(14));
    for i in 0..5 {
        write(&file, &format!("rec {i:02}\n")); // 7 bytes
    }
    s.clock.advance(Duration::hours(30));
    write(&file, "rec 05\n");
    assert_eq!(
        s.listing(),
        expect(&[
            // Size-only names carry the rotation instant.
            ("t.log.2024-01-01_12-00-00.0000", "rec 00\nrec 01\n"),
            ("t.log.2024-01-01_12-00-00.0001", "rec 02\nrec 03\n"),
            ("t.log", "rec 04\nrec 05\n"),
        ])
    );
    write(&file, "rec 06\n");
    assert!(s.dir.path().join("t.log.2024-01-02_18-00-00.0000").exists());
}

/// Time and size together: size rotations inside one hour share the
/// hour's stamp with growing sequence numbers; the hour boundary rotates
/// even a small file.
#[test]
fn combined_time_and_size() {
    let s = Setup::new(datetime!(2024-01-01 12:00 UTC));
    let file = s.build(s.builder().when(When::Hours).max_bytes(8));
    for r in ["a1\n", "a2\n", "a3\n", "a4\n", "a5\n"] {
        write(&file, r);
        s.clock.advance(Duration::minutes(10));
    }
    s.clock.set(datetime!(2024-01-01 13:05 UTC));
    write(&file, "b1\n");
    assert_eq!(
        s.listing(),
        expect(&[
            ("t.log.2024-01-01_12-00-00.0000", "a1\na2\n"),
            ("t.log.2024-01-01_12-00-00.0001", "a3\na4\n"),
            ("t.log.2024-01-01_12-00-00.0002", "a5\n"),
            ("t.log", "b1\n"),
        ])
    );
}

/// acrilog 1.1.4 with `when='S', backupCount=3`: 10 records 0.3 s apart
/// leave 4 on disk, one per file. Here every record is kept, in the file
/// of its second, split further by size, and retention removes only whole
/// files once there are more than 3 backups.
#[test]
fn acrilog_scenario_keeps_every_record_retention_allows() {
    let s = Setup::new(datetime!(2024-01-01 12:00:00 UTC));
    let file = s.build(
        s.builder()
            .when(When::Seconds)
            .backup_count(3)
            .max_bytes(30), // three 9-byte records
    );
    for i in 0..10 {
        write(&file, &format!("record {i}\n"));
        s.clock.advance(Duration::milliseconds(300));
    }
    file.wait_idle();
    let on_disk = s.listing();
    assert_eq!(
        on_disk,
        expect(&[
            (
                "t.log.2024-01-01_12-00-00.0000",
                "record 0\nrecord 1\nrecord 2\n"
            ),
            ("t.log.2024-01-01_12-00-00.0001", "record 3\n"),
            (
                "t.log.2024-01-01_12-00-01.0000",
                "record 4\nrecord 5\nrecord 6\n"
            ),
            ("t.log", "record 7\nrecord 8\nrecord 9\n"),
        ])
    );
    let kept: usize = on_disk.iter().map(|(_, c)| c.lines().count()).sum();
    assert_eq!(kept, 10, "acrilog keeps 4 of these 10");

    // One more period: a fourth backup appears and the oldest file goes.
    s.clock.set(datetime!(2024-01-01 12:00:03 UTC));
    write(&file, "record 10\n");
    file.wait_idle();
    assert_eq!(
        s.listing(),
        expect(&[
            ("t.log.2024-01-01_12-00-00.0001", "record 3\n"),
            (
                "t.log.2024-01-01_12-00-01.0000",
                "record 4\nrecord 5\nrecord 6\n"
            ),
            (
                "t.log.2024-01-01_12-00-02.0000",
                "record 7\nrecord 8\nrecord 9\n"
            ),
            ("t.log", "record 10\n"),
        ])
    );
    assert_eq!(file.background_errors(), 0);
}

/// A file left by an earlier run and last written in an earlier period is
/// rotated (under that period's name) before the first new record; one of
/// the current period is appended to.
#[test]
fn existing_file_from_an_earlier_period_is_rotated_first() {
    for delay in [false, true] {
        let s = Setup::new(datetime!(2024-05-02 12:00 UTC));
        leave_file(&s.path(), "old\n", datetime!(2024-05-01 10:00 UTC));
        let file = s.build(s.builder().when(When::Midnight).delay(delay));
        write(&file, "new\n");
        assert_eq!(
            s.listing(),
            expect(&[
                ("t.log.2024-05-01_00-00-00.0000", "old\n"),
                ("t.log", "new\n")
            ]),
            "delay {delay}"
        );
    }

    let s = Setup::new(datetime!(2024-05-02 12:00 UTC));
    leave_file(&s.path(), "old\n", datetime!(2024-05-02 01:00 UTC));
    let file = s.build(s.builder().when(When::Midnight));
    write(&file, "new\n");
    assert_eq!(s.listing(), expect(&[("t.log", "old\nnew\n")]));
}

#[test]
fn truncate_mode_empties_the_file_once() {
    let s = Setup::new(datetime!(2024-05-02 12:00 UTC));
    fs::write(s.path(), "old\n").expect("write");
    let file = s.build(s.builder().file_mode(FileMode::Truncate));
    write(&file, "new\n");
    write(&file, "newer\n");
    assert_eq!(s.listing(), expect(&[("t.log", "new\nnewer\n")]));
}
