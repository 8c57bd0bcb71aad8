//! `worker::init()` in real child processes (it installs a global subscriber
//! and reads the environment, so each case gets a process of its own).

mod support;

use std::process::Command;
use std::time::Duration;

use support::{TestSink, collect_until, frames, has_goodbye};
use tracing_mplog::wire::OwnedFrame;
use tracing_mplog::{ENDPOINT_ENV, OUTAGE_GRACE_ENV, PROCESS_NAME_ENV};

#[test]
#[ignore = "helper: the other tests run it in a child process"]
fn child_role() {
    match tracing_mplog::worker::init() {
        Ok(guard) => {
            tracing::info!(n = 1, "kept");
            tracing::debug!("filtered out by RUST_LOG=info");
            drop(guard);
            println!("CHILD-OK");
        }
        Err(e) => println!("CHILD-ERR {e}"),
    }
}

fn run_child(env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().expect("test exe"));
    cmd.args([
        "--ignored",
        "--exact",
        "child_role",
        "--nocapture",
        "--test-threads=1",
    ])
    .env_remove(ENDPOINT_ENV)
    .env_remove(PROCESS_NAME_ENV)
    .env_remove(OUTAGE_GRACE_ENV)
    .env_remove("RUST_LOG")
    // The test sink only reads (no welcome, no acknowledgements): the
    // child opts out of acknowledged delivery, on by default.
    .env(tracing_mplog::ACK_ENV, "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout
        .lines()
        .find_map(|l| l.find("CHILD-").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no CHILD- line in {stdout}"))
        .to_owned()
}

#[test]
fn missing_endpoint_is_a_clear_error() {
    let line = run_child(&[]);
    assert_eq!(
        line,
        "CHILD-ERR environment variable TRACING_MPLOG_ENDPOINT is not set: \
         the parent process must hand down the sink's endpoint"
    );
}

#[test]
fn invalid_endpoint_names_the_variable_and_the_text() {
    let line = run_child(&[(ENDPOINT_ENV, "tcp://127.0.0.1")]);
    assert!(
        line.starts_with("CHILD-ERR environment variable TRACING_MPLOG_ENDPOINT"),
        "{line}"
    );
    assert!(
        line.contains("\"tcp://127.0.0.1\"") && line.contains("HOST:PORT"),
        "{line}"
    );
    // The TLS and token variables reach the builder; a missing file is
    // named.
    let line = run_child(&[
        (ENDPOINT_ENV, "tls://127.0.0.1:9"),
        ("TRACING_MPLOG_TOKEN_FILE", "/no/such/token"),
    ]);
    assert!(
        line.starts_with("CHILD-ERR") && line.contains("/no/such/token"),
        "{line}"
    );
    let line = run_child(&[
        (ENDPOINT_ENV, "tls://127.0.0.1:9"),
        ("TRACING_MPLOG_TLS_CA", "/no/such/ca.pem"),
    ]);
    assert!(
        line.starts_with("CHILD-ERR") && line.contains("/no/such/ca.pem"),
        "{line}"
    );
    let line = run_child(&[(ENDPOINT_ENV, "/no/scheme.sock")]);
    assert!(
        line.contains("invalid endpoint \"/no/scheme.sock\""),
        "{line}"
    );
}

#[test]
fn invalid_outage_grace_names_the_variable_the_text_and_the_syntax() {
    for bad in ["soon", "-1", "5m", ""] {
        let line = run_child(&[
            (ENDPOINT_ENV, "unix:/nowhere/sink.sock"),
            (OUTAGE_GRACE_ENV, bad),
        ]);
        assert_eq!(
            line,
            format!(
                "CHILD-ERR environment variable TRACING_MPLOG_OUTAGE_GRACE: {bad:?} is not a \
                 duration: expected seconds (`30`, `2.5`) or a number with unit `s` or `ms` \
                 (`30s`, `500ms`)"
            )
        );
    }
    for good in ["2.5", "500ms"] {
        let line = run_child(&[
            (ENDPOINT_ENV, "unix:/nowhere/sink.sock"),
            (OUTAGE_GRACE_ENV, good),
        ]);
        // No sink: the one event fits in the channel and the guard gives
        // up after its flush timeout; init itself succeeded.
        assert_eq!(line, "CHILD-OK", "{good}");
    }
}

#[test]
fn init_installs_the_layer_with_name_and_filter_from_env() {
    let sink = TestSink::new();
    let rx = sink.serve();
    let endpoint = sink.endpoint().to_string();
    let line = run_child(&[
        (ENDPOINT_ENV, endpoint.as_str()),
        (PROCESS_NAME_ENV, "w-7"),
        ("RUST_LOG", "info"),
    ]);
    assert_eq!(line, "CHILD-OK");
    let seen = collect_until(&rx, Duration::from_secs(10), has_goodbye);
    let all: Vec<_> = frames(&seen).map(|(_, f)| f).collect();
    assert!(
        matches!(all[0], OwnedFrame::Hello(h) if h.process_name == "w-7"),
        "{all:#?}"
    );
    let messages: Vec<_> = all
        .iter()
        .filter_map(|f| match f {
            OwnedFrame::Event(e) => e.message.as_deref(),
            _ => None,
        })
        .collect();
    assert_eq!(messages, ["kept"]);
}
