//! Forwarding to OTLP over TLS end to end, on loopback. The real
//! `mplog-sink` binary forwards (`[[forward]]` tables) to receivers whose
//! certificates a private CA made with rcgen signed: `otlp+https` to the
//! HTTPS receiver of this file (rustls around the OTLP/HTTP handler of
//! `tests/peers/otlp.rs`), `otlp+grpcs` to the gRPC receiver over tonic's
//! server TLS. Real workers log typed events:
//!
//! - with `tls-ca`, and with the system's roots (`SSL_CERT_FILE`, which
//!   rustls-native-certs reads), every record arrives once with its
//!   content;
//! - receivers that require client certificates take ours (`tls-cert`,
//!   `tls-key`), and refuse a destination without one, which the sink
//!   explains;
//! - a server certificate of another CA is refused: nothing arrives, the
//!   destination shows down in `/metrics`, its records are counted as
//!   dropped (metrics and report), and the sink says once why.

#[path = "peers/otlp.rs"]
mod otlp;
mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use mplog_test_support::{Ca, RunningSink, TIMEOUT, http_get, metric};
use otlp::{GrpcReceiver, HttpRequest, Received, Receiver, Shared};
use support::{Setup, assert_all_forwarded, assert_files_complete, file_sink, run_typed_workers};

const WORKERS: u64 = 2;
const EVENTS: u64 = 1_000;

/// A private CA's certificate, and the server certificate (for
/// 127.0.0.1) and client certificate it signed, with their keys: PEM files.
struct Pki {
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
}

impl Pki {
    fn new(dir: &Path, name: &str) -> Self {
        let ca = Ca::new(name);
        Pki {
            ca: ca.write(&dir.join(format!("{name}-ca.pem"))),
            server: ca.leaf(dir, &format!("{name}-server"), &["127.0.0.1"], false, false),
            client: ca.leaf(dir, &format!("{name}-client"), &["sink.test"], true, false),
        }
    }

    /// The rustls settings of a receiver with our server certificate;
    /// with `clients`, client certificates of this CA are required.
    fn rustls_server(&self, clients: bool) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = if clients {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(&self.ca).expect("CA") {
                roots.add(c.expect("CA cert")).expect("CA root");
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain = CertificateDer::pem_file_iter(&self.server.0)
            .expect("server cert")
            .collect::<Result<Vec<_>, _>>()
            .expect("server chain");
        let key = PrivateKeyDer::from_pem_file(&self.server.1).expect("server key");
        Arc::new(
            builder
                .with_single_cert(chain, key)
                .expect("server settings"),
        )
    }

    /// tonic's server TLS with our server certificate; with `clients`,
    /// client certificates of this CA are required.
    fn tonic_server(&self, clients: bool) -> tonic::transport::ServerTlsConfig {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let read = |p: &Path| std::fs::read(p).expect("read PEM");
        let tls = ServerTlsConfig::new().identity(Identity::from_pem(
            read(&self.server.0),
            read(&self.server.1),
        ));
        if clients {
            tls.client_ca_root(Certificate::from_pem(read(&self.ca)))
        } else {
            tls
        }
    }
}

/// What the HTTPS receiver saw of TLS.
#[derive(Debug, Default)]
struct Handshakes {
    /// Handshakes that completed, and of them those with a client
    /// certificate.
    done: usize,
    with_client_cert: usize,
    /// Why the others failed.
    failed: Vec<String>,
}

/// An OTLP/HTTP receiver over TLS on 127.0.0.1: a thread per connection
/// runs the rustls handshake, then reads HTTP/1.1 requests (keep-alive,
/// `Content-Length` bodies, as ureq sends them) and answers each with
/// `otlp::handle_http`, the plain receiver's handler.
struct HttpsReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    handshakes: Arc<Mutex<Handshakes>>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver for HttpsReceiver {
    const SCHEME: &'static str = "otlp+https";
    fn parts(&self) -> (SocketAddr, &Shared) {
        (self.addr, &self.shared)
    }
}

impl HttpsReceiver {
    fn start(config: Arc<ServerConfig>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Shared::new();
        let handshakes = Arc::new(Mutex::new(Handshakes::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, handshakes, stopping) = (
                Arc::clone(&shared),
                Arc::clone(&handshakes),
                Arc::clone(&stopping),
            );
            std::thread::spawn(move || {
                for tcp in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(tcp) = tcp else { continue };
                    let (config, shared, handshakes) = (
                        Arc::clone(&config),
                        Arc::clone(&shared),
                        Arc::clone(&handshakes),
                    );
                    std::thread::spawn(move || serve_tls(tcp, config, &shared, &handshakes));
                }
            })
        };
        HttpsReceiver {
            addr,
            shared,
            handshakes,
            stopping,
            thread: Some(thread),
        }
    }

    fn handshakes(&self) -> std::sync::MutexGuard<'_, Handshakes> {
        self.handshakes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for HttpsReceiver {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which sees `stopping`.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One TLS connection: the handshake, then requests until the client
/// closes (or stays silent for 30 s).
fn serve_tls(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    shared: &Shared,
    handshakes: &Mutex<Handshakes>,
) {
    let peer = tcp.peer_addr().ok();
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            let mut h = handshakes.lock().unwrap_or_else(|e| e.into_inner());
            h.failed.push(e.to_string());
            return;
        }
    }
    {
        let mut h = handshakes.lock().unwrap_or_else(|e| e.into_inner());
        h.done += 1;
        h.with_client_cert += usize::from(tls.conn.peer_certificates().is_some());
    }
    let mut reader = BufReader::new(tls);
    while let Some((head, headers, body)) = read_request(&mut reader) {
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let mut parts = head.split(' ');
        let request = HttpRequest {
            method: parts.next().unwrap_or_default(),
            url: parts.next().unwrap_or_default(),
            content_type: header("content-type").map(String::as_str),
            gzipped: header("content-encoding").is_some_and(|v| v == "gzip"),
            peer,
        };
        let (status, answer) = otlp::handle_http(&request, Ok(body), shared);
        let out = reader.get_mut();
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/x-protobuf\r\n\
             Content-Length: {}\r\n\r\n",
            if status == 200 { "OK" } else { "Error" },
            answer.len()
        );
        if out
            .write_all(head.as_bytes())
            .and_then(|()| out.write_all(&answer))
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
    }
}

/// One request: its first line, its headers (names in lower case) and
/// its `Content-Length` body; `None` at the end of the connection.
type Request = (String, Vec<(String, String)>, Vec<u8>);

fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let head = line.trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((head, headers, body))
}

/// A sink forwarding as `tables` says (`[[forward]]` tables), with
/// `/metrics` on, its environment plus `env`; returns it once listening,
/// with the address of its metrics.
fn start_sink(
    s: &Setup,
    tables: &str,
    env: &[(&str, &Path)],
    drain: &str,
) -> (RunningSink, String) {
    let config = s.dir.path().join("sink.toml");
    std::fs::write(&config, tables).expect("config");
    let mut cmd = file_sink(&s.socket(), &s.logdir());
    cmd.arg(format!("--config={}", config.display()))
        .arg("--metrics-listen=127.0.0.1:0")
        .arg(format!("--forward-drain={drain}"))
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let sink = RunningSink::start(cmd);
    let addr = sink.metrics_addr();
    sink.wait_prefix("listening on unix:");
    (sink, addr)
}

/// A `[[forward]]` table for `url` with `extra` keys naming files.
fn table(url: &str, extra: &[(&str, &Path)]) -> String {
    let mut t = format!("[[forward]]\nurl = \"{url}\"\n");
    for (k, v) in extra {
        t.push_str(&format!("{k} = \"{}\"\n", v.display()));
    }
    t.push('\n');
    t
}

/// Every `w{id} e{n}` exactly once, with its process as the resource, the
/// level as the severity and its `n` field.
fn check_content(got: &Received, pids: &HashMap<u64, u32>, which: &str) {
    assert_eq!(got.faults, Vec::<String>::new(), "{which}");
    assert_eq!(got.failed, 0, "{which}");
    let host = tracing_mplog::origin::hostname();
    let mut seen = HashSet::new();
    for f in otlp::flatten(&got.requests) {
        let msg = otlp::body(&f.record).unwrap_or_default().to_owned();
        let (id, n): (u64, u64) = msg
            .strip_prefix('w')
            .and_then(|m| m.split_once(" e"))
            .and_then(|(id, n)| Some((id.parse().ok()?, n.parse().ok()?)))
            .unwrap_or_else(|| panic!("{which}: body {msg:?}"));
        assert!(seen.insert((id, n)), "{which}: {msg} twice");
        let name = format!("worker-{id}");
        let res = &f.resource;
        assert_eq!(otlp::attr_str(res, "service.name"), Some(name.as_str()));
        assert_eq!(otlp::attr_int(res, "process.pid"), Some(pids[&id].into()));
        assert_eq!(otlp::attr_str(res, "host.name"), Some(host.as_str()));
        assert_eq!(f.scope, "mplog_test_worker", "{which}: {msg}");
        let severity = [13, 9, 17, 5][(n % 4) as usize];
        assert_eq!(f.record.severity_number, severity, "{which}: {msg}");
        assert_eq!(
            otlp::attr(&f.record.attributes, "n"),
            Some(&Value::IntValue(n as i64)),
            "{which}: {msg}"
        );
    }
    assert_eq!(seen.len() as u64, WORKERS * EVENTS, "{which}");
}

/// Stops the sink after every receiver got all records; checks its report
/// and files, and returns its stderr.
fn finish(s: &Setup, sink: RunningSink, urls: &[String], waits: &[&dyn Fn() -> usize]) -> String {
    let total = (WORKERS * EVENTS) as usize;
    let counts: Vec<usize> = waits.iter().map(|w| w()).collect();
    let stderr = sink.stop();
    assert_all_forwarded(&counts, total, urls, &stderr);
    assert_files_complete(&s.logdir(), WORKERS, EVENTS);
    stderr
}

#[test]
fn otlp_https_and_grpcs_with_a_private_ca_get_every_record_with_its_content() {
    let s = Setup::new();
    let pki = Pki::new(s.dir.path(), "private");
    let https = HttpsReceiver::start(pki.rustls_server(false));
    let grpcs = GrpcReceiver::start_tls(pki.tonic_server(false));
    assert!(grpcs.url().starts_with("otlp+grpcs://127.0.0.1:"));
    // HTTPS trusts the CA of `tls-ca`; gRPC the "system's" roots, which
    // rustls-native-certs reads from SSL_CERT_FILE when it is set.
    let tables = table(&https.url(), &[("tls-ca", &pki.ca)]) + &table(&grpcs.url(), &[]);
    let (sink, _) = start_sink(&s, &tables, &[("SSL_CERT_FILE", &pki.ca)], "5s");
    let pids = run_typed_workers(&s, WORKERS, EVENTS);
    let total = (WORKERS * EVENTS) as usize;
    finish(
        &s,
        sink,
        &[https.url(), grpcs.url()],
        &[
            &|| https.wait_records(total, TIMEOUT).record_count(),
            &|| grpcs.wait_records(total, TIMEOUT).record_count(),
        ],
    );
    check_content(&https.received(), &pids, "https");
    check_content(&grpcs.received(), &pids, "grpcs");
    let h = https.handshakes();
    assert!(h.done >= 1 && h.failed.is_empty(), "{h:?}");
    assert_eq!(h.with_client_cert, 0, "{h:?}");
}

#[test]
fn receivers_requiring_client_certificates_take_ours_and_refuse_none() {
    let s = Setup::new();
    let pki = Pki::new(s.dir.path(), "mutual");
    let https = HttpsReceiver::start(pki.rustls_server(true));
    let grpcs = GrpcReceiver::start_tls(pki.tonic_server(true));
    let without = HttpsReceiver::start(pki.rustls_server(true));
    let grpc_without = GrpcReceiver::start_tls(pki.tonic_server(true));
    let (cert, key) = (&pki.client.0, &pki.client.1);
    let mtls: [(&str, &Path); 3] = [("tls-ca", &pki.ca), ("tls-cert", cert), ("tls-key", key)];
    let tables = table(&https.url(), &mtls)
        + &table(&grpcs.url(), &mtls)
        + &table(&without.url(), &[("tls-ca", &pki.ca)])
        + &table(&grpc_without.url(), &[("tls-ca", &pki.ca)]);
    let (sink, _) = start_sink(&s, &tables, &[], "1s");
    let pids = run_typed_workers(&s, WORKERS, EVENTS);
    let total = (WORKERS * EVENTS) as usize;
    let stderr = finish(
        &s,
        sink,
        &[https.url(), grpcs.url()],
        &[
            &|| https.wait_records(total, TIMEOUT).record_count(),
            &|| grpcs.wait_records(total, TIMEOUT).record_count(),
        ],
    );
    check_content(&https.received(), &pids, "https mTLS");
    check_content(&grpcs.received(), &pids, "grpcs mTLS");
    let h = https.handshakes();
    assert!(h.done >= 1 && h.done == h.with_client_cert, "{h:?}");
    // Without a client certificate: refused, nothing delivered, explained.
    assert_eq!(without.received().requests.len(), 0);
    let w = without.handshakes();
    assert!(!w.failed.is_empty() && w.done == 0, "{w:?}");
    assert_eq!(grpc_without.received().requests.len(), 0);
    for url in [without.url(), grpc_without.url()] {
        let down = format!("forward to {url}: the destination is down");
        let line = stderr
            .lines()
            .find(|l| l.contains(&down))
            .unwrap_or_else(|| panic!("no `{down}` in:\n{stderr}"));
        eprintln!("{line}");
        assert!(line.contains("client certificate"), "{line}");
        let report = format!("forwarded to {url}: 0 records, dropped {total}");
        assert!(stderr.contains(&report), "no `{report}` in:\n{stderr}");
    }
}

#[test]
fn a_server_certificate_of_another_ca_is_refused_counted_and_explained_once() {
    const QUEUE: u64 = 200;
    let s = Setup::new();
    let theirs = Pki::new(s.dir.path(), "theirs");
    let ours = Pki::new(s.dir.path(), "ours");
    let https = HttpsReceiver::start(theirs.rustls_server(false));
    let grpcs = GrpcReceiver::start_tls(theirs.tonic_server(false));
    let urls = [https.url(), grpcs.url()];
    let tables: String = urls
        .iter()
        .map(|u| table(u, &[("tls-ca", &ours.ca)]) + &format!("queue = {QUEUE}\n\n"))
        .collect();
    let (sink, metrics) = start_sink(&s, &tables, &[], "1s");
    run_typed_workers(&s, WORKERS, EVENTS);
    let total = (WORKERS * EVENTS) as f64;
    // The writer took every record; the destinations are down, their
    // queues full, the rest counted as dropped.
    let deadline = Instant::now() + TIMEOUT;
    let body = loop {
        let body = http_get(&metrics, "/metrics");
        let dropped: f64 = urls
            .iter()
            .filter_map(|u| metric(&body, "mplog_forward_dropped_total", &[("destination", u)]))
            .sum();
        let up: Vec<_> = urls
            .iter()
            .map(|u| metric(&body, "mplog_forward_up", &[("destination", u)]))
            .collect();
        // All but what each queue holds and the batch its thread retries,
        // once the first export failed.
        if dropped >= 2.0 * (total - QUEUE as f64 - 512.0) && up == [Some(0.0); 2] {
            break body;
        }
        assert!(Instant::now() < deadline, "not dropped:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for url in &urls {
        let d = [("destination", url.as_str())];
        assert_eq!(metric(&body, "mplog_forwarded_total", &d), Some(0.0));
    }
    let stderr = sink.stop();
    for url in &urls {
        let report = format!(
            "forwarded to {url}: 0 records, dropped {}",
            WORKERS * EVENTS
        );
        assert!(stderr.contains(&report), "no `{report}` in:\n{stderr}");
        let down: Vec<_> = stderr
            .lines()
            .filter(|l| l.contains(&format!("forward to {url}: the destination is down")))
            .collect();
        assert_eq!(down.len(), 1, "{url} reported down {} times", down.len());
        assert!(
            down[0].contains("certificate verification failed"),
            "{}",
            down[0]
        );
    }
    assert_eq!(https.received().requests.len(), 0);
    assert_eq!(grpcs.received().requests.len(), 0);
    // The HTTPS receiver saw the sink give up on its certificate.
    let h = https.handshakes();
    assert!(h.done == 0 && !h.failed.is_empty(), "{h:?}");
    assert_files_complete(&s.logdir(), WORKERS, EVENTS);
}
