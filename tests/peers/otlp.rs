//! OTLP receivers for the tests, built on the official `opentelemetry-proto`
//! messages: an OTLP/HTTP one (tiny_http; decodes the protobuf body,
//! gunzips it if `Content-Encoding: gzip`) and an OTLP/gRPC one (a tonic
//! server of `LogsService` on a tokio runtime in its own thread). Both
//! listen on 127.0.0.1, keep every request they accepted, and can be told
//! to answer with an error instead (HTTP 503 or 400, gRPC UNAVAILABLE or
//! INVALID_ARGUMENT). The gRPC one also runs over TLS
//! ([`GrpcReceiver::start_tls`], tonic's server TLS); the OTLP/HTTP
//! handler ([`handle_http`]) serves an HTTPS receiver of its own too.
//!
//! Included by the root integration tests (`#[path = "peers/otlp.rs"] mod
//! otlp;`) and by the sink crate's unit tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashSet;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message as _;
use tonic::codec::CompressionEncoding;

/// What a receiver got.
#[derive(Debug, Default)]
pub struct Received {
    /// The requests it accepted (answered with success), in arrival order.
    pub requests: Vec<ExportLogsServiceRequest>,
    /// Of them, how many came gzipped.
    pub gzipped: usize,
    /// Requests it answered with an error.
    pub failed: usize,
    /// The peer addresses the requests came from (one per connection).
    pub peers: HashSet<SocketAddr>,
    /// Anything wrong with a request (wrong path, content type, …).
    pub faults: Vec<String>,
}

impl Received {
    /// Records in the accepted requests.
    pub fn record_count(&self) -> usize {
        self.requests.iter().map(count_records).sum()
    }
}

/// Records in a request.
pub fn count_records(req: &ExportLogsServiceRequest) -> usize {
    req.resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .map(|sl| sl.log_records.len())
        .sum()
}

/// One record with where it sat: the resource's attributes, the scope's
/// name.
#[derive(Debug, Clone)]
pub struct Flat {
    pub resource: Vec<KeyValue>,
    pub scope: String,
    pub record: LogRecord,
}

/// Every record of `requests`, in order.
pub fn flatten(requests: &[ExportLogsServiceRequest]) -> Vec<Flat> {
    let mut out = Vec::new();
    for rl in requests.iter().flat_map(|r| &r.resource_logs) {
        let resource = rl
            .resource
            .as_ref()
            .map(|r| r.attributes.clone())
            .unwrap_or_default();
        for sl in &rl.scope_logs {
            let scope = sl
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for record in &sl.log_records {
                out.push(Flat {
                    resource: resource.clone(),
                    scope: scope.clone(),
                    record: record.clone(),
                });
            }
        }
    }
    out
}

/// The value of attribute `key` in `kvs` (the first one).
pub fn attr<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// A string attribute.
pub fn attr_str<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(kvs, key) {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// An int attribute.
pub fn attr_int(kvs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(kvs, key) {
        Some(any_value::Value::IntValue(v)) => Some(*v),
        _ => None,
    }
}

/// The body as a string.
pub fn body(r: &LogRecord) -> Option<&str> {
    match r.body.as_ref().and_then(|b: &AnyValue| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// State shared by a receiver's thread and the test.
#[derive(Debug, Default)]
pub struct Shared {
    got: Mutex<Received>,
    changed: Condvar,
    /// The HTTP status to answer with (200: accept).
    answer: Mutex<u16>,
    /// Set when the receiver is dropped.
    stopping: AtomicBool,
}

impl Shared {
    /// A new receiver's state: nothing received, answering 200.
    pub fn new() -> Arc<Self> {
        Arc::new(Shared {
            answer: Mutex::new(200),
            ..Default::default()
        })
    }

    fn lock(&self) -> MutexGuard<'_, Received> {
        self.got.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn answer(&self) -> u16 {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_answer(&self, status: u16) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }

    fn update(&self, f: impl FnOnce(&mut Received)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits until `records` records were accepted (or `timeout` passed)
    /// and returns what was received.
    fn wait_records(&self, records: usize, timeout: Duration) -> MutexGuard<'_, Received> {
        let deadline = Instant::now() + timeout;
        let mut got = self.lock();
        while got.record_count() < records {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            got = self
                .changed
                .wait_timeout(got, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        got
    }
}

/// An OTLP/HTTP receiver on 127.0.0.1 (`POST /v1/logs`).
/// What both receivers answer to. (Import it: `use otlp::Receiver as _;`.)
pub trait Receiver {
    /// `otlp+http` or `otlp+grpc`.
    const SCHEME: &'static str;

    /// Where it listens and what it shares with its server thread.
    fn parts(&self) -> (SocketAddr, &Shared);

    /// The port it listens on.
    fn port(&self) -> u16 {
        self.parts().0.port()
    }

    /// Its `otlp+http://` or `otlp+grpc://` URL.
    fn url(&self) -> String {
        format!("{}://{}", Self::SCHEME, self.parts().0)
    }

    /// Answers the next requests with `status`: 200 accepts them; over
    /// gRPC, 400 is INVALID_ARGUMENT and anything else UNAVAILABLE.
    fn answer_with(&self, status: u16) {
        self.parts().1.set_answer(status);
    }

    /// Waits until `records` records were accepted (at most `timeout`).
    fn wait_records(&self, records: usize, timeout: Duration) -> MutexGuard<'_, Received> {
        self.parts().1.wait_records(records, timeout)
    }

    /// What it got so far.
    fn received(&self) -> MutexGuard<'_, Received> {
        self.parts().1.lock()
    }
}

impl Receiver for HttpReceiver {
    const SCHEME: &'static str = "otlp+http";
    fn parts(&self) -> (SocketAddr, &Shared) {
        (self.addr, &self.shared)
    }
}

impl Receiver for GrpcReceiver {
    const SCHEME: &'static str = "otlp+grpc";
    fn parts(&self) -> (SocketAddr, &Shared) {
        (self.addr, &self.shared)
    }
    /// `otlp+grpc://…`, or `otlp+grpcs://…` over TLS.
    fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }
}

pub struct HttpReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl HttpReceiver {
    /// Listens on a free loopback port.
    pub fn start() -> Self {
        Self::start_at("127.0.0.1:0")
    }

    /// Listens on `addr`.
    pub fn start_at(addr: &str) -> Self {
        // A receiver just dropped on this port may hold it a moment (its
        // accept thread ends on its own).
        let server = retry_bind(|| tiny_http::Server::http(addr).map_err(|e| e.to_string()));
        let server = Arc::new(server);
        let addr = server.server_addr().to_ip().expect("an IP listener");
        let shared = Shared::new();
        let thread = {
            let (server, shared) = (Arc::clone(&server), Arc::clone(&shared));
            std::thread::spawn(move || {
                loop {
                    match server.recv() {
                        Ok(req) => serve_http(req, &shared),
                        // `unblock()` at drop, after `stopping` is set.
                        Err(_) if shared.stopping.load(Ordering::SeqCst) => break,
                        Err(_) => {}
                    }
                }
            })
        };
        HttpReceiver {
            addr,
            shared,
            server,
            thread: Some(thread),
        }
    }
}

impl std::fmt::Debug for HttpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpReceiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
        join_briefly(self.thread.take());
    }
}

/// Binds, trying again for up to 2 s while the address is in use.
fn retry_bind<T>(mut bind: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match bind() {
            Ok(t) => return t,
            Err(e) if Instant::now() >= deadline => panic!("bind the receiver: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Joins a receiver's thread, leaving it behind after 2 s (a client that
/// still holds a connection open must not hang the test).
fn join_briefly(thread: Option<JoinHandle<()>>) {
    let Some(t) = thread else { return };
    let deadline = Instant::now() + Duration::from_secs(2);
    while !t.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if t.is_finished() {
        let _ = t.join();
    }
}

/// Checks, decodes and answers one HTTP request.
fn serve_http(mut req: tiny_http::Request, shared: &Shared) {
    let header = |name: &'static str| {
        req.headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_owned())
    };
    let content_type = header("Content-Type");
    let gzipped = header("Content-Encoding").as_deref() == Some("gzip");
    let (method, url) = (req.method().to_string(), req.url().to_owned());
    let peer = req.remote_addr().copied();
    let mut raw = Vec::new();
    let read = req.as_reader().read_to_end(&mut raw).map(|_| raw);
    let request = HttpRequest {
        method: &method,
        url: &url,
        content_type: content_type.as_deref(),
        gzipped,
        peer,
    };
    let (status, answer) = handle_http(&request, read, shared);
    let ct = tiny_http::Header::from_bytes("Content-Type", "application/x-protobuf")
        .expect("a valid header");
    let _ = req.respond(
        tiny_http::Response::from_data(answer)
            .with_status_code(status)
            .with_header(ct),
    );
}

/// An OTLP/HTTP request's head, as [`handle_http`] checks it.
#[derive(Debug)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub content_type: Option<&'a str>,
    /// `Content-Encoding: gzip`.
    pub gzipped: bool,
    pub peer: Option<SocketAddr>,
}

/// Checks and decodes one OTLP/HTTP request whose body read as `body`,
/// keeps it in `shared`, and returns the status and body to answer with.
pub fn handle_http(
    req: &HttpRequest<'_>,
    body: std::io::Result<Vec<u8>>,
    shared: &Shared,
) -> (u16, Vec<u8>) {
    let mut faults = Vec::new();
    if req.method != "POST" || req.url != "/v1/logs" {
        faults.push(format!("{} {}", req.method, req.url));
    }
    if req.content_type != Some("application/x-protobuf") {
        faults.push(format!("Content-Type {:?}", req.content_type));
    }
    let body = if req.gzipped {
        body.and_then(|raw| {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map(|_| out)
        })
    } else {
        body
    };
    let decoded = body
        .map_err(|e| e.to_string())
        .and_then(|b| ExportLogsServiceRequest::decode(&b[..]).map_err(|e| e.to_string()));
    let status = match (&decoded, shared.answer()) {
        (Err(_), _) => 400,
        (Ok(_), s) => s,
    };
    shared.update(|got| {
        got.faults.extend(faults);
        got.peers.extend(req.peer);
        match decoded {
            Ok(request) if status == 200 => {
                got.requests.push(request);
                got.gzipped += usize::from(req.gzipped);
            }
            Ok(_) => got.failed += 1,
            Err(e) => {
                got.failed += 1;
                got.faults.push(format!("undecodable body: {e}"));
            }
        }
    });
    let answer = if status == 200 {
        ExportLogsServiceResponse::default().encode_to_vec()
    } else {
        b"no".to_vec()
    };
    (status, answer)
}

/// An OTLP/gRPC receiver on 127.0.0.1: tonic's `LogsServiceServer`
/// (accepting gzip) on a tokio runtime in its own thread.
#[derive(Debug)]
pub struct GrpcReceiver {
    addr: SocketAddr,
    /// `otlp+grpc`, or `otlp+grpcs` over TLS.
    scheme: &'static str,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The `LogsService` of [`GrpcReceiver`].
#[derive(Debug)]
struct Service {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl LogsService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let gzipped = request
            .metadata()
            .get("grpc-encoding")
            .is_some_and(|v| v.as_bytes() == b"gzip");
        let peer = request.remote_addr();
        let status = self.shared.answer();
        self.shared.update(|got| {
            got.peers.extend(peer);
            if status == 200 {
                got.requests.push(request.into_inner());
                got.gzipped += usize::from(gzipped);
            } else {
                got.failed += 1;
            }
        });
        match status {
            200 => Ok(tonic::Response::new(ExportLogsServiceResponse::default())),
            400 => Err(tonic::Status::invalid_argument("told to refuse")),
            _ => Err(tonic::Status::unavailable("told to be down")),
        }
    }
}

impl GrpcReceiver {
    /// Listens on a free loopback port.
    pub fn start() -> Self {
        Self::start_at("127.0.0.1:0")
    }

    /// Listens on `addr`.
    pub fn start_at(addr: &str) -> Self {
        Self::serve(addr, None)
    }

    /// Listens on a free loopback port over TLS (`otlp+grpcs`): `tls`
    /// holds the server's certificate, and the CA of the client
    /// certificates it requires, if any.
    pub fn start_tls(tls: tonic::transport::ServerTlsConfig) -> Self {
        Self::serve("127.0.0.1:0", Some(tls))
    }

    fn serve(addr: &str, tls: Option<tonic::transport::ServerTlsConfig>) -> Self {
        let scheme = if tls.is_some() {
            "otlp+grpcs"
        } else {
            "otlp+grpc"
        };
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).expect("server TLS settings");
        }
        let listener = retry_bind(|| std::net::TcpListener::bind(addr).map_err(|e| e.to_string()));
        let addr = listener.local_addr().expect("its address");
        listener.set_nonblocking(true).expect("non-blocking");
        let shared = Shared::new();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let service = LogsServiceServer::new(Service {
            shared: Arc::clone(&shared),
        })
        .accept_compressed(CompressionEncoding::Gzip);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let incoming = tonic::transport::server::TcpIncoming::from(listener);
                let serve = builder.serve_with_incoming(service, incoming);
                tokio::select! {
                    _ = serve => {}
                    _ = stopped => {}
                }
            });
            // A hard stop, as a collector that dies: dropping the runtime
            // ends the connections' tasks and closes their sockets.
            drop(rt);
        });
        GrpcReceiver {
            addr,
            scheme,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for GrpcReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        join_briefly(self.thread.take());
    }
}
