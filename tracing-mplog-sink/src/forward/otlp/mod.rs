//! OTLP exporters: `otlp+http://` (OTLP/HTTP, protobuf bodies, `POST` to
//! the URL's path, `/v1/logs` by default) and `otlp+grpc://` (OTLP/gRPC,
//! `opentelemetry.proto.collector.logs.v1.LogsService/Export`), and the
//! same over TLS, `otlp+https://` and `otlp+grpcs://`, built on the
//! official `opentelemetry-proto` messages. Each export sends the
//! batch (up to `Destination::max_batch()` records) as ONE
//! `ExportLogsServiceRequest`, gzipped when `Destination::gzipped()`
//! (`Content-Encoding: gzip`, or gRPC's `grpc-encoding: gzip`).
//!
//! # The mapping
//!
//! One `ResourceLogs` per process of the batch (same host, pid and process
//! name), in order of first appearance; in it one `ScopeLogs` per target,
//! in order of first appearance; in each the records in batch order.
//!
//! | OTLP | from the record |
//! |---|---|
//! | resource `service.name` (string) | the process name |
//! | resource `process.pid` (int) | the pid |
//! | resource `host.name` (string) | the worker's host |
//! | `InstrumentationScope.name` | the target (version empty) |
//! | `time_unix_nano` | the event's timestamp (worker's clock; 0 before 1970) |
//! | `observed_time_unix_nano` | when the sink received it |
//! | `severity_number` | TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17; Python CRITICAL (levelno ≥ 50) 21 |
//! | `severity_text` | the level's name (`INFO`, or Python's `levelname`) |
//! | `body` | the message, a string (empty if the event had none) |
//! | attributes, first | each field in order, named as written (a raw identifier's `r#` stripped): i64 → int; u64, i128, u128 → int if it fits i64, else its decimal string; f64 → double; bool → bool; strings and `Debug` values → string |
//! | `code.namespace` (string) | the module path, if known |
//! | `code.filepath` (string) | the file, if known |
//! | `code.lineno` (int) | the line, if known |
//! | `thread.id` (int) | the worker's thread id (its decimal string beyond i64) |
//! | `thread.name` (string) | the thread's name, if known |
//! | `span.scope` (string) | with spans only: the scope as the files print it, `outer{a=1}:inner` |
//! | `span.names` (array of strings) | with spans only: the span names, outermost first |
//!
//! Trace and span ids, flags, `event_name` and the schema URLs are left
//! empty.
//!
//! # Answers
//!
//! HTTP 2xx and gRPC OK are success, a partial success (records the
//! receiver rejected) included: sending those again would be rejected
//! again. No answer within `EXPORT_TIMEOUT`, a connection failure, HTTP
//! 408, 429 and 5xx, and the gRPC codes other than those below are
//! `ExportError::Down`: the batch is sent again after a back-off. Other
//! HTTP statuses (400, 401, 404, 413, a redirect, …) and gRPC
//! INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED,
//! UNAUTHENTICATED, FAILED_PRECONDITION and UNIMPLEMENTED are
//! `ExportError::Refused`: the batch is dropped.
//!
//! # Connections
//!
//! OTLP/HTTP keeps one connection alive between exports (HTTP/1.1, no
//! proxy from the environment, no redirects followed). A request that
//! fails at once on a kept-alive connection the receiver had just closed
//! (reset, broken pipe, end of stream) is sent once more on a new
//! connection. OTLP/gRPC keeps its HTTP/2 channel while exports succeed or
//! are refused, and connects anew after a failure. Every export, connect
//! included, is bounded by `EXPORT_TIMEOUT`.
//!
//! # TLS
//!
//! `otlp+https` and `otlp+grpcs` use rustls on the ring provider (TLS 1.2
//! and 1.3; gRPC negotiates `h2` by ALPN). The receiver's certificate must
//! chain to the roots of `tls-ca` (PEM) or, without it, to the system's
//! (rustls-native-certs), and name the URL's host (a DNS name, or an IP
//! address SAN). With `tls-cert` and `tls-key` the exporter presents that
//! client certificate (mutual TLS). The files are read and checked
//! together when the sink starts (`forward::tls`): a missing file, a
//! file without certificates, or a key that does not match the
//! certificate stops it. A handshake that fails (a certificate that does
//! not verify, a receiver that refuses ours) is a connection failure,
//! `ExportError::Down`, and its message says what failed.
//!
//! | module | concern |
//! |---|---|
//! | `encode` | records → `ExportLogsServiceRequest` |
//! | `http` | OTLP/HTTP with ureq (TLS: its rustls connector) |
//! | `grpc` | OTLP/gRPC with tonic (TLS: its `ClientTlsConfig`) |

#[cfg(feature = "otlp")]
mod encode;
#[cfg(feature = "otlp")]
mod grpc;
#[cfg(feature = "otlp")]
mod http;

#[cfg(all(test, feature = "otlp"))]
mod tests;

#[cfg(all(test, feature = "otlp"))]
#[path = "../../../../tests/peers/otlp.rs"]
mod receivers;

#[cfg(feature = "otlp")]
use super::Protocol;
use super::{Destination, DestinationError, Exporter};

/// The exporter of an `otlp+http`, `otlp+https`, `otlp+grpc` or
/// `otlp+grpcs` destination; fails on TLS files that cannot work.
#[cfg(feature = "otlp")]
pub(crate) fn exporter(dest: &Destination) -> Result<Box<dyn Exporter>, DestinationError> {
    match dest.protocol() {
        Protocol::OtlpGrpc | Protocol::OtlpGrpcs => Ok(Box::new(grpc::GrpcExporter::new(dest)?)),
        _ => Ok(Box::new(http::HttpExporter::new(dest)?)),
    }
}

/// The TLS settings of `dest` if it runs over TLS (`otlp+https`,
/// `otlp+grpcs`), read and checked now.
#[cfg(feature = "otlp")]
fn client_tls(dest: &Destination) -> Result<Option<super::tls::ClientTls>, DestinationError> {
    if !dest.protocol().is_tls() {
        return Ok(None);
    }
    super::tls::ClientTls::load(dest)
        .map(Some)
        .map_err(|reason| DestinationError {
            url: dest.url().to_owned(),
            reason,
        })
}

/// Without the `otlp` feature, OTLP destinations are refused at start.
#[cfg(not(feature = "otlp"))]
pub(crate) fn exporter(dest: &Destination) -> Result<Box<dyn Exporter>, DestinationError> {
    Err(DestinationError {
        url: dest.url().to_owned(),
        reason: "OTLP forwarding is not built in: build tracing-mplog-sink with its \
                 feature `otlp` (on by default)"
            .into(),
    })
}

/// The host as a URL's authority needs it: an IPv6 address in brackets.
#[cfg(feature = "otlp")]
fn authority_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}
