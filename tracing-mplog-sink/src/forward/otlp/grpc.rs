//! OTLP/gRPC: each batch is one `LogsService/Export` call with tonic's
//! generated `LogsServiceClient`, on a current-thread tokio runtime the
//! exporter owns (the exporter runs on its own thread and blocks on each
//! call, bounded by [`EXPORT_TIMEOUT`]). Over TLS for `otlp+grpcs`:
//! tonic's rustls connector (feature `tls-ring`) given the destination's
//! roots, client certificate and server name.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};

use super::encode;
use crate::forward::tls::{self, ClientTls};
use crate::forward::{
    Destination, DestinationError, EXPORT_TIMEOUT, ExportError, Exporter, Record,
};

/// An `otlp+grpc://` or `otlp+grpcs://` destination.
#[derive(Debug)]
pub(crate) struct GrpcExporter {
    runtime: tokio::runtime::Runtime,
    endpoint: Endpoint,
    /// The connected client; `None` before the first export and after a
    /// failure (the next export connects anew).
    client: Option<LogsServiceClient<Channel>>,
    gzip: bool,
    /// Over TLS without a client certificate: a connection the receiver
    /// closed may be its refusal of a client without one.
    hint: bool,
}

impl GrpcExporter {
    /// The exporter of `dest` (connects on the first export); fails on
    /// TLS files that cannot work.
    pub(crate) fn new(dest: &Destination) -> Result<Self, DestinationError> {
        let err = |reason: String| DestinationError {
            url: dest.url().to_owned(),
            reason,
        };
        let tls = super::client_tls(dest)?;
        let uri = format!(
            "{}://{}:{}",
            if tls.is_some() { "https" } else { "http" },
            super::authority_host(dest.host()),
            dest.port()
        );
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|e| err(format!("not a gRPC endpoint: {e}")))?
            .connect_timeout(EXPORT_TIMEOUT)
            .timeout(EXPORT_TIMEOUT)
            .tcp_nodelay(true)
            .user_agent(concat!("tracing-mplog-sink/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| err(format!("user agent: {e}")))?;
        if let Some(tls) = &tls {
            endpoint = endpoint
                .tls_config(tls_config(dest.host(), tls))
                .map_err(|e| err(format!("TLS settings: {}", chain(&e))))?;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| err(format!("cannot start the gRPC runtime: {e}")))?;
        Ok(GrpcExporter {
            runtime,
            endpoint,
            client: None,
            gzip: dest.options().gzip,
            hint: tls.as_ref().is_some_and(|t| t.identity.is_none()),
        })
    }
}

impl Exporter for GrpcExporter {
    fn export(&mut self, batch: &[Arc<Record>]) -> Result<(), ExportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let request = encode::request(batch);
        let endpoint = &self.endpoint;
        let (gzip, hint) = (self.gzip, self.hint);
        let mut client = self.client.take();
        let result = self.runtime.block_on(async {
            tokio::time::timeout(EXPORT_TIMEOUT, async {
                let mut c = match client.take() {
                    Some(c) => c,
                    None => {
                        let channel = endpoint.connect().await.map_err(|e| {
                            ExportError::Down(format!(
                                "connecting to {}: {}",
                                endpoint.uri(),
                                why(&e, hint)
                            ))
                        })?;
                        let c = LogsServiceClient::new(channel)
                            .accept_compressed(CompressionEncoding::Gzip);
                        if gzip {
                            c.send_compressed(CompressionEncoding::Gzip)
                        } else {
                            c
                        }
                    }
                };
                // A partial success (records the receiver rejected) is a
                // success: sending them again would be rejected again.
                let answer = c.export(request).await;
                client = Some(c);
                answer.map(drop).map_err(|s| failed(&s, hint))
            })
            .await
            .unwrap_or_else(|_| {
                Err(ExportError::Down(format!(
                    "{}: no answer within {EXPORT_TIMEOUT:?}",
                    endpoint.uri()
                )))
            })
        });
        // Keep the connection while it works (a refusal is an answer);
        // after a failure the next export connects anew.
        if !matches!(result, Err(ExportError::Down(_))) {
            self.client = client;
        }
        result
    }

    fn close(&mut self) {
        self.client = None;
    }
}

/// tonic's TLS settings for `tls`: exactly these roots (as trust anchors:
/// no bundled or system ones beyond what `tls` holds), the client
/// certificate if any, and `host` as the name the receiver's certificate
/// must carry (an IP address without brackets). tonic uses the ring
/// provider (its `tls-ring` feature) unless the process installed another.
fn tls_config(host: &str, tls: &ClientTls) -> ClientTlsConfig {
    let config = ClientTlsConfig::new()
        .domain_name(host)
        .trust_anchors(tls.roots.roots.iter().cloned())
        .timeout(EXPORT_TIMEOUT);
    match &tls.identity {
        Some(id) => config.identity(Identity::from_pem(&id.cert_pem, &id.key_pem)),
        None => config,
    }
}

/// An error with its sources (tonic's transport errors say little alone:
/// "transport error").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A failed call: [`classify`]d, and when it is to be retried, with what
/// broke underneath (tonic says only "transport error"). A receiver that
/// refused our client certificate does so after the handshake, so on the
/// first call: with `hint`, a call the transport failed (not an answer
/// of the receiver) says it may want one.
fn failed(status: &Status, hint: bool) -> ExportError {
    use std::error::Error as _;
    match classify(status) {
        ExportError::Down(code) => ExportError::Down(match status.source() {
            Some(source) => match tls::explain(source) {
                Some(tls) => format!("gRPC {:?}: {tls}", status.code()),
                None if hint => format!(
                    "gRPC {:?}: {}{}",
                    status.code(),
                    chain(source),
                    tls::CLIENT_CERT_HINT
                ),
                None => format!("gRPC {:?}: {}", status.code(), chain(source)),
            },
            None => code,
        }),
        refused => refused,
    }
}

/// A failed connect in words: a TLS failure says what failed; with
/// `hint`, a connection the receiver closed says it may want a client
/// certificate.
fn why(e: &(dyn std::error::Error + 'static), hint: bool) -> String {
    if let Some(why) = tls::explain(e) {
        return why;
    }
    let what = chain(e);
    if hint && tls::closed_by_peer(e) {
        format!("{what}{}", tls::CLIENT_CERT_HINT)
    } else {
        what
    }
}

/// A gRPC error status: the codes that say the request itself is wrong or
/// not allowed are final; everything else (UNAVAILABLE, DEADLINE_EXCEEDED,
/// RESOURCE_EXHAUSTED, and UNKNOWN or INTERNAL, which tonic also gives for
/// a connection that broke mid-call) is retried.
fn classify(status: &Status) -> ExportError {
    let why = format!("gRPC {:?}: {}", status.code(), status.message());
    match status.code() {
        Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::FailedPrecondition
        | Code::Unimplemented => ExportError::Refused(why),
        _ => ExportError::Down(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_retried_or_dropped() {
        for c in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Cancelled,
            Code::Aborted,
            Code::Unknown,
            Code::Internal,
            Code::DataLoss,
        ] {
            let e = classify(&Status::new(c, "x"));
            assert!(matches!(e, ExportError::Down(_)), "{c:?}");
        }
        for c in [
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::Unimplemented,
            Code::NotFound,
        ] {
            let e = classify(&Status::new(c, "bad"));
            assert_eq!(e, ExportError::Refused(format!("gRPC {c:?}: bad")));
        }
    }
}
