//! The sink with real worker processes (`mplog-test-worker`), started with
//! `SinkHandle::configure_command`.

use std::process::Command;
use std::time::Duration;

use tracing_mplog::Endpoint;
use tracing_mplog_sink::{ProcessKey, Sink};

const WORKER: &str = env!("CARGO_BIN_EXE_mplog-test-worker");

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The event numbers of worker `id` in `lines`, in file order.
fn series(lines: &[String], id: u64) -> Vec<u64> {
    let tag = format!(" w{id} e");
    lines
        .iter()
        .filter_map(|l| {
            let at = l.find(&tag)?;
            let digits: String = l[at + tag.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

#[test]
fn worker_processes_log_through_the_sink() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sink = Sink::builder()
        .listen(Endpoint::Unix(dir.path().join("run/log.sock")))
        .logdir(dir.path().join("logs"))
        .name("all")
        .consolidate(true)
        .process_key([ProcessKey::Name])
        .default_format("%(processName)s[%(process)d] %(levelname)s %(msg)s")
        .start()
        .expect("start");
    let children: Vec<_> = (1..=3u64)
        .map(|id| {
            let mut cmd = Command::new(WORKER);
            cmd.args(["--id", &id.to_string(), "--events", "300"])
                .env("TRACING_MPLOG_PROCESS_NAME", format!("worker-{id}"));
            sink.configure_command(&mut cmd);
            cmd.spawn().expect("spawn worker")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let report = sink.shutdown().expect("shutdown");
    let all = lines(&dir.path().join("logs/all.log"));
    assert_eq!(all.len(), 900);
    let want: Vec<u64> = (1..=300).collect();
    for id in 1..=3 {
        assert_eq!(series(&all, id), want);
        let own = lines(&dir.path().join(format!("logs/worker-{id}.log")));
        assert_eq!(series(&own, id), want);
    }
    assert_eq!(report.processes.len(), 3);
    assert!(
        report
            .processes
            .iter()
            .all(|p| p.received == 300 && p.clean),
        "{report}"
    );
}

#[test]
fn a_dropping_worker_reports_every_event_as_written_or_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sink = Sink::builder()
        .listen(Endpoint::Unix(dir.path().join("run/log.sock")))
        .logdir(dir.path().join("logs"))
        .name("sink")
        .drain_timeout(Duration::from_secs(5))
        .start()
        .expect("start");
    let mut cmd = Command::new(WORKER);
    cmd.args(["--id", "1", "--events", "5000", "--mode", "drop-newest:1"])
        .env("TRACING_MPLOG_PROCESS_NAME", "dropper");
    sink.configure_command(&mut cmd);
    let out = cmd.output().expect("run worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = sink.shutdown().expect("shutdown");
    let p = &report.processes[0];
    assert_eq!(p.received + p.dropped_by_worker, 5000, "{report}");
    let written = lines(&dir.path().join("logs/dropper.log")).len() as u64;
    assert_eq!(written, p.received);
    // A channel of one event cannot keep up with 5000 events in a loop.
    assert!(p.dropped_by_worker > 0, "{report}");
    let own = std::fs::read_to_string(dir.path().join("logs/sink.log")).expect("sink's own file");
    assert!(own.contains("worker dropper["), "{own}");
    assert!(own.contains("(channel full)"), "{own}");
}
