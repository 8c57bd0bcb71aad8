//! Syslog destinations: RFC 5424 messages over TCP with octet-counting
//! framing (`syslog+tcp`, RFC 6587), over TLS (`syslog+tls`, RFC 5425) and
//! over UDP, one message per datagram (`syslog+udp`, RFC 5426).
//!
//! | module | concern |
//! |---|---|
//! | `message` | one record as an RFC 5424 message; datagram cutting; octet-counting frames |
//! | `stream` | TCP and TLS: connect, frame a batch, one write per batch, notice a closed peer |
//! | `tls` | the rustls client settings (feature `tls`), handshake and writes |
//! | `udp` | UDP: one datagram per record |
//! | `rsyslog_tests`, `transport_tests` | against a real rsyslog; against misbehaving peers |
//!
//! # The mapping
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`:
//!
//! | part | value |
//! |---|---|
//! | PRI | facility × 8 + severity; facility `user` (1) unless the destination sets one (0–23); severity ERROR 3, WARN 4, INFO 6, DEBUG and TRACE 7, a Python CRITICAL (levelno ≥ 50) 2 |
//! | VERSION | `1` |
//! | TIMESTAMP | when the event happened, in UTC, RFC 3339 with exactly six fraction digits (truncated to the microsecond) and a numeric offset: `2025-12-02T12:00:00.123456+00:00` |
//! | HOSTNAME | the worker's host (max 255 octets) |
//! | APP-NAME | the process name (max 48 octets) |
//! | PROCID | the pid |
//! | MSGID | the event's target (max 32 octets) |
//! | STRUCTURED-DATA | one element `[mplog@32473 name="value" …]` with every field of the event, in order; `-` without fields |
//! | MSG | the message, UTF-8 without a BOM; left out (with its SP) when empty |
//!
//! - HOSTNAME, APP-NAME, MSGID: each character outside PRINTUSASCII (`!` to
//!   `~`: spaces, control characters, non-ASCII) becomes `_`, then the text
//!   is cut to the RFC's maximum; an empty one is `-` (NILVALUE).
//! - SD-ID `mplog@32473`: 32473 is the enterprise number RFC 5612 reserves
//!   for documentation; tracing-mplog has none of its own.
//! - PARAM-NAME: the field name without a leading `r#`, each character
//!   outside PRINTUSASCII and each `=`, `]`, `"` made `_`, cut to 32 octets;
//!   an empty name is `_`. Names may repeat, as fields may.
//! - PARAM-VALUE: integers, floats and booleans as the files print them
//!   (`-3`, `0.5`, `true`); strings and `Debug` values as their raw text,
//!   without added quotes; `"`, `\` and `]` escaped with a backslash (RFC
//!   5424 §6.3.3). Any UTF-8 is kept, newlines included.
//! - MSG without a BOM, though RFC 5424 marks UTF-8 with one: rsyslog and
//!   most relays keep the BOM as part of the message text (`%msg%`), so it
//!   would reach every file and search index as a stray U+FEFF. Without it
//!   the MSG is `MSG-ANY`, which receivers take as UTF-8 in practice.
//!   rsyslog shows control characters in MSG escaped (a newline is `#012`)
//!   unless its `EscapeControlCharactersOnReceive` is off.
//! - Span scopes, file, line and thread are not sent (syslog has no place
//!   for them that relays understand; OTLP carries them).
//!
//! # Transport
//!
//! - TCP and TLS: each message framed as `MSG-LEN SP MSG` (octet counting,
//!   RFC 6587 §3.4.1, which rsyslog and syslog-ng detect on their own), a
//!   whole batch in one buffer and one `write_all`. Connect, TLS handshake
//!   and writes are each bounded by the export timeout. Before a batch is
//!   written on a kept connection it is checked for a peer that closed it
//!   (a relay restart): what the peer sent is read without blocking and
//!   thrown away, and an end of stream (or TLS `close_notify`, or an
//!   error) makes the exporter reconnect first instead of writing the
//!   batch into a dead socket. Any error drops the connection;
//!   the next export reconnects.
//! - TLS: rustls with ring, TLS 1.2 or 1.3; the server certificate is
//!   checked against the destination's host (a DNS name or an IP address
//!   SAN) and the roots of `tls-ca` (PEM) or else the system's; with
//!   `tls-cert` and `tls-key`, a client certificate for relays that require
//!   one (mutual TLS).
//! - UDP: one datagram per message; a message longer than `max-datagram`
//!   (default 2048 octets) is cut: the header is kept, the structured data
//!   becomes `-` if header and structured data alone exceed the limit, then
//!   MSG is cut at a character boundary. The host name is resolved once per
//!   (re)connect. A send error fails the export (the relay's port was
//!   closed, say: an ICMP error reported on the next send).

mod message;
mod stream;
#[cfg(feature = "tls")]
mod tls;
mod udp;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Destination, DestinationError, EXPORT_TIMEOUT, Exporter, Protocol};

/// The exporter of a `syslog+tcp`, `syslog+tls` or `syslog+udp`
/// destination. Fails for `syslog+tls` when the sink was built without its
/// `tls` feature, or when the `tls-ca` file cannot be read or holds no
/// usable certificate.
pub(crate) fn exporter(dest: &Destination) -> Result<Box<dyn Exporter>, DestinationError> {
    let err = |reason: String| DestinationError {
        url: dest.url().to_owned(),
        reason,
    };
    match dest.protocol() {
        Protocol::SyslogTcp => Ok(Box::new(stream::StreamExporter::tcp(dest))),
        Protocol::SyslogTls => tls_exporter(dest).map_err(err),
        Protocol::SyslogUdp => Ok(Box::new(udp::UdpExporter::new(dest))),
        other => Err(err(format!("{} is not a syslog protocol", other.scheme()))),
    }
}

#[cfg(feature = "tls")]
fn tls_exporter(dest: &Destination) -> Result<Box<dyn Exporter>, String> {
    Ok(Box::new(stream::StreamExporter::tls(dest)?))
}

#[cfg(not(feature = "tls"))]
fn tls_exporter(_dest: &Destination) -> Result<Box<dyn Exporter>, String> {
    Err("syslog+tls needs the sink's `tls` feature, which this build lacks".into())
}

/// The addresses of `host:port`, looked up on a helper thread so that a
/// resolver that does not answer holds the export at most `timeout` (the
/// helper finishes on its own later).
fn resolve(host: &str, port: u16, timeout: Duration) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_owned();
    std::thread::Builder::new()
        .name("mplog-resolve".into())
        .spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
        })?;
    let addrs = rx.recv_timeout(timeout).map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("resolving {host} took longer than {timeout:?}"),
        )
    })??;
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        ));
    }
    Ok(addrs)
}

/// The time left before `deadline`; `TimedOut` when none is.
fn left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("ran past the export timeout ({EXPORT_TIMEOUT:?})"),
        ));
    }
    Ok(left)
}

/// A socket timeout (`WouldBlock` or `TimedOut`) as a `TimedOut` naming
/// what took too long; other errors unchanged.
fn timed_out(e: io::Error, what: &str) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what} ran past the export timeout ({EXPORT_TIMEOUT:?})"),
        ),
        _ => e,
    }
}

#[cfg(test)]
#[path = "../../../../tests/peers/rsyslog.rs"]
mod rsyslog;

#[cfg(test)]
mod rsyslog_tests;

#[cfg(test)]
mod transport_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_syslog_protocols_and_missing_tls_say_why() {
        let d = Destination::parse("otlp+http://127.0.0.1:1").expect("url");
        let e = exporter(&d).err().expect("refused");
        assert!(e.to_string().contains("not a syslog protocol"), "{e}");
        let d = Destination::parse("syslog+tls://127.0.0.1:1")
            .expect("url")
            .tls_ca("/nonexistent/ca.pem");
        let e = exporter(&d).err().expect("refused");
        assert!(e.to_string().contains("syslog+tls://127.0.0.1:1"), "{e}");
        #[cfg(feature = "tls")]
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        #[cfg(not(feature = "tls"))]
        assert!(e.to_string().contains("`tls` feature"), "{e}");
    }

    #[test]
    fn ip_literals_resolve_without_a_lookup_and_names_within_the_timeout() {
        let addrs = resolve("::1", 7, Duration::from_millis(1)).expect("literal");
        assert_eq!(addrs, ["[::1]:7".parse::<SocketAddr>().expect("addr")]);
        let addrs = resolve("localhost", 7, Duration::from_secs(5)).expect("localhost");
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 7));
    }
}
