//! Retention (`backup_count`, `max_age`) and compression, including files
//! left on disk by an earlier run.

mod rotate_support;

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use rotate_support::{expect, files, listing};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tracing_mplog_sink::clock::ManualClock;
use tracing_mplog_sink::rotate::{RotatingFile, When};

fn write(file: &RotatingFile, record: &str) {
    (&*file)
        .write_all(record.as_bytes())
        .expect("write a record");
}

fn leave_file(path: &Path, content: &str, modified: OffsetDateTime) {
    fs::write(path, content).expect("write a file of an earlier run");
    File::options()
        .write(true)
        .open(path)
        .expect("open it")
        .set_modified(SystemTime::from(modified))
        .expect("set its modification time");
}

fn modified(path: &Path) -> OffsetDateTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("modification time")
        .into()
}

/// Size rotations, one record per file: only the newest `backup_count`
/// rotated files stay, and the active file is never touched.
#[test]
fn backup_count_keeps_the_newest_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = RotatingFile::builder()
        .max_bytes(4)
        .backup_count(2)
        .utc(true)
        .clock(ManualClock::new(datetime!(2024-01-01 12:00 UTC)))
        .build(dir.path().join("t.log"))
        .expect("build");
    for i in 0..6 {
        write(&file, &format!("r{i}\n"));
    }
    file.wait_idle();
    assert_eq!(
        listing(dir.path()),
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
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(datetime!(2024-01-01 12:00 UTC));
    let builder = RotatingFile::builder()
        .max_bytes(4)
        .utc(true)
        .clock(clock.clone());
    {
        let first = builder.build(dir.path().join("t.log")).expect("first run");
        for i in 0..6 {
            write(&first, &format!("a{i}\n"));
        }
    }
    assert_eq!(files(dir.path()).len(), 6, "first run keeps everything");
    // Unrelated files in the folder are left alone.
    fs::write(dir.path().join("other.log.2024-01-01_12-00-00.0000"), "x").expect("write");
    fs::write(dir.path().join("t.log.old"), "x").expect("write");

    let second = builder
        .clone()
        .backup_count(3)
        .build(dir.path().join("t.log"))
        .expect("second run");
    second.wait_idle();
    assert_eq!(
        listing(dir.path()),
        expect(&[
            ("other.log.2024-01-01_12-00-00.0000", "x"),
            ("t.log.old", "x"),
            ("t.log.2024-01-01_12-00-00.0002", "a2\n"),
            ("t.log.2024-01-01_12-00-00.0003", "a3\n"),
            ("t.log.2024-01-01_12-00-00.0004", "a4\n"),
            ("t.log", "a5\n"),
        ])
    );
    write(&second, "b0\n");
    second.wait_idle();
    assert_eq!(
        listing(dir.path()),
        expect(&[
            ("other.log.2024-01-01_12-00-00.0000", "x"),
            ("t.log.old", "x"),
            ("t.log.2024-01-01_12-00-00.0003", "a3\n"),
            ("t.log.2024-01-01_12-00-00.0004", "a4\n"),
            ("t.log.2024-01-01_12-00-00.0005", "a5\n"),
            ("t.log", "b0\n"),
        ])
    );
}

/// `max_age` deletes rotated files whose last write (the rotation instant,
/// by the clock) is older than the limit; younger ones stay.
#[test]
fn max_age_deletes_old_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(datetime!(2024-06-10 12:00 UTC));
    let file = RotatingFile::builder()
        .when(When::Midnight)
        .utc(true)
        .max_age(time::Duration::days(2))
        .clock(clock.clone())
        .build(dir.path().join("t.log"))
        .expect("build");
    for day in 10..=14 {
        clock.set(datetime!(2024-06-10 12:00 UTC) + Duration::days(day - 10));
        write(&file, &format!("day {day}\n"));
    }
    file.wait_idle();
    // Each day's file was rotated at 12:00 the next day (the first write
    // after midnight); at 06-14 12:00 the file of 06-10 is 3 days old and
    // goes, the one of 06-11 is exactly 2 days old ("older than" is strict).
    assert_eq!(
        modified(&dir.path().join("t.log.2024-06-13_00-00-00.0000")),
        datetime!(2024-06-14 12:00 UTC),
        "a rotated file's modification time is the rotation instant by the clock"
    );
    assert_eq!(
        listing(dir.path()),
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
    let dir = tempfile::tempdir().expect("tempdir");
    let now = datetime!(2024-06-10 12:00 UTC);
    let old = dir.path().join("t.log.2024-06-01_00-00-00.0000");
    let young = dir.path().join("t.log.2024-06-08_00-00-00.0000");
    leave_file(&old, "old\n", datetime!(2024-06-01 23:59 UTC));
    leave_file(&young, "young\n", datetime!(2024-06-08 23:59 UTC));
    let file = RotatingFile::builder()
        .when(When::Midnight)
        .utc(true)
        .max_age(std::time::Duration::from_secs(3 * 86_400))
        .clock(ManualClock::new(now))
        .build(dir.path().join("t.log"))
        .expect("build");
    file.wait_idle();
    assert_eq!(
        listing(dir.path()),
        expect(&[("t.log.2024-06-08_00-00-00.0000", "young\n"), ("t.log", "")])
    );
}

/// Rotated files become valid gzip with the original lines, keep their
/// modification time and mode, and no plain or temporary copy is left.
#[test]
fn compress_gzips_rotated_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(datetime!(2024-01-01 12:00 UTC));
    let file = RotatingFile::builder()
        .when(When::Hours)
        .compress(true)
        .utc(true)
        .clock(clock.clone())
        .build(dir.path().join("t.log"))
        .expect("build");
    let lines: Vec<String> = (0..200)
        .map(|i| format!("line {i:04} of hour 12\n"))
        .collect();
    for line in &lines {
        write(&file, line);
    }
    clock.set(datetime!(2024-01-01 13:00 UTC));
    write(&file, "hour 13\n");
    clock.set(datetime!(2024-01-01 14:30 UTC));
    write(&file, "hour 14\n");
    file.wait_idle();
    assert_eq!(
        listing(dir.path()),
        expect(&[
            ("t.log.2024-01-01_12-00-00.0000.gz", &lines.concat()),
            ("t.log.2024-01-01_13-00-00.0000.gz", "hour 13\n"),
            ("t.log", "hour 14\n"),
        ])
    );
    let gz = dir.path().join("t.log.2024-01-01_12-00-00.0000.gz");
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
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
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
    let file = RotatingFile::builder()
        .when(When::Hours)
        .compress(true)
        .backup_count(2)
        .utc(true)
        .clock(ManualClock::new(datetime!(2024-01-01 13:30 UTC)))
        .build(d.join("t.log"))
        .expect("build");
    file.wait_idle();
    assert_eq!(
        listing(d),
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
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(datetime!(2024-01-01 12:00 UTC));
    {
        let file = RotatingFile::builder()
            .max_bytes(64)
            .compress(true)
            .utc(true)
            .clock(clock)
            .build(dir.path().join("t.log"))
            .expect("build");
        for i in 0..100 {
            write(&file, &format!("record {i:03} padding padding padding\n"));
        }
    }
    let found = files(dir.path());
    let rotated: Vec<_> = found.keys().filter(|n| n.starts_with("t.log.")).collect();
    assert_eq!(rotated.len(), 99);
    assert!(rotated.iter().all(|n| n.ends_with(".gz")), "{rotated:?}");
    let total: usize = found.values().map(|c| c.lines().count()).sum();
    assert_eq!(total, 100);
}
