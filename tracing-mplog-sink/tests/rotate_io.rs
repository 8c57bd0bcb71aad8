//! `RotatingFile` as a writer: whole records under concurrency, through
//! `MakeWriter` and `non_blocking`, oversized records, folders,
//! permissions, buffering and I/O errors.

mod support;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::sync::Arc;

use support::rotate::{expect, files, listing, write};
use time::macros::datetime;
use tracing_mplog_sink::clock::ManualClock;
use tracing_mplog_sink::rotate::{RotatingFile, When};
use tracing_subscriber::fmt::MakeWriter;

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2024-01-01 12:00 UTC))
}

/// 4 threads × 50,000 records through `MakeWriter` with size rotation:
/// every record is on disk exactly once, whole, and no file passes the
/// size limit.
#[test]
fn concurrent_writers_lose_and_tear_nothing() {
    const THREADS: usize = 4;
    const RECORDS: usize = 50_000;
    const MAX: u64 = 64 * 1024;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = Arc::new(
        RotatingFile::builder()
            .max_bytes(MAX)
            .utc(true)
            .clock(clock())
            .build(dir.path().join("t.log"))
            .expect("build"),
    );
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let file = Arc::clone(&file);
            std::thread::spawn(move || {
                for i in 0..RECORDS {
                    let mut writer = file.make_writer();
                    writer
                        .write_all(format!("t{t} {i:06} {}\n", "x".repeat(i % 7)).as_bytes())
                        .expect("write");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
    let found = files(dir.path());
    assert!(
        found.len() > 20,
        "size rotation happened: {} files",
        found.len()
    );
    for (name, content) in &found {
        assert!(content.len() as u64 <= MAX, "{name} is over the limit");
        assert!(content.ends_with('\n'), "{name} ends inside a record");
        for line in content.lines() {
            let mut parts = line.split(' ');
            let t = parts
                .next()
                .and_then(|p| p.strip_prefix('t'))
                .and_then(|p| p.parse().ok());
            let i: Option<usize> = parts.next().and_then(|p| p.parse().ok());
            let (Some(t), Some(i)) = (t, i) else {
                panic!("torn line in {name}: {line:?}")
            };
            assert_eq!(
                parts.next(),
                Some("x".repeat(i % 7).as_str()),
                "torn: {line:?}"
            );
            assert_eq!(parts.next(), None, "two records on a line: {line:?}");
            *seen.entry((t, i)).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), THREADS * RECORDS, "records lost");
    assert!(seen.values().all(|&n| n == 1), "records duplicated");
}

/// As the writer of `tracing_subscriber::fmt` behind
/// `tracing_appender::non_blocking`: every event arrives as one whole line.
#[test]
fn behind_non_blocking_records_arrive_whole() {
    const EVENTS: usize = 2_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = RotatingFile::builder()
        .max_bytes(1_000)
        .utc(true)
        .clock(clock())
        .build(dir.path().join("t.log"))
        .expect("build");
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(file);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_level(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..EVENTS {
            tracing::info!("event {i:05} {}", "y".repeat(i % 50));
        }
    });
    drop(guard);
    let found = files(dir.path());
    assert!(found.len() > 10, "size rotation happened");
    let mut seen = vec![0usize; EVENTS];
    for (name, content) in &found {
        assert!(content.len() <= 1_000 && content.ends_with('\n'), "{name}");
        for line in content.lines() {
            let rest = line.strip_prefix("event ").expect("whole line");
            let (i, pad) = rest.split_once(' ').expect("whole line");
            let i: usize = i.parse().expect("event number");
            assert_eq!(pad, "y".repeat(i % 50), "torn line {line:?}");
            seen[i] += 1;
        }
    }
    assert!(seen.iter().all(|&n| n == 1), "lost or duplicated events");
}

/// A record longer than `max_bytes` goes whole into a file of its own; no
/// empty file is rotated out before it.
#[test]
fn oversized_record_gets_a_fresh_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = RotatingFile::builder()
        .max_bytes(16)
        .utc(true)
        .clock(clock())
        .build(dir.path().join("t.log"))
        .expect("build");
    let big = format!("{}\n", "B".repeat(99));
    write(&file, &big);
    write(&file, "aaaa\n");
    write(&file, &big);
    write(&file, "b\n");
    assert_eq!(
        listing(dir.path()),
        expect(&[
            ("t.log.2024-01-01_12-00-00.0000", &big),
            ("t.log.2024-01-01_12-00-00.0001", "aaaa\n"),
            ("t.log.2024-01-01_12-00-00.0002", &big),
            ("t.log", "b\n"),
        ])
    );
}

#[test]
fn missing_parent_folders_are_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a/b/c/t.log");
    let file = RotatingFile::builder()
        .delay(true)
        .clock(clock())
        .build(&path)
        .expect("build");
    assert!(path.parent().is_some_and(std::path::Path::is_dir));
    assert!(!path.exists(), "delay: not opened before the first write");
    write(&file, "x\n");
    assert_eq!(fs::read_to_string(&path).expect("read"), "x\n");
    assert_eq!(file.path(), path);
}

#[cfg(unix)]
#[test]
fn files_are_created_0640_by_default() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = RotatingFile::builder()
        .max_bytes(2)
        .clock(clock())
        .build(dir.path().join("t.log"))
        .expect("build");
    write(&file, "a\n");
    write(&file, "b\n");
    assert_eq!(mode(&dir.path().join("t.log")), 0o640);
    for name in files(dir.path()).keys() {
        assert_eq!(mode(&dir.path().join(name)), 0o640, "{name}");
    }
    let other = RotatingFile::builder()
        .permissions(0o600)
        .build(dir.path().join("u.log"))
        .expect("build");
    assert_eq!(mode(other.path()), 0o600);
}

#[test]
fn invalid_paths_and_settings_fail_at_build() {
    use tracing_mplog_sink::rotate::RotateError;
    let dir = tempfile::tempdir().expect("tempdir");
    let err = RotatingFile::builder().build("").expect_err("empty path");
    assert!(matches!(err, RotateError::Path { .. }), "{err}");
    let err = RotatingFile::builder()
        .build(dir.path())
        .expect_err("a folder");
    assert!(matches!(err, RotateError::Path { .. }), "{err}");
    let err = RotatingFile::builder()
        .build(dir.path().join("logs/"))
        .expect_err("trailing slash");
    assert!(matches!(err, RotateError::Path { .. }), "{err}");
    fs::write(dir.path().join("blocker"), "").expect("write");
    let err = RotatingFile::builder()
        .build(dir.path().join("blocker/t.log"))
        .expect_err("parent is a file");
    assert!(matches!(err, RotateError::Io { .. }), "{err}");
    assert!(err.to_string().contains("blocker"), "{err}");
    let err = RotatingFile::builder()
        .when(When::Seconds)
        .at_time(time::Time::MIDNIGHT)
        .build(dir.path().join("t.log"))
        .expect_err("at_time with S");
    assert!(err.to_string().contains("`at_time`"), "{err}");
    let err = RotatingFile::builder()
        .when(When::Hours)
        .interval(0)
        .build(dir.path().join("t.log"))
        .expect_err("interval 0");
    assert!(err.to_string().contains("`interval`"), "{err}");
}

/// Buffered: records wait in memory until `flush`; rotation writes them
/// into the file they belong to first.
#[test]
fn buffered_records_appear_at_flush_and_stay_in_their_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = clock();
    let file = RotatingFile::builder()
        .when(When::Hours)
        .buffer_capacity(1024)
        .utc(true)
        .clock(clock.clone())
        .build(dir.path().join("t.log"))
        .expect("build");
    write(&file, "a\n");
    write(&file, "b\n");
    assert_eq!(listing(dir.path()), expect(&[("t.log", "")]));
    (&file).flush().expect("flush");
    assert_eq!(listing(dir.path()), expect(&[("t.log", "a\nb\n")]));
    write(&file, "c\n");
    clock.set(datetime!(2024-01-01 13:00 UTC));
    write(&file, "d\n");
    file.sync_all().expect("sync");
    assert_eq!(
        listing(dir.path()),
        expect(&[
            ("t.log.2024-01-01_12-00-00.0000", "a\nb\nc\n"),
            ("t.log", "d\n")
        ])
    );
    write(&file, "e\n");
    drop(file);
    assert_eq!(
        fs::read_to_string(dir.path().join("t.log")).expect("read"),
        "d\ne\n"
    );
}

/// The folder is deleted while the file is open: the next record goes to
/// a new file in a recreated folder instead of into the deleted one.
#[cfg(unix)]
#[test]
fn deleted_folder_is_recreated_at_the_next_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let file = RotatingFile::builder()
        .clock(clock())
        .build(logs.join("t.log"))
        .expect("build");
    write(&file, "a\n");
    fs::remove_dir_all(&logs).expect("delete the folder");
    write(&file, "b\n");
    assert_eq!(listing(&logs), expect(&[("t.log", "b\n")]));
}

/// Write errors are returned, not panicked on, and the writer recovers once
/// the cause is gone.
#[cfg(unix)]
#[test]
fn io_errors_are_returned_and_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let clock = clock();
    let file = RotatingFile::builder()
        .when(When::Hours)
        .utc(true)
        .clock(clock.clone())
        .build(logs.join("t.log"))
        .expect("build");
    write(&file, "a\n");
    // The folder is replaced by a plain file: rotating and reopening fail.
    fs::remove_dir_all(&logs).expect("delete the folder");
    fs::write(&logs, "not a folder").expect("block the folder");
    clock.set(datetime!(2024-01-01 13:00 UTC));
    assert!((&file).write_all(b"lost\n").is_err());
    assert!((&file).write_all(b"lost\n").is_err());
    fs::remove_file(&logs).expect("unblock");
    write(&file, "c\n");
    assert_eq!(listing(&logs), expect(&[("t.log", "c\n")]));
}

/// A full disk: the error reaches the caller.
#[cfg(target_os = "linux")]
#[test]
fn disk_full_is_an_error() {
    let file = RotatingFile::builder()
        .clock(clock())
        .build("/dev/full")
        .expect("open /dev/full");
    let err = (&file).write_all(b"x\n").expect_err("no space");
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
}

/// A buffer flush that fails half-way (a full disk) must cut the file back
/// to where it was, so the retried buffer does not leave a partial copy or a
/// hole of NUL bytes. Needs root for a small tmpfs; says so when skipped.
#[test]
fn a_failed_buffer_flush_leaves_no_partial_copy() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).expect("mount point");
    let mount = |opts: &str| {
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(&mnt)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !mount("size=64k") {
        eprintln!("skipped: this machine does not allow mounting a tmpfs");
        return;
    }
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mnt);
    let file = RotatingFile::builder()
        .clock(clock())
        .buffer_capacity(10_000)
        .build(mnt.join("app.log"))
        .expect("open");
    let mut written = Vec::new();
    let mut failed = false;
    for i in 0..5000 {
        let line = format!("record {i:05} {}\n", "x".repeat(40));
        match (&file).write_all(line.as_bytes()) {
            Ok(()) => written.push(line),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the 64 KiB file system filled up");
    assert!(mount("remount,size=8m"), "remount the tmpfs bigger");
    (&file)
        .flush()
        .expect("the kept buffer is written once there is space");
    drop(file);
    let text = std::fs::read_to_string(mnt.join("app.log")).expect("read back");
    assert!(!text.contains('\0'), "no hole of NUL bytes");
    assert_eq!(
        text,
        written.concat(),
        "every accepted record exactly once, in order"
    );
}

/// A file left by a run killed in the middle of a record ends in a
/// fragment: the next run ends that line before appending, so its first
/// record is not glued to the fragment. A file ending in a newline is left
/// as it is.
#[test]
fn a_partial_last_line_is_ended_before_appending() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (before, after) in [
        ("a\nfragm", "a\nfragm\nb\n"),
        ("a\n", "a\nb\n"),
        ("", "b\n"),
    ] {
        let path = dir.path().join("t.log");
        fs::write(&path, before).expect("earlier run");
        let file = RotatingFile::builder()
            .max_bytes(1 << 20)
            .clock(clock())
            .build(&path)
            .expect("build");
        write(&file, "b\n");
        drop(file);
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            after,
            "{before:?}"
        );
    }
}

/// A clock that counts how often it is asked.
#[derive(Debug, Default, Clone)]
struct CountingClock(Arc<std::sync::atomic::AtomicU64>);

impl tracing_mplog_sink::clock::Clock for CountingClock {
    fn now(&self) -> time::OffsetDateTime {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        datetime!(2024-05-01 12:00:00 UTC)
    }
}

#[test]
fn a_size_only_file_asks_the_clock_only_to_open_and_rotate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = CountingClock::default();
    let log = RotatingFile::builder()
        .max_bytes(10_000)
        .clock(clock.clone())
        .build(dir.path().join("app.log"))
        .expect("build");
    let asked_at_open = clock.0.load(std::sync::atomic::Ordering::Relaxed);
    // 1 000 records of 100 bytes: 9 rotations at 10 000 bytes.
    let record = format!("{}\n", "x".repeat(99));
    for _ in 0..1000 {
        (&log).write_all(record.as_bytes()).expect("write");
    }
    log.sync_all().expect("sync");
    let asked = clock.0.load(std::sync::atomic::Ordering::Relaxed) - asked_at_open;
    // Each rotation may ask for the stamp and for the new file's open.
    assert!(asked <= 2 * 9 + 2, "the clock was asked {asked} times");
    assert_eq!(files(dir.path()).len(), 10, "{:?}", files(dir.path()));
}
