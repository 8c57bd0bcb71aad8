//! The multi-host test: three network namespaces joined by veth pairs,
//! the real `mplog-sink` in one, real workers in the other two (each
//! namespace with its own host name), logging through `tls://` with a
//! token. Every event must arrive once, and `--process-key host` must give
//! one file per host.
//!
//! It needs root and `ip netns` (iproute2) and `unshare`; elsewhere it is
//! skipped with a message. It talks only to addresses it creates inside
//! its own namespaces (10.213.1.0/30 and 10.213.2.0/30), and deletes the
//! namespaces whatever happens (a drop guard).

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use mplog_test_support::{Ca, Proc, RunningSink, SpawnGuarded, series, wait_exit};
use support::{Setup, WORKER, sink_bin, tls_sink_args};

/// Runs `ip ARGS`; the error is its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Three namespaces and two veth pairs; deleted on drop.
struct Net {
    sink: String,
    a: String,
    b: String,
    links: Vec<String>,
    made: Vec<String>,
}

impl Net {
    fn new() -> Result<Self, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tag = format!("{:06x}", (std::process::id() ^ nanos) & 0xff_ffff);
        let mut net = Net {
            sink: format!("mplog-{tag}-sink"),
            a: format!("mplog-{tag}-a"),
            b: format!("mplog-{tag}-b"),
            links: vec![format!("v{tag}a0"), format!("v{tag}b0")],
            made: Vec::new(),
        };
        for ns in [net.sink.clone(), net.a.clone(), net.b.clone()] {
            ip(&["netns", "add", &ns])?;
            net.made.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        for (side, ns, subnet) in [("a", net.a.clone(), 1), ("b", net.b.clone(), 2)] {
            let (here, there) = (format!("v{tag}{side}0"), format!("v{tag}{side}1"));
            ip(&["link", "add", &here, "type", "veth", "peer", "name", &there])?;
            ip(&["link", "set", &here, "netns", &net.sink])?;
            ip(&["link", "set", &there, "netns", &ns])?;
            let sink_addr = format!("10.213.{subnet}.1/30");
            let worker_addr = format!("10.213.{subnet}.2/30");
            ip(&["-n", &net.sink, "addr", "add", &sink_addr, "dev", &here])?;
            ip(&["-n", &ns, "addr", "add", &worker_addr, "dev", &there])?;
            ip(&["-n", &net.sink, "link", "set", &here, "up"])?;
            ip(&["-n", &ns, "link", "set", &there, "up"])?;
        }
        // Namespace b reaches the sink's address on the a link through
        // the sink's namespace.
        ip(&[
            "-n",
            &net.b,
            "route",
            "add",
            "10.213.1.0/30",
            "via",
            "10.213.2.1",
        ])?;
        Ok(net)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in &self.made {
            let _ = ip(&["netns", "delete", ns]);
        }
        // Links still outside a namespace if set-up stopped half-way.
        for link in &self.links {
            let _ = Command::new("ip")
                .args(["link", "delete", link])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Why this machine cannot run the test, if it cannot.
fn cannot_run() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the multi-host test needs root (network namespaces)".into());
    }
    // Tools a machine can install: missing in CI fails the test.
    for (tool, flag, package) in [
        ("ip", "-V", "iproute2"),
        ("unshare", "--version", "util-linux"),
    ] {
        let ok = Command::new(tool)
            .arg(flag)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let why = format!("`{tool}` is not installed (apt-get install {package})");
            assert!(
                std::env::var_os("CI").is_none(),
                "{why}, and CI is set (.ci/run installs it)"
            );
            return Some(why);
        }
    }
    None
}

/// Waits for a worker, bounded; panics with its stderr if it failed.
fn wait_bounded(mut p: Proc, what: &str) {
    wait_exit(
        &mut p,
        Duration::from_secs(120),
        &format!("{what} to finish"),
    );
    let out = p.into_child().wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn workers_in_two_namespaces_log_into_a_sink_in_a_third_over_tls() {
    if let Some(why) = cannot_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let net = match Net::new() {
        Ok(net) => net,
        Err(why) => {
            eprintln!("multi-host test skipped: cannot create network namespaces: {why}");
            return;
        }
    };
    let s = Setup::new();
    let dir = s.dir.path();
    let ca = Ca::new("multi-host CA");
    let ca_file = ca.write(&dir.join("ca.crt"));
    let (cert, key) = ca.leaf(dir, "sink", &["10.213.1.1"], false, false);
    let token = s.write("token", "multi-host-token");

    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &net.sink]).arg(sink_bin());
    tls_sink_args(
        &mut cmd,
        "tls://10.213.1.1:7400",
        (&cert, &key),
        &token,
        &s.logdir(),
        "host",
    );
    let sink = RunningSink::start(cmd);
    let endpoint = sink.endpoint("tls");
    assert_eq!(endpoint, "tls://10.213.1.1:7400");

    let worker = |ns: &str, host: &str, id: u64| {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "unshare", "--uts", "sh", "-c"])
            .arg(format!("hostname {host} && exec \"$0\" \"$@\""))
            .arg(WORKER)
            .args([
                "--id",
                &id.to_string(),
                "--events",
                "1000",
                "--sleep-us",
                "100",
            ])
            .env("TRACING_MPLOG_ENDPOINT", &endpoint)
            .env("TRACING_MPLOG_PROCESS_NAME", format!("worker-{id}"))
            .env("TRACING_MPLOG_TLS_CA", &ca_file)
            .env("TRACING_MPLOG_TOKEN_FILE", &token)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn_guarded()
    };
    let workers = [
        (worker(&net.a, "host-a", 1), "worker 1 (host-a)"),
        (worker(&net.a, "host-a", 2), "worker 2 (host-a)"),
        (worker(&net.b, "host-b", 3), "worker 3 (host-b)"),
        (worker(&net.b, "host-b", 4), "worker 4 (host-b)"),
    ];
    for (p, what) in workers {
        wait_bounded(p, what);
    }
    let report = sink.stop();
    drop(net);

    let all = series(&s.log_lines("all.log"));
    for id in 1..=4 {
        assert_eq!(
            all.get(&id),
            Some(&(1..=1000).collect::<Vec<u64>>()),
            "worker {id}: every event once; report:\n{report}"
        );
    }
    let a = series(&s.log_lines("host-a.log"));
    let b = series(&s.log_lines("host-b.log"));
    let keys = |m: &std::collections::HashMap<u64, Vec<u64>>| {
        let mut k: Vec<u64> = m.keys().copied().collect();
        k.sort_unstable();
        k
    };
    assert_eq!(
        (keys(&a), keys(&b)),
        (vec![1, 2], vec![3, 4]),
        "one file per host"
    );
    assert!(report.contains("rejected connections: 0"), "{report}");
}
