//! Cluster transports with real processes: the `mplog-sink` binary on
//! loopback TLS and TCP, real test workers configured through
//! `worker::init()` and its environment variables, certificates made by
//! rcgen. Good credentials land every event once; bad ones are refused,
//! logged and counted while a good worker carries on.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mplog_test_support::{Ca, Proc, RunningSink, SpawnGuarded, poll, series, wait_ok, wait_until};
use support::{Setup, file_args, rejections, sink_bin, tls_sink_args};

/// A worker for `endpoint` with the given extra environment.
fn worker(s: &Setup, id: u64, events: u64, endpoint: &str, env: &[(&str, &Path)]) -> Command {
    let mut cmd = s.worker(id, events, &["--sleep-us", "200"]);
    cmd.env("TRACING_MPLOG_ENDPOINT", endpoint);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// Waits for a bad worker to give up (its guard's flush timeout), or
/// kills it; returns its stderr.
fn finish(mut p: Proc) -> String {
    let _ = poll(Duration::from_secs(30), || p.try_wait().expect("wait"));
    let _ = p.kill();
    let out = p.into_child().wait_with_output().expect("output");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn tls_mutual_tls_and_token_refuse_bad_credentials_and_keep_good_workers() {
    let s = Setup::new();
    let dir = s.dir.path();
    let ca = Ca::new("mplog test CA");
    let ca_file = ca.write(&dir.join("ca.crt"));
    let (server_cert, server_key) =
        ca.leaf(dir, "server", &["127.0.0.1", "localhost"], false, false);
    let (client_cert, client_key) = ca.leaf(dir, "client", &["worker"], true, false);
    let (old_cert, old_key) = ca.leaf(dir, "expired", &["worker"], true, true);
    let rogue = Ca::new("rogue CA");
    let rogue_file = rogue.write(&dir.join("rogue.crt"));
    let (rogue_cert, rogue_key) = rogue.leaf(dir, "rogue-client", &["worker"], true, false);
    let token = s.write("token", "s3cret-token\n");
    let bad_token = s.write("bad-token", "guess");

    let mut cmd = Command::new(sink_bin());
    cmd.arg("--listen=tls://127.0.0.1:0")
        .arg("--listen=tcp://127.0.0.1:0")
        .arg("--tls-cert")
        .arg(&server_cert)
        .arg("--tls-key")
        .arg(&server_key)
        .arg("--tls-client-ca")
        .arg(&ca_file)
        .arg("--token-file")
        .arg(&token);
    file_args(&mut cmd, &s.logdir(), "name");
    let sink = RunningSink::start(cmd);
    let tls = sink.endpoint("tls");
    let tcp = sink.endpoint("tcp");
    let tls_port = tls.rsplit(':').next().expect("port").to_owned();

    // A silent connection: cut after the hello timeout (slowloris).
    let mut silent = TcpStream::connect(&tcp["tcp://".len()..]).expect("connect");

    let good = [
        ("TRACING_MPLOG_TLS_CA", ca_file.as_path()),
        ("TRACING_MPLOG_TLS_CERT", client_cert.as_path()),
        ("TRACING_MPLOG_TLS_KEY", client_key.as_path()),
        ("TRACING_MPLOG_TOKEN_FILE", token.as_path()),
    ];
    let good_tls = worker(&s, 1, 2000, &tls, &good).spawn_guarded();
    let good_tcp = worker(&s, 2, 1000, &tcp, &good[3..]).spawn_guarded();

    let with = |id: u64, endpoint: &str, changes: &[(&'static str, &Path)]| {
        let mut env: Vec<(&str, &Path)> = good
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .copied()
            .collect();
        env.extend(changes.iter().filter(|(_, v)| !v.as_os_str().is_empty()));
        (id, worker(&s, id, 5, endpoint, &env).spawn_guarded())
    };
    let none = Path::new("");
    let bad = vec![
        with(11, &tls, &[("TRACING_MPLOG_TOKEN_FILE", &bad_token)]),
        with(12, &tcp, &[("TRACING_MPLOG_TOKEN_FILE", &bad_token)]),
        with(
            13,
            &tls,
            &[
                ("TRACING_MPLOG_TLS_CERT", none),
                ("TRACING_MPLOG_TLS_KEY", none),
            ],
        ),
        with(
            14,
            &tls,
            &[
                ("TRACING_MPLOG_TLS_CERT", &old_cert),
                ("TRACING_MPLOG_TLS_KEY", &old_key),
            ],
        ),
        with(
            15,
            &tls,
            &[
                ("TRACING_MPLOG_TLS_CERT", &rogue_cert),
                ("TRACING_MPLOG_TLS_KEY", &rogue_key),
            ],
        ),
        with(16, &tls, &[("TRACING_MPLOG_TLS_CA", &rogue_file)]),
        with(17, &format!("tcp://127.0.0.1:{tls_port}"), &[]),
    ];

    wait_ok(good_tls);
    wait_ok(good_tcp);
    let stderrs: Vec<(u64, String)> = bad.into_iter().map(|(id, p)| (id, finish(p))).collect();
    silent
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    assert!(
        matches!(silent.read(&mut buf), Ok(0) | Err(_)),
        "the silent peer was cut"
    );

    let report = sink.stop();
    let all = s.log_lines("all.log");
    let got = series(&all);
    assert_eq!(
        got.get(&1),
        Some(&(1..=2000).collect::<Vec<u64>>()),
        "TLS worker, once each"
    );
    assert_eq!(
        got.get(&2),
        Some(&(1..=1000).collect::<Vec<u64>>()),
        "TCP worker, once each"
    );
    for (id, _) in &stderrs {
        assert!(
            !got.contains_key(id),
            "refused worker {id} reached the files"
        );
    }
    // Logged with the peer's address and the reason.
    let refused: Vec<&String> = all
        .iter()
        .filter(|l| l.contains("refused connection"))
        .collect();
    assert!(
        refused.iter().all(|l| l.contains("127.0.0.1:")),
        "{refused:#?}"
    );
    for why in ["wrong token", "TLS handshake failed", "no complete hello"] {
        assert!(
            refused.iter().any(|l| l.contains(why)),
            "no {why:?} in {refused:#?}"
        );
    }
    // Counted by reason: 5 TLS failures, 2 tokens (at least once each:
    // refused workers retry), the silent peer.
    assert!(rejections(&report, "tls") >= 5, "{report}");
    assert!(rejections(&report, "token") >= 2, "{report}");
    assert!(rejections(&report, "hello") >= 1, "{report}");
    // A worker refused for its token says so once.
    let told = &stderrs[0].1;
    assert_eq!(told.matches("refused this process").count(), 1, "{told}");
    assert!(told.contains("bad token"), "{told}");
}

#[test]
fn a_tls_worker_moves_to_a_restarted_sink_and_loses_nothing() {
    let s = Setup::new();
    let dir = s.dir.path();
    let ca = Ca::new("restart CA");
    let ca_file = ca.write(&dir.join("ca.crt"));
    let (cert, key) = ca.leaf(dir, "server", &["127.0.0.1"], false, false);
    let token = s.write("token", "restart-token");
    let sink_at = |listen: &str| {
        let mut cmd = Command::new(sink_bin());
        tls_sink_args(&mut cmd, listen, (&cert, &key), &token, &s.logdir(), "none");
        RunningSink::start(cmd)
    };
    let first = sink_at("tls://127.0.0.1:0");
    let endpoint = first.endpoint("tls");
    let env = [
        ("TRACING_MPLOG_TLS_CA", ca_file.as_path()),
        ("TRACING_MPLOG_TOKEN_FILE", token.as_path()),
    ];
    let mut cmd = s.worker(1, 3000, &["--sleep-us", "500"]);
    cmd.env("TRACING_MPLOG_ENDPOINT", &endpoint);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let w = cmd.spawn_guarded();
    wait_until(
        Duration::from_secs(60),
        "the first sink to write 300 lines",
        || s.log_lines_so_far("all.log").len() >= 300,
    );
    // A graceful restart on the same port while the worker logs.
    let report = first.stop();
    assert!(report.contains("rejected connections: 0"), "{report}");
    let second = sink_at(&endpoint);
    wait_ok(w);
    let report = second.stop();
    assert!(
        report.contains("worker-1"),
        "the worker reached the second sink: {report}"
    );
    let got = series(&s.log_lines("all.log"));
    let events = got.get(&1).cloned().unwrap_or_default();
    assert_eq!(
        events,
        (1..=3000).collect::<Vec<u64>>(),
        "every event once, in order, across the restart; report:\n{report}"
    );
}
