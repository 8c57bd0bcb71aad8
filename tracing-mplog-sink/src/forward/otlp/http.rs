//! OTLP/HTTP: each batch is one `POST` of a protobuf
//! `ExportLogsServiceRequest` (gzipped if the destination says so) on a
//! kept-alive HTTP/1.1 connection, with ureq (blocking, no TLS: the
//! exporter runs on its own thread).

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message as _;

use super::encode;
use crate::forward::{Destination, EXPORT_TIMEOUT, ExportError, Exporter, Record};

/// The largest answer body read (a partial-success message or an error
/// status): enough for any sane receiver, bounded against a broken one.
const MAX_ANSWER: u64 = 1 << 20;

/// A stale connection fails at once; a failure later than this is not one
/// (and a second try would stretch the export past `EXPORT_TIMEOUT`).
const STALE_RETRY_WITHIN: Duration = Duration::from_secs(1);

/// An `otlp+http://` destination.
#[derive(Debug)]
pub(crate) struct HttpExporter {
    agent: ureq::Agent,
    url: String,
    gzip: bool,
}

impl HttpExporter {
    /// The exporter of `dest` (connects on the first export).
    pub(crate) fn new(dest: &Destination) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(EXPORT_TIMEOUT))
            // Our own status handling: 5xx and 429 are retried, 4xx dropped.
            .http_status_as_error(false)
            // The collector is reached as the URL says, never through a
            // proxy of the environment, and a redirect is an answer.
            .proxy(None)
            .max_redirects(0)
            .max_idle_connections_per_host(1)
            .user_agent(concat!("tracing-mplog-sink/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        HttpExporter {
            agent,
            url: format!(
                "http://{}:{}{}",
                super::authority_host(dest.host()),
                dest.port(),
                dest.path()
            ),
            gzip: dest.options().gzip,
        }
    }

    /// The request body: the encoded request, gzipped if asked.
    fn body(&self, batch: &[Arc<Record>]) -> Result<Vec<u8>, ExportError> {
        let raw = encode::request(batch).encode_to_vec();
        if !self.gzip {
            return Ok(raw);
        }
        let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
        gz.write_all(&raw)
            .and_then(|()| gz.finish())
            .map_err(|e| ExportError::Refused(format!("gzip: {e}")))
    }
}

impl HttpExporter {
    /// One `POST` of `body`.
    fn post(&self, body: &[u8]) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut req = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/x-protobuf");
        if self.gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        req.send(body)
    }
}

/// Whether a failed request looks like a kept-alive connection the
/// receiver had closed (reset, broken pipe, end of stream): a new
/// connection may well work. Refused connections and timeouts are not.
fn stale(e: &ureq::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
        ),
        _ => false,
    }
}

impl Exporter for HttpExporter {
    fn export(&mut self, batch: &[Arc<Record>]) -> Result<(), ExportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let body = self.body(batch)?;
        let t0 = Instant::now();
        let mut resp = match self.post(&body) {
            // The receiver closed the kept-alive connection just as the
            // request went out on it: once more, on a new connection.
            Err(e) if stale(&e) && t0.elapsed() < STALE_RETRY_WITHIN => self.post(&body),
            r => r,
        }
        .map_err(|e| ExportError::Down(format!("POST {}: {e}", self.url)))?;
        let status = resp.status();
        // Read the whole answer so the connection goes back to the pool.
        let answer = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec();
        if status.is_success() {
            // The records arrived even if the answer broke off. A partial
            // success (records the receiver rejected) is a success too:
            // sending them again would be rejected again.
            drop(answer);
            return Ok(());
        }
        let why = format!("POST {}: HTTP {status}", self.url);
        Err(classify(status.as_u16(), why))
    }
}

/// An HTTP error status: 408, 429 and 5xx are worth retrying (the OTLP
/// spec names 429, 502, 503 and 504); the rest (400, 401, 404, 413, a
/// redirect, …) would fail again.
fn classify(status: u16, why: String) -> ExportError {
    match status {
        408 | 429 | 500..=599 => ExportError::Down(why),
        _ => ExportError::Refused(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_retried_or_dropped() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(s, String::new()), ExportError::Down(_)),
                "{s}"
            );
        }
        for s in [301, 400, 401, 403, 404, 413, 415] {
            assert!(
                matches!(classify(s, String::new()), ExportError::Refused(_)),
                "{s}"
            );
        }
    }
}
