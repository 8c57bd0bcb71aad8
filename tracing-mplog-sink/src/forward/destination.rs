//! [`Destination`]: where records are forwarded, parsed from a URL, with
//! its per-destination options.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tracing_core::Level;

/// Records a destination's queue holds while it is slow or down (then
/// the oldest are dropped and counted).
pub const DEFAULT_QUEUE: usize = 100_000;
/// Records per OTLP export request by default.
pub const DEFAULT_BATCH: usize = 512;
/// How long an OTLP batch waits to fill up by default.
pub const DEFAULT_BATCH_TIMEOUT: Duration = Duration::from_millis(200);
/// The largest syslog datagram by default: RFC 5426 §3.2 says receivers
/// SHOULD take 2048 octets.
pub const DEFAULT_MAX_DATAGRAM: usize = 2048;
/// The syslog facility by default: `user` (1).
pub const DEFAULT_FACILITY: u8 = 1;

/// The protocol of a [`Destination`], from its URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// `syslog+tcp://`: RFC 5424 over TCP, octet-counting framing (RFC 6587).
    SyslogTcp,
    /// `syslog+tls://`: the same over TLS (RFC 5425).
    SyslogTls,
    /// `syslog+udp://`: RFC 5424 messages, one per datagram (RFC 5426).
    SyslogUdp,
    /// `otlp+http://`: OTLP/HTTP with protobuf bodies, `POST /v1/logs`.
    OtlpHttp,
    /// `otlp+grpc://`: OTLP/gRPC, `LogsService/Export`.
    OtlpGrpc,
    /// `otlp+https://`: OTLP/HTTP over TLS.
    OtlpHttps,
    /// `otlp+grpcs://`: OTLP/gRPC over TLS.
    OtlpGrpcs,
}

impl Protocol {
    /// The URL scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::SyslogTcp => "syslog+tcp",
            Protocol::SyslogTls => "syslog+tls",
            Protocol::SyslogUdp => "syslog+udp",
            Protocol::OtlpHttp => "otlp+http",
            Protocol::OtlpGrpc => "otlp+grpc",
            Protocol::OtlpHttps => "otlp+https",
            Protocol::OtlpGrpcs => "otlp+grpcs",
        }
    }

    /// The port when the URL gives none (the IANA and OpenTelemetry ones).
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::SyslogTcp | Protocol::SyslogUdp => 514,
            Protocol::SyslogTls => 6514,
            Protocol::OtlpHttp | Protocol::OtlpHttps => 4318,
            Protocol::OtlpGrpc | Protocol::OtlpGrpcs => 4317,
        }
    }

    /// Whether it runs over TLS (`syslog+tls`, `otlp+https`, `otlp+grpcs`):
    /// the destinations that take `tls-ca`, `tls-cert` and `tls-key`.
    pub fn is_tls(self) -> bool {
        matches!(
            self,
            Protocol::SyslogTls | Protocol::OtlpHttps | Protocol::OtlpGrpcs
        )
    }

    /// Whether it is an OTLP protocol (batched requests).
    pub(crate) fn is_otlp(self) -> bool {
        matches!(
            self,
            Protocol::OtlpHttp | Protocol::OtlpGrpc | Protocol::OtlpHttps | Protocol::OtlpGrpcs
        )
    }

    const ALL: [Protocol; 7] = [
        Protocol::SyslogTcp,
        Protocol::SyslogTls,
        Protocol::SyslogUdp,
        Protocol::OtlpHttp,
        Protocol::OtlpGrpc,
        Protocol::OtlpHttps,
        Protocol::OtlpGrpcs,
    ];
}

/// A forwarding destination: a URL (`syslog+tcp://HOST:PORT`,
/// `syslog+tls://…`, `syslog+udp://…`, `otlp+http://…`, `otlp+grpc://…`,
/// and over TLS `otlp+https://…`, `otlp+grpcs://…`) and its options; see
/// `docs/forwarding.md`.
///
/// ```
/// use tracing_mplog_sink::forward::{Destination, Protocol};
///
/// let d: Destination = "otlp+http://127.0.0.1:4318".parse()?;
/// assert_eq!(d.protocol(), Protocol::OtlpHttp);
/// assert_eq!((d.host(), d.port(), d.path()), ("127.0.0.1", 4318, "/v1/logs"));
/// let d = Destination::parse("syslog+udp://[::1]")?.queue(1000).level(tracing::Level::WARN);
/// assert_eq!((d.host(), d.port(), d.options().queue), ("::1", 514, 1000));
/// assert!("http://example.com".parse::<Destination>().is_err());
/// # Ok::<(), tracing_mplog_sink::forward::DestinationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    url: String,
    protocol: Protocol,
    host: String,
    port: u16,
    path: String,
    options: Options,
}

/// A [`Destination`]'s options, read back under the names of their
/// setters: `Destination::queue(n)` sets `options().queue`.
///
/// ```
/// use tracing_mplog_sink::forward::Destination;
///
/// let d = Destination::parse("syslog+tcp://127.0.0.1")?.queue(10).facility(16);
/// assert_eq!((d.options().queue, d.options().facility), (10, 16));
/// # Ok::<(), tracing_mplog_sink::forward::DestinationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Options {
    /// [`Destination::level`]: the level threshold.
    pub level: Level,
    /// [`Destination::queue`]: the queue's capacity in records.
    pub queue: usize,
    /// [`Destination::tls_ca`]: the CA file of a TLS destination, if set
    /// (else the system's roots).
    pub tls_ca: Option<PathBuf>,
    /// [`Destination::tls_cert`]: the client certificate chain of a TLS
    /// destination, for mutual TLS, if set.
    pub tls_cert: Option<PathBuf>,
    /// [`Destination::tls_key`]: the private key of
    /// [`tls_cert`](Options::tls_cert), if set.
    pub tls_key: Option<PathBuf>,
    /// [`Destination::facility`]: the syslog facility.
    pub facility: u8,
    /// [`Destination::gzip`]: whether OTLP bodies are gzipped.
    pub gzip: bool,
    /// [`Destination::batch_size`]: records per OTLP request.
    pub batch_size: usize,
    /// [`Destination::batch_timeout`]: how long an OTLP batch waits to
    /// fill up.
    pub batch_timeout: Duration,
    /// [`Destination::max_datagram`]: the largest syslog datagram.
    pub max_datagram: usize,
}

/// A forwarding URL or option that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("forward destination `{url}`: {reason}")]
pub struct DestinationError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Destination {
    /// Parses a destination URL; the options have their defaults.
    pub fn parse(url: &str) -> Result<Self, DestinationError> {
        let err = |reason: String| DestinationError {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err("expected SCHEME://HOST[:PORT]".into()))?;
        let protocol = Protocol::ALL
            .into_iter()
            .find(|p| p.scheme().eq_ignore_ascii_case(scheme))
            .ok_or_else(|| {
                err(format!(
                    "unknown scheme `{scheme}` (expected one of {})",
                    Protocol::ALL.map(Protocol::scheme).join(", ")
                ))
            })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') || rest.contains(['?', '#']) {
            return Err(err(
                "user names, queries and fragments are not supported".into()
            ));
        }
        let (host, port) = split_host_port(authority).map_err(err)?;
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| err(format!("bad port `{p}`")))?,
            None => protocol.default_port(),
        };
        let path = match (protocol, path) {
            (Protocol::OtlpHttp | Protocol::OtlpHttps, "" | "/") => "/v1/logs".to_owned(),
            (Protocol::OtlpHttp | Protocol::OtlpHttps, p) => p.to_owned(),
            (_, "" | "/") => String::new(),
            (_, p) => {
                return Err(err(format!(
                    "a {} URL takes no path (`{p}`)",
                    protocol.scheme()
                )));
            }
        };
        Ok(Destination {
            url: url.to_owned(),
            protocol,
            host: host.to_owned(),
            port,
            path,
            options: Options {
                level: Level::TRACE,
                queue: DEFAULT_QUEUE,
                tls_ca: None,
                tls_cert: None,
                tls_key: None,
                facility: DEFAULT_FACILITY,
                gzip: false,
                batch_size: DEFAULT_BATCH,
                batch_timeout: DEFAULT_BATCH_TIMEOUT,
                max_datagram: DEFAULT_MAX_DATAGRAM,
            },
        })
    }

    /// Forwards only records at this level or more severe (default: every
    /// record the sink takes).
    #[must_use]
    pub fn level(mut self, threshold: Level) -> Self {
        self.options.level = threshold;
        self
    }

    /// Records the queue holds while the destination is slow or down
    /// (default [`DEFAULT_QUEUE`]); beyond it the oldest are dropped.
    #[must_use]
    pub fn queue(mut self, records: usize) -> Self {
        self.options.queue = records;
        self
    }

    /// The CA certificates (PEM) that sign the server's certificate, for
    /// the TLS destinations: `syslog+tls`, `otlp+https`, `otlp+grpcs`
    /// (default: the system's roots).
    #[must_use]
    pub fn tls_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.tls_ca = Some(path.into());
        self
    }

    /// The client certificate chain (PEM, the client's own certificate
    /// first) that a TLS destination requiring mutual TLS checks; needs
    /// [`tls_key`](Self::tls_key) too (default: none).
    #[must_use]
    pub fn tls_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.tls_cert = Some(path.into());
        self
    }

    /// The private key (PEM: PKCS #8, PKCS #1 or SEC1) of
    /// [`tls_cert`](Self::tls_cert) (default: none).
    #[must_use]
    pub fn tls_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.tls_key = Some(path.into());
        self
    }

    /// The syslog facility, 0–23 (default 1, `user`).
    #[must_use]
    pub fn facility(mut self, facility: u8) -> Self {
        self.options.facility = facility;
        self
    }

    /// Gzip OTLP request bodies (default off).
    #[must_use]
    pub fn gzip(mut self, on: bool) -> Self {
        self.options.gzip = on;
        self
    }

    /// Records per OTLP request (default [`DEFAULT_BATCH`]).
    #[must_use]
    pub fn batch_size(mut self, records: usize) -> Self {
        self.options.batch_size = records;
        self
    }

    /// How long an OTLP batch waits to fill up (default
    /// [`DEFAULT_BATCH_TIMEOUT`]).
    #[must_use]
    pub fn batch_timeout(mut self, d: Duration) -> Self {
        self.options.batch_timeout = d;
        self
    }

    /// The largest `syslog+udp` datagram; longer messages are cut at a
    /// character boundary (default [`DEFAULT_MAX_DATAGRAM`]).
    #[must_use]
    pub fn max_datagram(mut self, bytes: usize) -> Self {
        self.options.max_datagram = bytes;
        self
    }

    /// The URL as given (the `destination` label of the metrics).
    pub fn url(&self) -> &str {
        &self.url
    }
    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
    /// The host name or address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }
    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The request path of `otlp+http` and `otlp+https` (default
    /// `/v1/logs`); empty for the others.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The options, under the names of their setters.
    pub fn options(&self) -> &Options {
        &self.options
    }
    /// The level threshold: [`options().level`](Options::level).
    #[deprecated(since = "0.1.0", note = "use `options().level`")]
    pub fn threshold(&self) -> Level {
        self.options.level
    }
    /// The queue's capacity in records: [`options().queue`](Options::queue).
    #[deprecated(since = "0.1.0", note = "use `options().queue`")]
    pub fn queue_capacity(&self) -> usize {
        self.options.queue
    }
    /// The CA file of a TLS destination, if set: [`options().tls_ca`](Options::tls_ca).
    #[deprecated(since = "0.1.0", note = "use `options().tls_ca`")]
    pub fn tls_ca_file(&self) -> Option<&Path> {
        self.options.tls_ca.as_deref()
    }
    /// The syslog facility: [`options().facility`](Options::facility).
    #[deprecated(since = "0.1.0", note = "use `options().facility`")]
    pub fn syslog_facility(&self) -> u8 {
        self.options.facility
    }
    /// Whether OTLP bodies are gzipped: [`options().gzip`](Options::gzip).
    #[deprecated(since = "0.1.0", note = "use `options().gzip`")]
    pub fn gzipped(&self) -> bool {
        self.options.gzip
    }
    /// Records per OTLP request: [`options().batch_size`](Options::batch_size).
    #[deprecated(since = "0.1.0", note = "use `options().batch_size`")]
    pub fn max_batch(&self) -> usize {
        self.options.batch_size
    }
    /// How long an OTLP batch waits to fill up:
    /// [`options().batch_timeout`](Options::batch_timeout).
    #[deprecated(since = "0.1.0", note = "use `options().batch_timeout`")]
    pub fn max_batch_wait(&self) -> Duration {
        self.options.batch_timeout
    }
    /// The largest syslog datagram: [`options().max_datagram`](Options::max_datagram).
    #[deprecated(since = "0.1.0", note = "use `options().max_datagram`")]
    pub fn datagram_limit(&self) -> usize {
        self.options.max_datagram
    }

    /// Checks the options together (called when the sink starts).
    pub fn validate(&self) -> Result<(), DestinationError> {
        let err = |reason: &str| {
            Err(DestinationError {
                url: self.url.clone(),
                reason: reason.to_owned(),
            })
        };
        if self.options.queue == 0 {
            return err("`queue` must be at least 1");
        }
        if self.options.facility > 23 {
            return err("`facility` must be 0 to 23");
        }
        if self.options.batch_size == 0 {
            return err("`batch` must be at least 1");
        }
        if self.options.max_datagram < 480 {
            return err("`max-datagram` must be at least 480 (RFC 5426)");
        }
        let tls = &self.options;
        for (set, key) in [
            (tls.tls_ca.is_some(), "tls-ca"),
            (tls.tls_cert.is_some(), "tls-cert"),
            (tls.tls_key.is_some(), "tls-key"),
        ] {
            if set && !self.protocol.is_tls() {
                return err(&format!(
                    "`{key}` applies to TLS destinations only (syslog+tls, otlp+https, \
                     otlp+grpcs), not {}",
                    self.protocol.scheme()
                ));
            }
        }
        match (&tls.tls_cert, &tls.tls_key) {
            (Some(_), None) => err(
                "`tls-cert` needs `tls-key`: the private key of the client certificate \
                 (mutual TLS takes both, or neither)",
            ),
            (None, Some(_)) => err(
                "`tls-key` needs `tls-cert`: the client certificate chain it belongs to \
                 (mutual TLS takes both, or neither)",
            ),
            _ => Ok(()),
        }
    }
}

impl FromStr for Destination {
    type Err = DestinationError;
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Destination::parse(url)
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in the host".to_owned())?;
        match after {
            "" => (host, None),
            a => match a.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return Err(format!("unexpected `{a}` after the host")),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("an IPv6 address must be in brackets".into());
            }
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("bad host `{host}`"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_parses_with_its_default_port() {
        for (url, p, port) in [
            ("syslog+tcp://h", Protocol::SyslogTcp, 514),
            ("syslog+tls://h", Protocol::SyslogTls, 6514),
            ("syslog+udp://h:1514", Protocol::SyslogUdp, 1514),
            ("otlp+http://h/", Protocol::OtlpHttp, 4318),
            ("OTLP+GRPC://h", Protocol::OtlpGrpc, 4317),
            ("otlp+https://h", Protocol::OtlpHttps, 4318),
            ("otlp+grpcs://h", Protocol::OtlpGrpcs, 4317),
        ] {
            let d = Destination::parse(url).expect(url);
            assert_eq!((d.protocol(), d.host(), d.port()), (p, "h", port), "{url}");
        }
        let d = Destination::parse("otlp+http://h:1/custom/logs").expect("path");
        assert_eq!(d.path(), "/custom/logs");
        let d = Destination::parse("otlp+https://h").expect("https");
        assert_eq!(d.path(), "/v1/logs");
        let d = Destination::parse("otlp+https://h/v2/logs").expect("https path");
        assert_eq!(d.path(), "/v2/logs");
        assert!(Destination::parse("otlp+grpcs://h/x").is_err());
        let d = Destination::parse("syslog+tcp://[::1]:7").expect("v6");
        assert_eq!((d.host(), d.port()), ("::1", 7));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, why) in [
            ("127.0.0.1:514", "SCHEME://"),
            ("syslog://h", "unknown scheme `syslog`"),
            ("syslog+tcp://h:0", "bad port `0`"),
            ("syslog+tcp://h:99999", "bad port"),
            ("syslog+tcp://:514", "no host"),
            ("syslog+tcp://::1:514", "brackets"),
            ("syslog+tcp://h/x", "takes no path"),
            ("otlp+http://u@h", "user names"),
            ("otlp+http://h?x=1", "queries"),
        ] {
            let e = Destination::parse(url).expect_err(url);
            assert!(e.to_string().contains(why), "{url}: {e}");
            assert!(e.to_string().contains(url), "{url}: {e}");
        }
    }

    #[test]
    fn options_are_checked_together() {
        let d = Destination::parse("syslog+tcp://h").expect("url");
        assert!(d.clone().validate().is_ok());
        assert!(d.clone().queue(0).validate().is_err());
        assert!(d.clone().facility(24).validate().is_err());
        assert!(d.clone().tls_ca("ca.pem").validate().is_err());
        assert!(d.max_datagram(100).validate().is_err());
    }

    #[test]
    fn tls_options_go_to_tls_destinations_cert_and_key_together() {
        for url in ["syslog+tls://h", "otlp+https://h", "otlp+grpcs://h"] {
            let d = Destination::parse(url).expect(url);
            assert!(d.protocol().is_tls(), "{url}");
            let d = d.tls_ca("ca.pem");
            assert!(d.clone().validate().is_ok(), "{url}");
            let both = d.clone().tls_cert("c.pem").tls_key("k.pem");
            assert!(both.validate().is_ok(), "{url}");
            assert_eq!(both.options().tls_cert.as_deref(), Some(Path::new("c.pem")));
            assert_eq!(both.options().tls_key.as_deref(), Some(Path::new("k.pem")));
            let e = d.clone().tls_cert("c.pem").validate().expect_err(url);
            assert!(e.reason.contains("`tls-cert` needs `tls-key`"), "{e}");
            let e = d.tls_key("k.pem").validate().expect_err(url);
            assert!(e.reason.contains("`tls-key` needs `tls-cert`"), "{e}");
        }
        for url in ["syslog+tcp://h", "otlp+http://h", "otlp+grpc://h"] {
            let d = Destination::parse(url).expect(url);
            assert!(!d.protocol().is_tls(), "{url}");
            for (d, key) in [
                (d.clone().tls_ca("ca.pem"), "tls-ca"),
                (d.clone().tls_cert("c.pem").tls_key("k.pem"), "tls-cert"),
                (d.tls_key("k.pem"), "tls-key"),
            ] {
                let e = d.validate().expect_err(url);
                assert!(
                    e.reason
                        .contains(&format!("`{key}` applies to TLS destinations only")),
                    "{e}"
                );
            }
        }
    }
}
