//! `mplog-sink` refusing what it cannot use: bad flags, bad config files,
//! a missing endpoint. Each must exit with status 2 and name the problem,
//! without a panic and without creating anything.
#![cfg(unix)]

mod support;

use support::cli::run_to_end;

/// Status 2, the message names every needle, no panic, no socket or log
/// folder left behind.
fn assert_usage_error(dir: &std::path::Path, args: &[&str], needles: &[&str]) {
    let (status, stderr) = run_to_end(dir, args);
    assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: stderr lacks {needle:?}:\n{stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
    assert!(
        !dir.join("logs").exists(),
        "{args:?} created the log folder"
    );
}

#[test]
fn help_explains_every_flag_with_its_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, _) = run_to_end(dir.path(), &[]);
    assert_eq!(status.code(), Some(2), "no --listen is a usage error");
    let out = support::cli::bin()
        .arg("--help")
        .output()
        .expect("run --help");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--logdir",
        "--name",
        "--consolidate",
        "--process-key",
        "--file-prefix",
        "--file-suffix",
        "--file-mode",
        "--when",
        "--interval",
        "--at-time",
        "--utc",
        "--max-bytes",
        "--backup-count",
        "--max-age",
        "--compress",
        "--datefmt",
        "--format",
        "--level",
        "--echo",
        "--config",
    ] {
        let line = help
            .lines()
            .skip_while(|l| !l.trim_start().starts_with(flag))
            .nth(1)
            .unwrap_or_else(|| panic!("--help lacks {flag}:\n{help}"));
        if flag != "--config" {
            assert!(
                line.contains("[default:") || line.contains("[required"),
                "{flag}: {line}"
            );
        }
    }
    assert!(help.contains("10M == 10MiB"), "{help}");
}

#[test]
fn bad_flags_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    assert_usage_error(
        d,
        &["--listen", "unix:/x.sock", "--frobnicate"],
        &["--frobnicate"],
    );
    assert_usage_error(
        d,
        &["--listen", "unix:/x.sock", "--max-bytes", "12Q"],
        &["--max-bytes", "12Q"],
    );
    assert_usage_error(
        d,
        &["--listen", "unix:/x.sock", "--max-age", "3y"],
        &["--max-age", "3y"],
    );
    assert_usage_error(
        d,
        &["--listen", "unix:/x.sock", "--when", "W7"],
        &["--when", "W7"],
    );
    assert_usage_error(
        d,
        &["--listen", "tcp://localhost"],
        &["--listen", "tcp://localhost"],
    );
    // Plain TCP beyond loopback without a token, and TLS without a
    // certificate: refused at start, saying why.
    assert_usage_error(
        d,
        &["--listen", "tcp://0.0.0.0:0"],
        &[
            "--listen",
            "tcp://0.0.0.0:0",
            "without a token",
            "--insecure",
        ],
    );
    assert_usage_error(
        d,
        &["--listen", "tls://127.0.0.1:0"],
        &["--tls-cert", "tls://127.0.0.1:0", "certificate"],
    );
    assert_usage_error(
        d,
        &[
            "--listen",
            "unix:/x.sock",
            "--process-key",
            "none",
            "--process-key",
            "pid",
        ],
        &["--process-key", "none"],
    );
    assert_usage_error(
        d,
        &["--listen", "unix:/x.sock", "--format", "info=%(bogus)s"],
        &["--format info", "bogus"],
    );
    assert_usage_error(d, &[], &["--listen"]);
}

#[test]
fn bad_config_files_are_named_with_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let write = |name: &str, text: &str| {
        let path = d.join(name);
        std::fs::write(&path, text).expect("write config");
        path.to_str().expect("UTF-8 path").to_owned()
    };
    let unknown = write(
        "unknown.toml",
        "listen = \"unix:/x.sock\"\nmax_bites = 10\n",
    );
    assert_usage_error(d, &["--config", &unknown], &["unknown.toml", "max_bites"]);
    let bad = write(
        "bad.toml",
        "listen = \"unix:/x.sock\"\nmax-bytes = \"10Q\"\n",
    );
    assert_usage_error(
        d,
        &["--config", &bad],
        &["bad.toml", "max-bytes", "\"10Q\""],
    );
    let syntax = write("syntax.toml", "listen = \n");
    assert_usage_error(d, &["--config", &syntax], &["syntax.toml", "TOML"]);
    let missing = d.join("missing.toml");
    assert_usage_error(
        d,
        &["--config", missing.to_str().expect("UTF-8 path")],
        &["missing.toml"],
    );
    // Without `listen` anywhere.
    let no_listen = write("nolisten.toml", "name = \"x\"\n");
    assert_usage_error(d, &["--config", &no_listen], &["--listen"]);
}

#[test]
fn bad_forward_destinations_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let sock = format!("unix:{}", d.join("s.sock").display());
    assert_usage_error(
        d,
        &["--listen", &sock, "--forward", "kafka://broker:9092"],
        &["--forward", "kafka://broker:9092", "unknown scheme `kafka`"],
    );
    assert_usage_error(
        d,
        &["--listen", &sock, "--forward", "syslog+udp://[::1"],
        &["--forward", "syslog+udp://[::1", "unclosed `[`"],
    );
    let config = d.join("fwd.toml");
    std::fs::write(
        &config,
        "listen = \"unix:/x.sock\"\n[[forward]]\nurl = \"otlp+grpc://127.0.0.1\"\nqueue = -1\n",
    )
    .expect("write config");
    assert_usage_error(
        d,
        &["--config", config.to_str().expect("UTF-8 path")],
        &[
            "fwd.toml",
            "`forward`",
            "otlp+grpc://127.0.0.1",
            "key `queue`",
        ],
    );
    // A CA file that does not exist is found when the destination is built.
    let ca = d.join("no-such-ca.pem");
    let config = d.join("ca.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{sock}\"\n[[forward]]\nurl = \"syslog+tls://127.0.0.1:6514\"\ntls-ca = \"{}\"\n",
            ca.display()
        ),
    )
    .expect("write config");
    assert_usage_error(
        d,
        &["--config", config.to_str().expect("UTF-8 path")],
        &["forward", "syslog+tls://127.0.0.1:6514", "no-such-ca.pem"],
    );
    // So is a client certificate of mutual TLS, and one without its key.
    let config = d.join("mtls.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{sock}\"\n[[forward]]\nurl = \"otlp+https://127.0.0.1\"\n\
             tls-cert = \"{}\"\ntls-key = \"{}\"\n",
            d.join("no-such-client.crt").display(),
            d.join("no-such-client.key").display()
        ),
    )
    .expect("write config");
    assert_usage_error(
        d,
        &["--config", config.to_str().expect("UTF-8 path")],
        &["otlp+https://127.0.0.1", "tls-cert", "no-such-client.crt"],
    );
    let config = d.join("half.toml");
    std::fs::write(
        &config,
        "listen = \"unix:/x.sock\"\n[[forward]]\nurl = \"otlp+grpcs://h\"\ntls-cert = \"c.pem\"\n",
    )
    .expect("write config");
    assert_usage_error(
        d,
        &["--config", config.to_str().expect("UTF-8 path")],
        &["otlp+grpcs://h", "`tls-cert` needs `tls-key`"],
    );
}
