//! The destinations of `pipeline-forward`: a real rsyslogd (the tests'
//! harness, `tests/peers/rsyslog.rs`: imtcp on loopback into a file) and an
//! OTLP/HTTP receiver that decodes every request with the official
//! `opentelemetry-proto` messages (gunzipping if asked) and counts its
//! records, keeping nothing. No OpenTelemetry Collector installs here;
//! the receiver stands in for one and costs the bench process a thread.

use std::error::Error;
use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message as _;

#[path = "../../tests/peers/rsyslog.rs"]
mod rsyslog;

/// rsyslogd and the OTLP receiver, running (both, or one of them).
pub(crate) struct Destinations {
    rsyslog: Option<rsyslog::Rsyslog>,
    /// Whether records go to the OTLP receiver.
    otlp_on: bool,
    otlp: Arc<tiny_http::Server>,
    otlp_port: u16,
    otlp_records: Arc<AtomicU64>,
    otlp_thread: Option<JoinHandle<()>>,
}

impl Destinations {
    /// Starts rsyslogd if `syslog` (failing where it is not installed) and
    /// the OTLP receiver (used if `otlp`).
    pub(crate) fn start(syslog: bool, otlp: bool) -> Result<Self, Box<dyn Error>> {
        let rsyslog = match syslog {
            true => Some(
                rsyslog::Rsyslog::start()
                    .ok_or("pipeline-forward needs rsyslogd (apt-get install rsyslog)")?,
            ),
            false => None,
        };
        let server = Arc::new(
            tiny_http::Server::http("127.0.0.1:0").map_err(|e| format!("OTLP receiver: {e}"))?,
        );
        let otlp_port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or("OTLP receiver: no port")?;
        let otlp_records = Arc::new(AtomicU64::new(0));
        let (s, n) = (Arc::clone(&server), Arc::clone(&otlp_records));
        let otlp_thread = std::thread::spawn(move || receive(&s, &n));
        Ok(Destinations {
            rsyslog,
            otlp_on: otlp,
            otlp: server,
            otlp_port,
            otlp_records,
            otlp_thread: Some(otlp_thread),
        })
    }

    /// The `--forward` URLs.
    pub(crate) fn urls(&self) -> Vec<String> {
        let syslog = self
            .rsyslog
            .as_ref()
            .map(|r| format!("syslog+tcp://127.0.0.1:{}", r.tcp_port));
        let otlp = self
            .otlp_on
            .then(|| format!("otlp+http://127.0.0.1:{}", self.otlp_port));
        syslog.into_iter().chain(otlp).collect()
    }

    /// Waits (up to `timeout`) until rsyslog wrote `total` lines and the
    /// receiver counted `total` records; returns both counts (`total` for
    /// one that is not used).
    pub(crate) fn wait_delivered(
        &self,
        total: u64,
        timeout: Duration,
    ) -> Result<(u64, u64), Box<dyn Error>> {
        let out = self.rsyslog.as_ref().map(|r| r.dir().join("out.log"));
        let deadline = Instant::now() + timeout;
        loop {
            let lines = match &out {
                Some(out) => {
                    let text = std::fs::read(out).unwrap_or_default();
                    let probes = text
                        .split(|b| *b == b'\n')
                        .filter(|l| l.windows(13).any(|w| w == b"rsyslog-probe"))
                        .count() as u64;
                    text.iter().filter(|b| **b == b'\n').count() as u64 - probes
                }
                None => total,
            };
            let otlp = match self.otlp_on {
                true => self.otlp_records.load(Ordering::Relaxed),
                false => total,
            };
            if (lines >= total && otlp >= total) || Instant::now() >= deadline {
                return Ok((lines, otlp));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Destinations {
    fn drop(&mut self) {
        self.otlp.unblock();
        if let Some(t) = self.otlp_thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `POST` requests until unblocked: decode, count, answer 200.
fn receive(server: &tiny_http::Server, records: &AtomicU64) {
    while let Ok(mut request) = server.recv() {
        let gzipped = request
            .headers()
            .iter()
            .any(|h| h.field.equiv("Content-Encoding") && h.value.as_str() == "gzip");
        let mut body = Vec::new();
        let read = if gzipped {
            flate2::read::GzDecoder::new(request.as_reader()).read_to_end(&mut body)
        } else {
            request.as_reader().read_to_end(&mut body)
        };
        let decoded = read
            .ok()
            .and_then(|_| ExportLogsServiceRequest::decode(body.as_slice()).ok());
        let response = match decoded {
            Some(req) => {
                let n: usize = req
                    .resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .map(|s| s.log_records.len())
                    .sum();
                records.fetch_add(n as u64, Ordering::Relaxed);
                tiny_http::Response::from_data(ExportLogsServiceResponse::default().encode_to_vec())
            }
            None => tiny_http::Response::from_data(b"bad request".to_vec()).with_status_code(400),
        };
        let _ = request.respond(response);
    }
}
