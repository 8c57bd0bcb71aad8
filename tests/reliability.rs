//! The failure model, proven with real processes (docs/reliability.md):
//! workers killed mid-stream, a full disk, strangers on the socket, and
//! many threads in many processes at once.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mplog_test_support::{SpawnGuarded, assert_series, series, wait_ok, wait_until};
use support::{Setup, report_for};
use tracing_subscriber::prelude::*;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A small deterministic pseudo-random sequence (xorshift), seeded from the
/// clock and printed so a failing run can be replayed with MPLOG_TEST_SEED.
fn rng() -> impl FnMut(u64) -> u64 {
    let seed = std::env::var("MPLOG_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("seed: MPLOG_TEST_SEED={seed}");
    let mut x = seed;
    move |below| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % below
    }
}

#[test]
fn killed_workers_keep_every_flushed_event_and_the_others_lose_nothing() {
    const KILLED: u64 = 4;
    const SURVIVORS: u64 = 4;
    const SURVIVOR_EVENTS: u64 = 20_000;
    let s = Setup::new();
    let sink = s.sink().max_bytes(512 * 1024).start().expect("sink");
    let mut random = rng();
    let mut victims = Vec::new();
    for id in 1..=KILLED {
        let mut child = s
            .worker(id, 10_000_000, &["--mode", "flush-every:100"])
            .spawn_guarded();
        let flushed = Arc::new(AtomicU64::new(0));
        let stdout = child.stdout.take().expect("piped stdout");
        let seen = Arc::clone(&flushed);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("flushed ").and_then(|n| n.parse().ok()) {
                    seen.store(n, Ordering::SeqCst);
                }
            }
        });
        victims.push((id, child, flushed, reader));
    }
    let survivors: Vec<_> = (KILLED + 1..=KILLED + SURVIVORS)
        .map(|id| {
            s.worker(id, SURVIVOR_EVENTS, &["--mode", "flush-every:1000"])
                .spawn_guarded()
        })
        .collect();
    let start = Instant::now();
    let mut last_flushed = Vec::new();
    for (id, mut child, flushed, reader) in victims {
        let at = Duration::from_millis(100 + random(400));
        std::thread::sleep(at.saturating_sub(start.elapsed()));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        reader.join().expect("stdout reader");
        last_flushed.push((id, flushed.load(Ordering::SeqCst)));
    }
    for child in survivors {
        wait_ok(child);
    }
    let report = sink.shutdown().expect("shutdown");
    let all = s.log_lines("all.log");
    let map = series(&all);
    for id in KILLED + 1..=KILLED + SURVIVORS {
        assert_series(&map, id, SURVIVOR_EVENTS);
        let r = report_for(&report, &format!("worker-{id}"));
        assert!(
            r.len() == 1 && r[0].clean,
            "worker {id} ended cleanly: {report}"
        );
    }
    for (id, flushed) in last_flushed {
        assert!(flushed > 0, "worker {id} flushed before it was killed");
        let got = map.get(&id).cloned().unwrap_or_default();
        // What reached the disk is a gap-free prefix that holds every
        // flushed event: nothing flushed lost, nothing twice.
        assert!(
            got.len() as u64 >= flushed,
            "worker {id}: {} on disk, {flushed} flushed",
            got.len()
        );
        assert_eq!(
            got,
            (1..=got.len() as u64).collect::<Vec<_>>(),
            "worker {id}: a prefix, in order, once"
        );
        let r = report_for(&report, &format!("worker-{id}"));
        assert!(
            r.len() == 1 && !r[0].clean,
            "a killed worker is an unclean disconnect: {report}"
        );
        assert_eq!(r[0].received, got.len() as u64, "{report}");
        let cut = all
            .iter()
            .filter(|l| l.contains("truncated frame") && l.contains(&format!("worker-{id}[")))
            .count();
        assert!(
            cut <= 1,
            "at most one warning per cut connection, got {cut}"
        );
    }
}

/// Mounts a tmpfs of `size` at `dir` for the test's duration.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` where mounting is not allowed (a container without the
    /// capability): the caller skips and says so.
    fn mount(dir: &std::path::Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).expect("mount point");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(ok.success(), "remount tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Free bytes of the file system holding `path` (0 if it cannot be read).
fn free_bytes(path: &std::path::Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return 0;
    };
    // SAFETY: `c` is a valid C string and `st` a valid out pointer for the
    // duration of the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    st.f_bavail.saturating_mul(st.f_frsize)
}

#[test]
fn a_full_disk_is_reported_counted_and_survived() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    const EVENTS: u64 = 20_000;
    let s = Setup::new();
    let Some(fs) = Tmpfs::mount(&s.logdir(), "128k") else {
        eprintln!("skipped: this machine does not allow mounting a tmpfs");
        return;
    };
    let sink = s.sink().process_key([]).start().expect("sink");
    let child = s.worker(1, EVENTS, &["--sleep-us", "100"]).spawn_guarded();
    // Wait until the file has grown close to the disk's size.
    let wait = Duration::from_secs(60);
    wait_until(wait, "all.log to grow to 100 KiB", || {
        !sink.files().is_empty()
            && std::fs::metadata(s.log("all.log")).map_or(0, |m| m.len()) >= 100 * 1024
    });
    // Wait until the disk is full (the sink writes 64 KiB buffers, so the
    // file alone does not show it; on a loaded machine the sink may take a
    // while to get there), then give the writer time to meet ENOSPC on its
    // next write: it writes at least every 100 ms while the worker logs.
    wait_until(wait, "the disk to fill", || free_bytes(&s.logdir()) == 0);
    std::thread::sleep(Duration::from_millis(500));
    // Space comes back while the worker is still logging.
    fs.resize("16m");
    wait_ok(child);
    let report = sink.shutdown().expect("shutdown");
    assert!(
        report.write_errors > 0,
        "the full disk was counted: {report}"
    );
    assert_eq!(
        report.unwritten, 0,
        "every kept line was written once space returned: {report}"
    );
    let all = s.log_lines("all.log");
    assert_series(&all, 1, EVENTS);
    assert!(
        all.iter()
            .any(|l| l.contains("ERROR") && l.contains("cannot write")),
        "the failure is logged"
    );
    assert!(
        all.iter()
            .any(|l| l.contains("WARN") && l.contains("again")),
        "the recovery is logged"
    );
}

#[test]
fn strangers_are_refused_by_peer_uid_unless_allowed() {
    if !is_root() {
        eprintln!("skipped: running a process as `nobody` needs root");
        return;
    }
    const NOBODY: u32 = 65534;
    let raw = |s: &Setup| -> String {
        let mut cmd = s.worker(9, 1, &["--mode", "connect-raw"]);
        cmd.uid(NOBODY).gid(NOBODY);
        wait_ok(cmd.spawn_guarded()).trim().to_owned()
    };
    let open_up = |s: &Setup| {
        // Let `nobody` reach the socket, so the uid check is what stops it.
        std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o711))
            .expect("chmod");
        std::fs::set_permissions(s.socket(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod socket");
    };

    // By default the socket's folder is 0700: `nobody` cannot even connect.
    let s = Setup::new();
    let sink = s.sink().start().expect("sink");
    let mode = std::fs::metadata(s.socket().parent().expect("socket folder"))
        .expect("folder")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    drop(sink);

    // Reachable, but uid 65534 is not allowed: refused with a reason.
    let s = Setup::new();
    let sink = s.sink().socket_dir_mode(0o711).start().expect("sink");
    open_up(&s);
    assert_eq!(raw(&s), "closed");
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(report.rejected_connections, 1, "{report}");
    let all = s.log_lines("all.log");
    assert!(
        all.iter().any(|l| l.contains("uid 65534")),
        "the refusal names the uid: {all:#?}"
    );
    assert!(
        !all.iter().any(|l| l.contains("w9 e1")),
        "nothing from a stranger is written"
    );

    // Allowed explicitly: its event is written.
    let s = Setup::new();
    let sink = s
        .sink()
        .socket_dir_mode(0o711)
        .allowed_uids([0, NOBODY])
        .start()
        .expect("sink");
    open_up(&s);
    assert_eq!(raw(&s), "open");
    let report = sink.shutdown().expect("shutdown");
    assert_eq!(report.rejected_connections, 0, "{report}");
    assert_series(&s.log_lines("all.log"), 9, 1);
}

#[test]
fn threads_in_workers_and_the_parent_write_every_record_once_across_rotations() {
    const WORKERS: u64 = 4;
    const THREADS: u64 = 4;
    const EVENTS: u64 = 2500;
    let s = Setup::new();
    let sink = s.sink().max_bytes(256 * 1024).start().expect("sink");
    let children: Vec<_> = (1..=WORKERS)
        .map(|id| {
            s.worker(id, EVENTS, &["--threads", &THREADS.to_string()])
                .spawn_guarded()
        })
        .collect();
    // The parent logs from 4 threads through SinkLayer at the same time.
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(sink.layer()));
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let dispatch = &dispatch;
            scope.spawn(move || {
                tracing::dispatcher::with_default(dispatch, || {
                    let id = 9000 + t;
                    for n in 1..=EVENTS {
                        tracing::info!(n, "w{id} e{n}");
                    }
                });
            });
        }
    });
    drop(dispatch);
    for child in children {
        wait_ok(child);
    }
    sink.shutdown().expect("shutdown");
    let files = s.log_files("all.log");
    assert!(files.len() >= 5, "rotated several times: {files:?}");
    let map = series(&s.log_lines("all.log")); // which also rejects a torn last line
    for id in 1..=WORKERS {
        for t in 0..THREADS {
            assert_series(&map, id * 100 + t, EVENTS);
        }
    }
    for t in 0..THREADS {
        assert_series(&map, 9000 + t, EVENTS);
    }
}
