//! Set-up of the cluster tests: certificates made with rcgen, the real
//! `mplog-sink` binary listening on loopback TCP/TLS, and reading what it
//! says on stderr.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The longest any one wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A CA that signs server and client certificates, written as PEM files.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.issuer.pem()).expect("write CA");
        path.to_owned()
    }

    /// A leaf certificate for `names` (DNS names or IP addresses), server
    /// or client; `expired` makes one that ended yesterday. Returns the
    /// (certificate, key) files written in `dir` under `stem`.
    pub fn leaf(
        &self,
        dir: &Path,
        stem: &str,
        names: &[&str],
        client: bool,
        expired: bool,
    ) -> (PathBuf, PathBuf) {
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, stem);
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        if expired {
            let now = time::OffsetDateTime::now_utc();
            params.not_before = now - time::Duration::days(30);
            params.not_after = now - time::Duration::days(1);
        }
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let cert_path = dir.join(format!("{stem}.crt"));
        let key_path = dir.join(format!("{stem}.key"));
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        (cert_path, key_path)
    }
}

/// The `mplog-sink` binary, built next to the test worker if this test
/// run did not build it already.
pub fn sink_bin() -> PathBuf {
    let worker = PathBuf::from(env!("CARGO_BIN_EXE_mplog-test-worker"));
    let bin = worker.with_file_name("mplog-sink");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "tracing-mplog-sink", "--bin", "mplog-sink"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building mplog-sink failed");
    }
    assert!(bin.exists(), "no mplog-sink at {}", bin.display());
    bin
}

/// Adds the arguments of a TLS sink with a token that writes `all.log`
/// (our test template) and per-key files by `process_key` into `logdir`.
pub fn tls_sink_args<'c>(
    cmd: &'c mut Command,
    listen: &str,
    (cert, key): (&Path, &Path),
    token: &Path,
    logdir: &Path,
    process_key: &str,
) -> &'c mut Command {
    cmd.arg(format!("--listen={listen}"))
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .arg("--token-file")
        .arg(token)
        .arg("--logdir")
        .arg(logdir)
        .args([
            "--name",
            "all",
            "--consolidate",
            "--process-key",
            process_key,
        ])
        .args(["--format", "default={process_name} {pid} {level} {message}"])
}

/// The `mplog-sink` command of the file tests: listening on the Unix
/// socket `socket`, writing `all.log` (consolidated) and one file per
/// process name into `logdir` with the tests' template; add the rest.
pub fn file_sink(socket: &Path, logdir: &Path) -> Command {
    let mut cmd = Command::new(sink_bin());
    cmd.arg(format!("--listen=unix:{}", socket.display()))
        .arg(format!("--logdir={}", logdir.display()))
        .args(["--name", "all", "--consolidate", "--process-key", "name"])
        .args(["--format", "default={process_name} {pid} {level} {message}"]);
    cmd
}

/// A running `mplog-sink` whose stderr is collected; killed on drop.
pub struct RunningSink {
    child: Option<Child>,
    stderr: Arc<(Mutex<(String, bool)>, Condvar)>,
}

impl RunningSink {
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mplog-sink");
        let pipe = child.stderr.take().expect("stderr");
        let stderr = Arc::new((Mutex::new((String::new(), false)), Condvar::new()));
        let shared = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let (lock, cond) = &*shared;
                let mut s = lock.lock().expect("lock");
                s.0.push_str(&line);
                s.0.push('\n');
                cond.notify_all();
            }
            let (lock, cond) = &*shared;
            lock.lock().expect("lock").1 = true;
            cond.notify_all();
        });
        RunningSink {
            child: Some(child),
            stderr,
        }
    }

    /// The sink's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("child").id()
    }

    /// Waits for a stderr line starting with `prefix`; returns the line.
    pub fn wait_line(&self, prefix: &str) -> String {
        let (lock, cond) = &*self.stderr;
        let deadline = Instant::now() + TIMEOUT;
        let mut s = lock.lock().expect("lock");
        loop {
            if let Some(line) = s.0.lines().find(|l| l.starts_with(prefix)) {
                return line.to_owned();
            }
            let now = Instant::now();
            assert!(
                !s.1 && now < deadline,
                "no stderr line starting with {prefix:?}; stderr so far:\n{}",
                s.0
            );
            s = cond.wait_timeout(s, deadline - now).expect("lock").0;
        }
    }

    /// The endpoint of the `listening on SCHEME://` line.
    pub fn endpoint(&self, scheme: &str) -> String {
        let line = self.wait_line(&format!("listening on {scheme}://"));
        line["listening on ".len()..].to_owned()
    }

    /// SIGTERM, wait for the exit; returns its stderr.
    pub fn stop(mut self) -> String {
        let mut child = self.child.take().expect("child");
        // SAFETY: signals our own child, which has not been waited for.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "mplog-sink exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "mplog-sink did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let (lock, cond) = &*self.stderr;
        let mut s = lock.lock().expect("lock");
        while !s.1 {
            s = cond.wait_timeout(s, TIMEOUT).expect("lock").0;
        }
        s.0.clone()
    }
}

impl Drop for RunningSink {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The numbers in the sink report's `rejected connections` line.
pub fn rejections(stderr: &str, reason: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("rejected connections:"))
        .unwrap_or_else(|| panic!("no report in:\n{stderr}"));
    let at = line
        .find(&format!("{reason} "))
        .unwrap_or_else(|| panic!("no {reason} in {line}"));
    line[at + reason.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count for {reason} in {line}"))
}

/// `GET path` on `addr`; the body of the answer.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to /metrics");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// The value of the sample `name{labels...}` (all given labels match).
pub fn metric(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `VmHWM` (peak resident set) of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}
