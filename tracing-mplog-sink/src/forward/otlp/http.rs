//! OTLP/HTTP: each batch is one `POST` of a protobuf
//! `ExportLogsServiceRequest` (gzipped if the destination says so) on a
//! kept-alive HTTP/1.1 connection, with ureq (blocking: the exporter runs
//! on its own thread); over TLS for `otlp+https`, with ureq's rustls
//! connector given the destination's roots, client certificate and the
//! ring provider.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message as _;

use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

use super::encode;
use crate::forward::tls::{self, ClientTls};
use crate::forward::{
    Destination, DestinationError, EXPORT_TIMEOUT, ExportError, Exporter, Record,
};

/// The largest answer body read (a partial-success message or an error
/// status): enough for any sane receiver, bounded against a broken one.
const MAX_ANSWER: u64 = 1 << 20;

/// A stale connection fails at once; a failure later than this is not one
/// (and a second try would stretch the export past `EXPORT_TIMEOUT`).
const STALE_RETRY_WITHIN: Duration = Duration::from_secs(1);

/// An `otlp+http://` or `otlp+https://` destination.
#[derive(Debug)]
pub(crate) struct HttpExporter {
    agent: ureq::Agent,
    url: String,
    gzip: bool,
    /// Over TLS without a client certificate: a connection the receiver
    /// closed may be its refusal of a client without one.
    hint: bool,
}

impl HttpExporter {
    /// The exporter of `dest` (connects on the first export); fails on
    /// TLS files that cannot work.
    pub(crate) fn new(dest: &Destination) -> Result<Self, DestinationError> {
        let tls = super::client_tls(dest)?;
        let mut config = ureq::Agent::config_builder();
        if let Some(tls) = &tls {
            let settings = tls_config(tls).map_err(|reason| DestinationError {
                url: dest.url().to_owned(),
                reason,
            })?;
            config = config.tls_config(settings);
        }
        let agent = config
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
        Ok(HttpExporter {
            agent,
            url: format!(
                "{}://{}:{}{}",
                if tls.is_some() { "https" } else { "http" },
                super::authority_host(dest.host()),
                dest.port(),
                dest.path()
            ),
            gzip: dest.options().gzip,
            hint: tls.as_ref().is_some_and(|t| t.identity.is_none()),
        })
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

/// ureq's TLS settings for `tls`: its rustls connector with the ring
/// provider, exactly these roots (no bundled ones), and the client
/// certificate if any. `ClientTls::load` built the same settings with
/// rustls already (and checked the key against the certificate), so ureq
/// cannot fail to build them.
fn tls_config(tls: &ClientTls) -> Result<TlsConfig, String> {
    let roots: Vec<Certificate<'static>> = tls
        .root_certs
        .iter()
        .map(|c| Certificate::from_der(c).to_owned())
        .collect();
    let client = match &tls.identity {
        Some(id) => {
            let chain: Vec<Certificate<'static>> = id
                .chain
                .iter()
                .map(|c| Certificate::from_der(c).to_owned())
                .collect();
            // The first key of the file, as `ClientTls::load` took it.
            let key = PrivateKey::from_pem(&id.key_pem).map_err(|e| format!("tls-key: {e}"))?;
            Some(ClientCert::new_with_certs(&chain, key))
        }
        None => None,
    };
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .root_certs(RootCerts::new_with_certs(&roots))
        .client_cert(client)
        .build())
}

/// A failed request in words: a TLS failure says what failed; with
/// `hint`, a connection the receiver closed says it may want a client
/// certificate.
fn why(e: &ureq::Error, hint: bool) -> String {
    let tls = match e {
        ureq::Error::Rustls(r) => Some(tls::describe(r)),
        ureq::Error::Io(io) => tls::explain(io),
        _ => None,
    };
    match (tls, e) {
        (Some(why), _) => why,
        (None, ureq::Error::Io(io)) if hint && tls::closed_by_peer(io) => {
            format!("{e}{}", tls::CLIENT_CERT_HINT)
        }
        (None, _) => e.to_string(),
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
        .map_err(|e| ExportError::Down(format!("POST {}: {}", self.url, why(&e, self.hint))))?;
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
