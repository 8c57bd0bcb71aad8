//! Retention (`backup_count`, `max_age`) and compression, including files
//! left on disk by an earlier run.

mod support;

use std::fs;
use std::io::Write;

use support::rotate::{Setup, expect, files, leave_file, modified, write};
use time::Duration;
use time::macros::datetime;
use tracing_mplog_sink::rotate::When;

/// Size rotations, one record per file: only the newest `backup_count`
/// rotated files stay, and the active file is never touched.
#[test]
fn backup_count_keeps_the_newest_files() {
    let s = Setup::new(datetime!(2024-01-01 12:00 UTC));
    let file = s.build(s.builder().max_bytes(4).backup_count(2));
    for i in 0..6 {
        write(&file, &format!("r{i}\n"));
    }
    file.wait_idle();
    assert_eq!(
        s.listing(),
        expect(&[
            ("t.log.2024-01-01_12-00-00.0003", "r3\n"),
            ("t.log.2024-01-01_12-00-00.0004", "r4\n"),
            ("t.log", "r5\n"),
        ])
    );
}

/// A second run over the same folder: its first sweep applies its own
/// `backup_count` to the files of the first run, and its rotations
/// continue the sequence instead of overwriting.
#[test]
fn restart_prunes_old_files_and_never_overwrites() {
    let s = Setup::new(datetime!(2024-01-01 12:00 UTC));
    let builder = s.builder().max_bytes(4);
    {
        let first = s.build(builder.clone());
        for i in 0..6 {
            write(&first, &format!("a{i}\n"));
        }
    }
    assert_eq!(files(s.dir.path()).len(), 6, "first run keeps everything");
    // Unrelated files in the folder are left alone.
    fs::write(s.dir.path().join("other.log.2024-01-01_12-00-00.0000"), "x").expect("write");
    fs::write(s.dir.path().join("t.log.old"), "x").expect("write");

    // The unrelated files, the three rotated files from number `oldest`
    // on (file n holds `a{n}`), and the active file.
    let kept = |oldest: u32, active: &str| {
        let mut v: Vec<(String, String)> = (oldest..oldest + 3)
            .map(|n| {
                (
                    format!("t.log.2024-01-01_12-00-00.{n:04}"),
                    format!("a{n}\n"),
                )
            })
            .collect();
        v.extend(expect(&[
            ("other.log.2024-01-01_12-00-00.0000", "x"),
            ("t.log.old", "x"),
            ("t.log", active),
        ]));
        v.sort();
        v
    };
    let second = s.build(builder.backup_count(3));
    second.wait_idle();
    assert_eq!(s.listing(), kept(2, "a5\n"));
    write(&second, "b0\n");
    second.wait_idle();
    // a5, active before, is rotated as number 5: nothing is overwritten.
    assert_eq!(s.listing(), kept(3, "b0\n"));
}

/// `max_age` deletes rotated files whose last write (the rotation instant,
/// by the clock) is older than the limit; younger ones stay.
#[test]
fn max_age_deletes_old_files() {
    let s = Setup::new(datetime!(2024-06-10 12:00 UTC));
    let file = s.build(
        s.builder()
            .when(When::Midnight)
            .max_age(time::Duration::days(2)),
    );
    for day in 10..=14 {
        s.clock
            .set(datetime!(2024-06-10 12:00 UTC) + Duration::days(day - 10));
        write(&file, &format!("day {day}\n"));
    }
    file.wait_idle();
    // Each day's file was rotated at 12:00 the next day (the first write
    // after midnight); at 06-14 12:00 the file of 06-10 is 3 days old and
    // goes, the one of 06-11 is exactly 2 days old ("older than" is strict).
    assert_eq!(
        modified(&s.dir.path().join("t.log.2024-06-13_00-00-00.0000")),
        datetime!(2024-06-14 12:00 UTC),
        "a rotated file's modification time is the rotation instant by the clock"
    );
    assert_eq!(
        s.listing(),
        expect(&[
            ("t.log.2024-06-11_00-00-00.0000", "day 11\n"),
            ("t.log.2024-06-12_00-00-00.0000", "day 12\n"),
            ("t.log.2024-06-13_00-00-00.0000", "day 13\n"),
            ("t.log", "day 14\n"),
        ])
    );
}

/// Files left by an earlier run are aged at start, from their
/// modification times.
#[test]
fn max_age_applies_to_files_of_an_earlier_run() {
    let s = Setup::new(datetime!(2024-06-10 12:00 UTC));
    let old = s.dir.path().join("t.log.2024-06-01_00-00-00.0000");
    let young = s.dir.path().join("t.log.2024-06-08_00-00-00.0000");
    leave_file(&old, "old\n", datetime!(2024-06-01 23:59 UTC));
    leave_file(&young, "young\n", datetime!(2024-06-08 23:59 UTC));
    let file = s.build(
        s.builder()
            .when(When::Midnight)
            .max_age(std::time::Duration::from_secs(3 * 86_400)),
    );
    file.wait_idle();
    assert_eq!(
        s.listing(),
        expect(&[("t.log.2024-06-08_00-00-00.0000", "young\n"), ("t.log", "")])
    );
}

/// Rotated files become valid gzip with the original lines, keep their
/// modification time and mode, and no plain or temporary copy is left.
#[test]
fn compress_gzips_rotated_files() {
    let s = Setup::new(datetime!(2024-01-01 12:00 UTC));
    let file = s.build(s.builder().when(When::Hours).compress(true));
    let lines: Vec<String> = (0..200)
        .map(|i| format!("line {i:04} of hour 12\n"))
        .collect();
    for line in &lines {
        write(&file, line);
    }
    s.clock.set(datetime!(2024-01-01 13:00 UTC));
    write(&file, "hour 13\n");
    s.clock.set(datetime!(2024-01-01 14:30 UTC));
    write(&file, "hour 14\n");
    file.wait_idle();
    assert_eq!(
        s.listing(),
        expect(&[
            ("t.log.2024-01-01_12-00-00.0000.gz", &lines.concat()),
            ("t.log.2024-01-01_13-00-00.0000.gz", "hour 13\n"),
            ("t.log", "hour 14\n"),
        ])
    );
    let gz = s.dir.path().join("t.log.2024-01-01_12-00-00.0000.gz");
    assert_eq!(modified(&gz), datetime!(2024-01-01 13:00 UTC));
    assert!(fs::metadata(&gz).expect("metadata").len() < lines.concat().len() as u64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&gz).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }
    assert_eq!(file.background_errors(), 0);
}

/// A restart finishes what a crash interrupted: plain rotated files are
/// compressed, a half-written `.gz.tmp` is removed, and a plain file whose
/// `.gz` is complete is deleted; `backup_count` counts each name once.
#[test]
fn compress_finishes_an_earlier_runs_work() {
    let s = Setup::new(datetime!(2024-01-01 13:30 UTC));
    let d = s.dir.path();
    fs::write(d.join("t.log.2024-01-01_10-00-00.0000"), "ten\n").expect("write");
    fs::write(d.join("t.log.2024-01-01_11-00-00.0000"), "eleven\n").expect("write");
    fs::write(d.join("t.log.2024-01-01_11-00-00.0000.gz.tmp"), "trunc").expect("write");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"twelve\n").expect("gzip");
    fs::write(
        d.join("t.log.2024-01-01_12-00-00.0000.gz"),
        gz.finish().expect("gzip"),
    )
    .expect("write");
    fs::write(d.join("t.log.2024-01-01_12-00-00.0000"), "twelve\n").expect("write");
    let file = s.build(s.builder().when(When::Hours).compress(true).backup_count(2));
    file.wait_idle();
    assert_eq!(
        s.listing(),
        expect(&[
            ("t.log.2024-01-01_11-00-00.0000.gz", "eleven\n"),
            ("t.log.2024-01-01_12-00-00.0000.gz", "twelve\n"),
            ("t.log", ""),
        ])
    );
}

/// Dropping the file waits for queued compressions.
#[test]
fn drop_waits_for_compression() {
    let s = Setup::new(datetime!(2024-01-01 12:00 UTC));
    {
        let file = s.build(s.builder().max_bytes(64).compress(true));
        for i in 0..100 {
            write(&file, &format!("record {i:03} padding padding padding\n"));
        }
    }
    let found = files(s.dir.path());
    let rotated: Vec<_> = found.keys().filter(|n| n.starts_with("t.log.")).collect();
    assert_eq!(rotated.len(), 99);
    assert!(rotated.iter().all(|n| n.ends_with(".gz")), "{rotated:?}");
    let total: usize = found.values().map(|c| c.lines().count()).sum();
    assert_eq!(total, 100);
}
