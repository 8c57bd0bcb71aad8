//! `mplog-sink` running: it says when it listens, writes what workers send
//! where the flags say, rotates, and on SIGTERM/SIGINT drains every
//! connection before it exits 0. Events come from `MpLayer`s in this test
//! process, over the real socket.
#![cfg(unix)]

mod support;

use std::fs;

use mplog_test_support::file_names;
use support::cli::{Place, run_to_end};
use support::{log_file_names, send_events};

/// The lines of `text` that contain `needle`.
fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// The signal drains: every event delivered before it is in the files, the
/// report is printed, the socket removed, exit 0. An event logged on an open
/// connection *after* the drain began is either written or reported as
/// undelivered by its worker (the sink shuts connections down at once, so a
/// restarted sink gets the rest) — never silently lost, never twice.
fn signal_drains_everything(signal: i32, signal_name: &str) {
    use tracing_subscriber::prelude::*;

    let place = Place::new();
    let endpoint = &place.endpoint;
    let sink = place.start(&["--name", "all", "--consolidate"]);

    // A second process name, sent and finished before the signal.
    send_events(endpoint, "beta", || {
        for n in 0..50 {
            tracing::info!(n, "beta e{n}");
        }
    });

    // Without acknowledgements, so that "written or reported undelivered"
    // is exact: a draining sink has shut its write side and cannot
    // acknowledge what it still writes, so an acknowledging worker counts
    // those written events as undelivered too (and resends them to the
    // next sink, which skips them by its high-water marks).
    let (layer, guard) = tracing_mplog::MpLayer::builder()
        .endpoint(endpoint.parse().expect("endpoint"))
        .process_name("alpha")
        .flush_timeout(std::time::Duration::from_millis(500))
        .acknowledged(false)
        .build()
        .expect("build MpLayer");
    let subscriber = tracing_subscriber::registry().with(layer);
    let undelivered = tracing::subscriber::with_default(subscriber, || {
        for n in 0..300 {
            tracing::info!(n, "alpha e{n}");
        }
        guard.flush().expect("delivered before the signal");
        sink.signal(signal);
        sink.wait_line(&format!(
            "mplog-sink: {signal_name}: draining (a second signal exits at once)"
        ));
        for n in 300..600 {
            tracing::warn!(n, "alpha e{n}");
        }
        match guard.flush() {
            Ok(()) => 0,
            Err(tracing_mplog::FlushError::TimedOut { undelivered, .. }) => undelivered,
            Err(e) => panic!("{e}"),
        }
    });
    drop(guard);

    let stderr = sink.wait_exit_ok();
    let all = place.read_log("all.log");
    let alpha = place.read_log("alpha.log");
    let beta = place.read_log("beta.log");
    for n in 0..300 {
        let needle = format!("alpha e{n} n={n}");
        assert_eq!(count(&all, &needle), 1, "{needle} in all.log");
        assert_eq!(count(&alpha, &needle), 1, "{needle} in alpha.log");
    }
    let late = (300..600)
        .filter(|n| count(&all, &format!("alpha e{n} n={n}")) == 1)
        .count() as u64;
    assert!(
        (300..600).all(|n| count(&all, &format!("alpha e{n} n={n}")) <= 1),
        "never twice"
    );
    assert_eq!(
        late + undelivered,
        300,
        "each late event written or reported undelivered"
    );
    for n in 0..50 {
        let needle = format!("beta e{n} n={n}");
        assert_eq!(count(&all, &needle), 1, "{needle} in all.log");
        assert_eq!(count(&beta, &needle), 1, "{needle} in beta.log");
    }
    assert_eq!(count(&alpha, "beta e"), 0, "beta's events in alpha.log");
    assert_eq!(all.lines().count() as u64, 350 + late, "{all}");
    // The report names both processes.
    assert!(
        stderr.contains("alpha") && stderr.contains("beta"),
        "{stderr}"
    );
    // The socket is gone: nobody can connect to a stopped sink.
    assert!(!place.path().join("run/sink.sock").exists());
}

#[test]
fn sigterm_drains_flushes_reports_and_exits_0() {
    signal_drains_everything(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sigint_does_the_same() {
    signal_drains_everything(libc::SIGINT, "SIGINT");
}

#[test]
fn flags_reach_the_files_templates_threshold_and_echo() {
    let place = Place::new();
    let sink = place.start(&[
        "--process-key",
        "name",
        "--process-key",
        "pid",
        "--file-prefix",
        "pre",
        "--file-suffix",
        "suf",
        "--level",
        "info",
        "--format",
        "warn=W|%(processName)s|%(msg)s",
        "--format",
        "default={level}|{msg}",
        "--echo",
    ]);
    send_events(&place.endpoint, "gamma", || {
        tracing::debug!("below the threshold");
        tracing::info!("an info line");
        tracing::warn!("a warn line");
    });
    let stderr = sink.stop();

    let name = format!("pre.gamma.{}.suf.log", std::process::id());
    assert_eq!(log_file_names(&place.logs()), vec![name.clone()]);
    assert!(
        file_names(&place.logs()).contains(&".mplog.seq".to_owned()),
        "the worker acknowledged (the default): the sink kept its high-water marks"
    );
    let text = place.read_log(&name);
    assert_eq!(text, "INFO|an info line\nW|gamma|a warn line\n");
    // --echo: the same lines on stderr.
    assert!(stderr.lines().any(|l| l == "INFO|an info line"), "{stderr}");
    assert!(
        stderr.lines().any(|l| l == "W|gamma|a warn line"),
        "{stderr}"
    );
}

#[test]
fn config_file_with_a_flag_override() {
    let place = Place::new();
    let config = place.path().join("sink.toml");
    fs::write(
        &config,
        format!(
            "listen = {:?}\nlogdir = {:?}\nname = \"fromfile\"\n\
             consolidate = true\nprocess_key = \"none\"\n\
             [format]\ndefault = \"F|%(msg)s\"\n",
            place.endpoint, place.logdir
        ),
    )
    .expect("write config");
    let sink = place.start_with(&[
        "--config",
        config.to_str().expect("UTF-8"),
        "--name",
        "fromflag",
    ]);
    send_events(&place.endpoint, "delta", || tracing::info!("configured"));
    sink.stop();
    // The flag's name, the file's consolidate / process-key none / template.
    assert_eq!(
        log_file_names(&place.logs()),
        vec!["fromflag.log".to_owned()]
    );
    assert_eq!(place.read_log("fromflag.log"), "F|configured\n");
}

#[test]
fn per_output_levels_from_a_flag_and_the_config_file() {
    let place = Place::new();
    let config = place.path().join("sink.toml");
    fs::write(&config, "per-key-level = \"info\"\n").expect("write config");
    let sink = place.start(&[
        "--name",
        "all",
        "--consolidate",
        "--level",
        "debug",
        "--consolidated-level",
        "warn",
        "--config",
        config.to_str().expect("UTF-8"),
        "--format",
        "default={level}|{msg}",
    ]);
    send_events(&place.endpoint, "eps", || {
        tracing::trace!("t");
        tracing::debug!("d");
        tracing::info!("i");
        tracing::warn!("w");
    });
    sink.stop();
    assert_eq!(
        place.read_log("all.log"),
        "WARN|w\n",
        "--consolidated-level warn"
    );
    assert_eq!(
        place.read_log("eps.log"),
        "INFO|i\nWARN|w\n",
        "per-key-level = info from the file"
    );
}

#[test]
fn max_bytes_1kib_rotates_and_keeps_every_line() {
    let place = Place::new();
    let sink = place.start(&[
        "--consolidate",
        "--process-key",
        "none",
        "--max-bytes",
        "1KiB",
        "--format",
        "default=%(msg)s",
    ]);
    // 200 lines of 50 bytes: 10 000 bytes, at least 10 files of ≤ 1024.
    send_events(&place.endpoint, "epsilon", || {
        for n in 0..200 {
            tracing::info!("line {n:05} {}", "x".repeat(38));
        }
    });
    sink.stop();

    let names = log_file_names(&place.logs());
    assert!(names.len() >= 10, "{names:?}");
    assert!(names.contains(&"mplog.log".to_owned()), "{names:?}");
    let mut all = String::new();
    for name in &names {
        let text = place.read_log(name);
        assert!(text.len() <= 1024, "{name}: {} bytes", text.len());
        all.push_str(&text);
    }
    for n in 0..200 {
        assert_eq!(count(&all, &format!("line {n:05} ")), 1, "line {n}");
    }
    assert_eq!(all.lines().count(), 200);
}

#[test]
fn unusable_logdir_exits_1_naming_the_path() {
    let place = Place::new();
    let blocker = place.path().join("blocker");
    fs::write(&blocker, "a regular file").expect("write blocker");
    let logdir = blocker.join("logs");
    let (status, stderr) = run_to_end(
        place.path(),
        &[
            "--listen",
            &place.endpoint,
            "--logdir",
            logdir.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&*blocker.to_string_lossy()), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
