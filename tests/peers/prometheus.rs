//! A real Prometheus (Debian's `prometheus` package) scraping loopback
//! targets every second, with its HTTP API for queries, and `promtool`.
//!
//! Outside CI a test skips when the binaries are missing, printing what to
//! install; with `CI` set it panics ([`skip_unless_ci`]), so CI cannot skip
//! it silently.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Prometheus gets to start, and each query to come true.
pub const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(60);

/// A running Prometheus; killed when dropped.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    dir: tempfile::TempDir,
    /// Its HTTP API, `127.0.0.1:PORT`.
    pub addr: String,
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// What is missing to run Prometheus, as the line a skipped test prints.
pub fn missing() -> Option<String> {
    (find("prometheus").is_none() || find("promtool").is_none())
        .then(|| "prometheus or promtool not found (apt-get install prometheus)".to_owned())
}

pub use mplog_test_support::skip_unless_ci;

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("address").port()
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`HOST:PORT`, path `/metrics`)
    /// every second, and waits until its API answers. `None` if it is
    /// missing and `CI` is not set.
    pub fn start(targets: &[&str]) -> Option<Self> {
        if let Some(missing) = missing() {
            skip_unless_ci(&missing);
            return None;
        }
        let bin = find("prometheus")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: mplog\n    static_configs:\n      - targets: [{}]\n",
                quoted.join(", ")
            ),
        )
        .expect("write prometheus.yml");
        let addr = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let mut p = Prometheus { child, dir, addr };
        p.wait_until("its API answers", |p| {
            p.get("/-/ready").is_some_and(|(s, _)| s == 200)
        });
        Some(p)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET path` on its API: the status and the body, `None` if it does
    /// not answer (yet).
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(&self.addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            // HTTP/1.0: the answer comes whole, not in chunks.
            "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.addr
        )
        .ok()?;
        let mut answer = String::new();
        s.read_to_string(&mut answer).ok()?;
        let (head, body) = answer.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }

    /// The `data` of an API answer as JSON.
    pub fn api(&self, path: &str) -> Option<serde_json::Value> {
        let (status, body) = self.get(path)?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        (status == 200 && v["status"] == "success").then(|| v["data"].clone())
    }

    /// An instant query's result vector: each sample's labels and value.
    pub fn query(&self, expr: &str) -> Vec<(serde_json::Value, f64)> {
        let data = self.api(&format!("/api/v1/query?query={}", url_encode(expr)));
        let result = data.and_then(|d| d["result"].as_array().cloned());
        result
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| {
                let v = s["value"][1].as_str()?.parse().ok()?;
                Some((s["metric"].clone(), v))
            })
            .collect()
    }

    /// Polls `ready` until it holds (bounded by [`PROMETHEUS_TIMEOUT`]).
    pub fn wait_until(&mut self, what: &str, ready: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + PROMETHEUS_TIMEOUT;
        while !ready(self) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus: never {what} within {PROMETHEUS_TIMEOUT:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The folder it runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `promtool check metrics` on `body`: its exit status and what it said.
pub fn promtool_check_metrics(body: &str) -> (bool, String) {
    let bin = find("promtool").expect("promtool");
    let mut child = Command::new(bin)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool ends");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
