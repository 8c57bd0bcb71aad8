//! Where the sink listens: `unix:/path`, `tcp://host:port`, `tls://host:port`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::str::FromStr;

/// The address of a sink.
///
/// | text | meaning |
/// |---|---|
/// | `unix:/run/app/log.sock` | a Unix stream socket at that path |
/// | `tcp://HOST:PORT` | plain TCP (trusted networks, or with a token) |
/// | `tls://HOST:PORT` | TCP with TLS; the sink's certificate must name `HOST` |
///
/// `HOST` is a DNS name, an IPv4 address or an IPv6 address in brackets
/// (`tcp://[::1]:9000`). A sink may listen on port 0 (the system picks
/// one; the sink's handle reports it); a worker needs the real port.
///
/// ```
/// use tracing_mplog::Endpoint;
///
/// let e: Endpoint = "unix:/tmp/app/log.sock".parse()?;
/// assert_eq!(e, Endpoint::Unix("/tmp/app/log.sock".into()));
/// assert_eq!(e.to_string(), "unix:/tmp/app/log.sock");
///
/// let e: Endpoint = "tls://[::1]:9000".parse()?;
/// assert_eq!(e, Endpoint::Tls { host: "::1".into(), port: 9000 });
/// assert_eq!(e.to_string(), "tls://[::1]:9000");
/// assert!("tcp://logs.example.com".parse::<Endpoint>().is_err()); // no port
/// # Ok::<(), tracing_mplog::EndpointError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// A Unix stream socket.
    Unix(PathBuf),
    /// Plain TCP.
    Tcp {
        /// DNS name or IP address (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// TCP with TLS.
    Tls {
        /// DNS name or IP address (IPv6 without brackets); the name the
        /// sink's certificate must carry.
        host: String,
        /// TCP port.
        port: u16,
    },
}

impl Endpoint {
    /// `host` and `port` of a TCP or TLS endpoint.
    pub fn host_port(&self) -> Option<(&str, u16)> {
        match self {
            Endpoint::Unix(_) => None,
            Endpoint::Tcp { host, port } | Endpoint::Tls { host, port } => Some((host, *port)),
        }
    }
}

/// Why a text is not an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The scheme is known but this version cannot use it.
    #[error("endpoint {text:?}: {scheme} endpoints are not supported")]
    Unsupported {
        /// The text given.
        text: String,
        /// The scheme, e.g. `tcp`.
        scheme: &'static str,
    },
    /// The text is not an endpoint.
    #[error("invalid endpoint {text:?}: {reason}")]
    Invalid {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| EndpointError::Invalid {
            text: text.to_owned(),
            reason,
        };
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(invalid("empty socket path after unix:"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = text.strip_prefix("tcp://") {
            let (host, port) = host_port(rest).map_err(invalid)?;
            return Ok(Endpoint::Tcp { host, port });
        }
        if let Some(rest) = text.strip_prefix("tls://") {
            let (host, port) = host_port(rest).map_err(invalid)?;
            return Ok(Endpoint::Tls { host, port });
        }
        Err(invalid(
            "expected unix:/path/to/socket, tcp://HOST:PORT or tls://HOST:PORT",
        ))
    }
}

/// `HOST:PORT` with HOST a DNS name, an IPv4 address or `[IPv6]`.
fn host_port(text: &str) -> Result<(String, u16), &'static str> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("missing ] after the IPv6 address")?;
        v6.parse::<Ipv6Addr>()
            .map_err(|_| "not an IPv6 address inside [ ]")?;
        let port = after
            .strip_prefix(':')
            .ok_or("expected :PORT after the IPv6 address")?;
        (v6, port)
    } else {
        let (host, port) = text.rsplit_once(':').ok_or("expected HOST:PORT")?;
        if host.contains(':') {
            return Err("an IPv6 address must be in brackets: [::1]:PORT");
        }
        check_host(host)?;
        (host, port)
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the port must be a number from 0 to 65535");
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| "the port must be a number from 0 to 65535")?;
    Ok((host.to_owned(), port))
}

/// A DNS name (letters, digits, `-`, `_`, dots between labels) or an IPv4
/// address.
fn check_host(host: &str) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("empty host");
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host
            .parse::<Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| "not an IPv4 address");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if host.len() > 253 || !host.trim_end_matches('.').split('.').all(label_ok) {
        return Err("the host is neither a DNS name nor an IP address");
    }
    Ok(())
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let net = |f: &mut fmt::Formatter<'_>, scheme: &str, host: &str, port: &u16| {
            if host.contains(':') {
                write!(f, "{scheme}://[{host}]:{port}")
            } else {
                write!(f, "{scheme}://{host}:{port}")
            }
        };
        match self {
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
            Endpoint::Tcp { host, port } => net(f, "tcp", host, port),
            Endpoint::Tls { host, port } => net(f, "tls", host, port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_unix() {
        let e: Endpoint = "unix:relative.sock".parse().expect("valid");
        assert_eq!(e, Endpoint::Unix("relative.sock".into()));
        assert_eq!(e.to_string(), "unix:relative.sock");
    }

    #[test]
    fn parses_and_prints_tcp_and_tls() {
        for (text, host, port) in [
            ("tcp://127.0.0.1:9000", "127.0.0.1", 9000),
            ("tcp://logs.example.com:1", "logs.example.com", 1),
            ("tcp://localhost:0", "localhost", 0),
            ("tls://[::1]:65535", "::1", 65535),
            ("tls://[fe80::1:2]:443", "fe80::1:2", 443),
            ("tls://sink_1.internal:7000", "sink_1.internal", 7000),
        ] {
            let e: Endpoint = text.parse().expect(text);
            assert_eq!(e.host_port(), Some((host, port)), "{text}");
            assert_eq!(e.to_string(), text, "round trip");
            assert_eq!(e.to_string().parse::<Endpoint>().expect("again"), e);
            assert_eq!(text.starts_with("tls"), matches!(e, Endpoint::Tls { .. }));
        }
    }

    #[test]
    fn errors_name_the_text() {
        for bad in [
            "unix:",
            "/tmp/x.sock",
            "",
            "udp://h:1",
            "tcp://h",
            "tcp://h:",
            "tcp://:80",
            "tcp://h:65536",
            "tcp://h:-1",
            "tcp://h:+1",
            "tcp://::1:80",
            "tcp://[::1]80",
            "tcp://[nope]:80",
            "tcp://[::1:80",
            "tcp://999.1.1.1:80",
            "tcp://a b:80",
            "tls://a..b:80",
            "tls://h/x:80",
        ] {
            let err = bad.parse::<Endpoint>().expect_err(bad);
            assert!(
                matches!(&err, EndpointError::Invalid { text, .. } if text == bad),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }
}
