//! A real rsyslog for the forwarding tests: `rsyslogd -n` as a child with
//! its own configuration in a temporary directory: plain TCP, TLS (the
//! gtls driver, with a certificate made by rcgen) and UDP inputs on
//! loopback, and one file where every message it receives is a JSON line
//! of PRI, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID, STRUCTURED-DATA
//! and MSG as rsyslog parsed them.
//!
//! Shared by the root integration tests (`#[path = "peers/rsyslog.rs"] mod
//! rsyslog;`) and the sink's unit tests. [`Rsyslog::start`] returns `None`
//! (saying in one line what to install) where rsyslogd or a module it needs
//! (the gtls driver of `rsyslog-gnutls`) is missing, unless `CI` is set:
//! then it panics, so CI cannot skip the test silently. [`missing`] is the
//! same check without starting anything.
#![allow(dead_code, unreachable_pub)]

use std::io::Read;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long rsyslogd may take to listen, or to write what it got.
pub const RSYSLOG_TIMEOUT: Duration = Duration::from_secs(15);

/// The MSGID of the datagrams that check the UDP input is up; their lines
/// are not returned.
const PROBE: &str = "rsyslog-probe";

/// A running rsyslogd; killed on drop.
#[derive(Debug)]
pub struct Rsyslog {
    bin: PathBuf,
    child: Child,
    dir: tempfile::TempDir,
    /// The plain TCP input's port (octet counting or LF framing).
    pub tcp_port: u16,
    /// The TLS input's port (gtls driver, anonymous clients).
    pub tls_port: u16,
    /// The UDP input's port.
    pub udp_port: u16,
    /// The CA (PEM) that signed the TLS input's certificate, which names
    /// `127.0.0.1`.
    pub ca_file: PathBuf,
    out: PathBuf,
}

/// One message as rsyslog parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub pri: u16,
    /// `%timereported:::date-rfc3339%`.
    pub timestamp: String,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub msgid: String,
    pub structured_data: String,
    /// `%msg%`: control characters escaped by rsyslog (`#012` for LF).
    pub msg: String,
}

/// Where rsyslogd is, if installed.
fn rsyslogd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("rsyslogd"))
        .find(|p| p.is_file())
}

/// The folders rsyslog's loadable modules may be in: Debian's multiarch
/// `/usr/lib/<triplet>/rsyslog` and the plain and lib64 ones of other
/// distributions.
fn module_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("rsyslog"))
                .collect()
        })
        .unwrap_or_default();
    dirs.extend(["/usr/lib/rsyslog".into(), "/usr/lib64/rsyslog".into()]);
    dirs
}

/// The modules the configuration loads, each with the Debian package that
/// ships it: the TCP and UDP inputs (in `rsyslog` itself) and the TLS
/// driver of the TLS input (in `rsyslog-gnutls`, a separate package that
/// a plain `apt-get install rsyslog` leaves out).
const MODULES: [(&str, &str, &str); 3] = [
    ("imtcp.so", "rsyslog's imtcp module", "rsyslog"),
    ("imudp.so", "rsyslog's imudp module", "rsyslog"),
    ("lmnsd_gtls.so", "rsyslog's gtls module", "rsyslog-gnutls"),
];

/// What is missing for [`Rsyslog::start`], as the one line a skipped test
/// prints (what and what to install); `None` if nothing is.
pub fn missing() -> Option<String> {
    missing_in(rsyslogd().as_deref(), &module_dirs())
}

/// [`missing`] for the rsyslogd `bin` (if found) and modules in `dirs`.
fn missing_in(bin: Option<&Path>, dirs: &[PathBuf]) -> Option<String> {
    if bin.is_none() {
        return Some(
            "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)".to_owned(),
        );
    }
    MODULES.iter().find_map(|(file, what, package)| {
        let found = dirs.iter().any(|d| d.join(file).is_file());
        (!found).then(|| format!("{what} is missing (apt-get install {package})"))
    })
}

pub use mplog_test_support::skip_unless_ci;

impl Rsyslog {
    /// Starts rsyslogd and waits until its three inputs take messages.
    /// `None` if rsyslogd or a module it needs is missing and `CI` is not
    /// set (see [`missing`]).
    pub fn start() -> Option<Self> {
        if let Some(missing) = missing() {
            skip_unless_ci(&missing);
            return None;
        }
        let bin = rsyslogd()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_file = write_certificates(dir.path());
        let out = dir.path().join("out.log");
        let child = spawn(&bin, dir.path(), (0, 0, free_udp_port()));
        let mut rsyslog = Rsyslog {
            bin,
            child,
            tcp_port: 0,
            tls_port: 0,
            udp_port: 0,
            ca_file,
            out,
            dir,
        };
        rsyslog.wait_listening();
        Some(rsyslog)
    }

    /// Stops rsyslogd (SIGTERM: it closes its connections, as a relay
    /// that restarts does) and starts it again on the same ports.
    pub fn restart(&mut self) {
        // SAFETY: signals our own child, which has not been waited for.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + RSYSLOG_TIMEOUT;
        while self.child.try_wait().expect("wait for rsyslogd").is_none() {
            assert!(Instant::now() < deadline, "rsyslogd did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let ports = (self.tcp_port, self.tls_port, self.udp_port);
        self.child = spawn(&self.bin, self.dir.path(), ports);
        self.wait_listening();
        assert_eq!((self.tcp_port, self.tls_port, self.udp_port), ports);
    }

    /// Waits for the port files and for a probe through the UDP input.
    fn wait_listening(&mut self) {
        self.tcp_port = self.wait_port("tcp.port", self.tcp_port);
        self.tls_port = self.wait_port("tls.port", self.tls_port);
        self.udp_port = udp_port(self.dir.path());
        self.wait_udp();
    }

    /// The temporary directory (configuration, certificates, output).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The lines written so far (probes left out).
    pub fn lines(&self) -> Vec<Line> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .filter_map(parse)
            .filter(|l| l.msgid != PROBE)
            .collect()
    }

    /// Waits until at least `n` lines were written, then a moment more so
    /// that lines beyond `n` (duplicates) show too; returns them all.
    pub fn wait_lines(&mut self, n: usize) -> Vec<Line> {
        self.wait_at_least(n);
        std::thread::sleep(Duration::from_millis(300));
        self.lines()
    }

    /// Waits until at least `n` lines were written; returns them.
    pub fn wait_at_least(&mut self, n: usize) -> Vec<Line> {
        let deadline = Instant::now() + RSYSLOG_TIMEOUT;
        loop {
            let lines = self.lines();
            if lines.len() >= n {
                return lines;
            }
            self.check_running();
            assert!(
                Instant::now() < deadline,
                "rsyslog wrote {} of {n} lines in {RSYSLOG_TIMEOUT:?}; last: {:?}",
                lines.len(),
                lines.last()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Panics with rsyslogd's stderr if it exited.
    fn check_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let mut err = String::new();
            if let Some(mut pipe) = self.child.stderr.take() {
                let _ = pipe.read_to_string(&mut err);
            }
            panic!("rsyslogd exited ({status}):\n{err}");
        }
    }

    /// The port of a TCP input once it listens: `known` if rsyslog was
    /// given one (it accepts a connection then), else the one rsyslog
    /// wrote into `file` (it does so only for port 0).
    fn wait_port(&mut self, file: &str, known: u16) -> u16 {
        let path = self.dir.path().join(file);
        let deadline = Instant::now() + RSYSLOG_TIMEOUT;
        loop {
            if known != 0 {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], known));
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                    return known;
                }
            } else if let Some(port) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return port;
            }
            self.check_running();
            assert!(
                Instant::now() < deadline,
                "rsyslogd's {file} input did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends probe datagrams until one reaches the output file (one of
    /// this start: a restart appends to the same file).
    fn wait_udp(&mut self) {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let probe = format!("<14>1 - - - - {PROBE} - {nonce}");
        let deadline = Instant::now() + RSYSLOG_TIMEOUT;
        loop {
            let _ = socket.send_to(probe.as_bytes(), ("127.0.0.1", self.udp_port));
            std::thread::sleep(Duration::from_millis(50));
            let text = std::fs::read_to_string(&self.out).unwrap_or_default();
            if text
                .lines()
                .filter_map(parse)
                .any(|l| l.msgid == PROBE && l.msg == nonce.to_string())
            {
                return;
            }
            self.check_running();
            assert!(
                Instant::now() < deadline,
                "rsyslog's UDP input took nothing"
            );
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the configuration for the `(tcp, tls, udp)` ports (0: any
/// free one, rsyslog writes it into `tcp.port`, `tls.port`) and starts
/// `rsyslogd -n` with it.
fn spawn(bin: &Path, d: &Path, ports: (u16, u16, u16)) -> Child {
    let conf = d.join("rsyslog.conf");
    std::fs::write(&conf, config(d, ports)).expect("write rsyslog.conf");
    std::fs::write(d.join("udp.port"), ports.2.to_string()).expect("write udp.port");
    Command::new(bin)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(d.join("rsyslogd.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rsyslogd")
}

/// The UDP port `spawn` configured.
fn udp_port(d: &Path) -> u16 {
    std::fs::read_to_string(d.join("udp.port"))
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("udp.port")
}

/// The configuration: no system inputs (no imuxsock, no imklog), the
/// three inputs bound to one ruleset writing `out.log`; rsyslogd's own
/// messages go to `internal.log`. The UDP input gets a 4 MiB receive
/// buffer so that a burst is not dropped while rsyslogd is busy (UDP
/// itself never promises delivery).
fn config(d: &Path, (tcp, tls, udp): (u16, u16, u16)) -> String {
    let d = d.display();
    format!(
        r#"global(workDirectory="{d}" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
template(name="fields" type="string"
         string="{{\"pri\":\"%pri%\",\"timestamp\":\"%timereported:::date-rfc3339,json%\",\"hostname\":\"%hostname:::json%\",\"app_name\":\"%app-name:::json%\",\"procid\":\"%procid:::json%\",\"msgid\":\"%msgid:::json%\",\"structured_data\":\"%structured-data:::json%\",\"msg\":\"%msg:::json%\"}}\n")
ruleset(name="forwarded") {{
  action(type="omfile" file="{d}/out.log" template="fields")
}}
input(type="imtcp" address="127.0.0.1" port="{tcp}" listenPortFileName="{d}/tcp.port" ruleset="forwarded")
input(type="imtcp" address="127.0.0.1" port="{tls}" listenPortFileName="{d}/tls.port" ruleset="forwarded"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
      streamDriver.CAFile="{d}/ca.pem" streamDriver.CertFile="{d}/server.pem"
      streamDriver.KeyFile="{d}/server.key")
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="forwarded" rcvbufSize="4m")
*.* action(type="omfile" file="{d}/internal.log")
"#
    )
}

/// A CA and a server certificate for `127.0.0.1` signed by it; returns the
/// CA file.
fn write_certificates(d: &Path) -> PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
        .expect("CA certificate");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&key, &ca)
        .expect("server certificate");
    let ca_file = d.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write CA");
    std::fs::write(d.join("server.pem"), cert.pem()).expect("write certificate");
    std::fs::write(d.join("server.key"), key.serialize_pem()).expect("write key");
    ca_file
}

/// A UDP port free a moment ago (rsyslog's imudp has no port file).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free UDP port")
        .port()
}

/// One output line; `None` for a line that is not ours.
fn parse(line: &str) -> Option<Line> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let get = |key: &str| v.get(key)?.as_str().map(str::to_owned);
    Some(Line {
        pri: get("pri")?.parse().ok()?,
        timestamp: get("timestamp")?,
        hostname: get("hostname")?,
        app_name: get("app_name")?,
        procid: get("procid")?,
        msgid: get("msgid")?,
        structured_data: get("structured_data")?,
        msg: get("msg")?,
    })
}

#[cfg(test)]
mod detection_tests {
    use super::*;

    /// A folder with the named (empty) module files.
    fn modules(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in files {
            std::fs::write(dir.path().join(f), b"").expect("write module");
        }
        dir
    }

    #[test]
    fn a_missing_gtls_module_is_named_with_its_package_before_rsyslogd_starts() {
        let bin = Path::new("/usr/sbin/rsyslogd");
        let without = modules(&["imtcp.so", "imudp.so"]);
        assert_eq!(
            missing_in(Some(bin), &[without.path().to_owned()]).as_deref(),
            Some("rsyslog's gtls module is missing (apt-get install rsyslog-gnutls)")
        );
        let all = modules(&["imtcp.so", "imudp.so", "lmnsd_gtls.so"]);
        let dirs = [without.path().to_owned(), all.path().to_owned()];
        assert_eq!(missing_in(Some(bin), &dirs), None);
        assert_eq!(
            missing_in(Some(bin), &[PathBuf::from("/nonexistent/rsyslog")]).as_deref(),
            Some("rsyslog's imtcp module is missing (apt-get install rsyslog)")
        );
        assert_eq!(
            missing_in(None, &dirs).as_deref(),
            Some("rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)")
        );
    }
}
