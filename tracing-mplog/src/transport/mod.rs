//! The worker's connection to the sink, whatever the endpoint: a Unix
//! socket (`sys`), plain TCP ([`tcp`]) or TCP with TLS ([`tls`]), and the
//! version-2 handshake (hello, then the sink's welcome or refusal).
//!
//! A connection is opened by [`open`]: connect (with a timeout for TCP),
//! the TLS handshake if any, the hello, then, when the hello is version 2,
//! the sink's [`Reply`] within the handshake timeout. Acknowledged delivery
//! (on by default) needs version 2 on every transport; only a `unix:`
//! worker that opted out of it and has no token sends a version-1 hello
//! and waits for nothing (which works with every sink, old ones included);
//! TCP and TLS always use version 2.

mod options;
pub(crate) mod tcp;
#[cfg(feature = "tls")]
pub(crate) mod tls;

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub(crate) use options::Options;
pub use options::{TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TOKEN_FILE_ENV, TransportError};

use crate::endpoint::Endpoint;
use crate::state::Config;
use crate::sys;
use crate::wire::{FrameReader, OwnedHello, Reply, VERSION, capabilities};

/// The largest reply frame a worker reads during the handshake.
const MAX_REPLY: usize = 64 * 1024;

/// What the builder settled for connecting: shared by every process state
/// of a layer.
#[derive(Debug, Clone)]
pub(crate) struct Net {
    /// The token presented in the hello (empty: none).
    pub(crate) token: String,
    /// Whether the hello is version 2 and the sink's reply awaited.
    pub(crate) handshake: bool,
    /// Whether the hello asks for acknowledged delivery.
    pub(crate) acked: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    /// The TLS client settings of a `tls://` endpoint.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// This process's hello.
pub(crate) fn hello(
    config: &Config,
    process_name: &str,
    pid: u32,
    start_time_ns: i64,
) -> crate::wire::OwnedFrame {
    let net = &config.net;
    // Offered always; agreed only by a sink that knows reason 3.
    let mut caps = capabilities::TRUNCATION_REPORTS;
    if !net.token.is_empty() {
        caps |= capabilities::AUTH_TOKEN;
    }
    if net.acked {
        caps |= capabilities::ACKED_DELIVERY;
    }
    crate::wire::OwnedFrame::Hello(OwnedHello {
        version: if net.handshake { VERSION } else { 1 },
        capabilities: caps,
        pid,
        start_time_ns,
        process_name: process_name.to_owned(),
        host: config.host.clone(),
        token: net.token.clone(),
    })
}

/// An open connection to the sink, past its handshake.
#[derive(Debug)]
pub(crate) enum Conn {
    Unix(sys::Conn),
    Tcp(tcp::TcpConn),
    #[cfg(feature = "tls")]
    Tls(Box<tls::TlsConn>),
}

impl Conn {
    /// Writes some of `bytes`; `Ok(n)` once the kernel accepted them (for
    /// TLS: the records carrying them), so a broken connection never loses
    /// bytes counted as written.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(c) => c.send(bytes),
            Conn::Tcp(c) => c.send(bytes),
            #[cfg(feature = "tls")]
            Conn::Tls(c) => c.send(bytes),
        }
    }

    /// Writes all of `bytes`, retrying on `EINTR`.
    pub(crate) fn send_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.send(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what the sink sent without blocking, appending it to `out`:
    /// `true` if the sink closed its side or the connection broke.
    pub(crate) fn read_available(&mut self, out: &mut Vec<u8>) -> bool {
        match self {
            Conn::Unix(c) => c.read_available(out),
            Conn::Tcp(c) => c.read_available(out),
            #[cfg(feature = "tls")]
            Conn::Tls(c) => c.read_available(out),
        }
    }

    /// Waits until the sink sent something (an acknowledgement) or closed
    /// its side, at most `timeout`; then [`read_available`](Self::read_available)
    /// takes it.
    pub(crate) fn wait_readable(&self, timeout: Duration) {
        use std::os::fd::AsRawFd;
        let fd = match self {
            Conn::Unix(c) => c.stream().as_raw_fd(),
            Conn::Tcp(c) => c.socket().as_raw_fd(),
            #[cfg(feature = "tls")]
            Conn::Tls(c) => c.socket().as_raw_fd(),
        };
        sys::wait_readable(fd, timeout);
    }

    /// Sets the read timeout of the socket under the connection.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Unix(c) => c.stream().set_read_timeout(timeout),
            Conn::Tcp(c) => c.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            Conn::Tls(c) => c.set_read_timeout(timeout),
        }
    }

    /// The reader of the sink's frames.
    fn reader(&mut self) -> Box<dyn Read + '_> {
        match self {
            Conn::Unix(c) => Box::new(c.stream()),
            Conn::Tcp(c) => Box::new(c.reader()),
            #[cfg(feature = "tls")]
            Conn::Tls(c) => Box::new(c.reader()),
        }
    }
}

/// Connects, sends `hello` and, for a version-2 hello, waits for the
/// sink's welcome, whose agreed capabilities it returns (0 for a
/// version-1 hello). A refusal is an error of kind `PermissionDenied` (said
/// once per process on stderr); no answer within the handshake timeout is
/// `TimedOut`.
pub(crate) fn open(config: &Config, hello: &[u8]) -> io::Result<(Conn, u64)> {
    let net = &config.net;
    let deadline = Instant::now() + net.connect_timeout + net.handshake_timeout;
    let mut conn = connect(&config.endpoint, net)?;
    conn.send_all(hello)?;
    if !net.handshake {
        return Ok((conn, 0));
    }
    let left = deadline.saturating_duration_since(Instant::now());
    conn.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
    let answer = read_reply(&mut conn, &config.endpoint);
    conn.set_read_timeout(None)?;
    answer.map(|caps| (conn, caps))
}

fn connect(endpoint: &Endpoint, net: &Net) -> io::Result<Conn> {
    match endpoint {
        Endpoint::Unix(_) => sys::Conn::connect(endpoint).map(Conn::Unix),
        Endpoint::Tcp { host, port } => {
            tcp::TcpConn::connect(host, *port, net.connect_timeout).map(Conn::Tcp)
        }
        #[cfg(feature = "tls")]
        Endpoint::Tls { host, port } => {
            let Some(tls) = &net.tls else {
                return Err(io::Error::other("no TLS settings for a tls:// endpoint"));
            };
            let tcp = tcp::TcpConn::connect(host, *port, net.connect_timeout)?;
            tls::TlsConn::handshake(tcp, host, tls, net.handshake_timeout)
                .map(|c| Conn::Tls(Box::new(c)))
                .map_err(|e| {
                    // rustls reports certificate and protocol failures as
                    // InvalidData: a configuration problem, not an outage.
                    if e.kind() != io::ErrorKind::InvalidData {
                        return e;
                    }
                    warn_refused(endpoint, &format!("TLS handshake failed: {e}"));
                    io::Error::new(io::ErrorKind::PermissionDenied, e)
                })
        }
        #[cfg(not(feature = "tls"))]
        Endpoint::Tls { .. } => Err(io::Error::other(
            "tls:// endpoints need the `tls` feature of tracing-mplog",
        )),
    }
}

fn read_reply(conn: &mut Conn, endpoint: &Endpoint) -> io::Result<u64> {
    let mut frames = FrameReader::with_max_frame_size(conn.reader(), MAX_REPLY);
    let body = match frames.read_raw() {
        Ok(Some(body)) => body,
        Ok(None) => {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the sink closed the connection instead of answering the hello",
            ));
        }
        Err(crate::wire::WireError::Io(e)) => return Err(e),
        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    };
    match Reply::decode(body) {
        Ok(Reply::Welcome(w)) if w.version == VERSION => Ok(w.capabilities),
        Ok(Reply::Welcome(w)) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the sink welcomed version {} (we speak {VERSION})",
                w.version
            ),
        )),
        Ok(Reply::Refused(r)) => {
            warn_refused(endpoint, &format!("{} ({})", r.reason, r.text));
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("refused: {}: {}", r.reason, r.text),
            ))
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the sink answered the hello with an ack",
        )),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    }
}

/// Says once per process that the sink refused us (or its certificate
/// failed): a worker with a wrong token keeps retrying (with backoff) and
/// must not flood stderr.
fn warn_refused(endpoint: &Endpoint, why: &str) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::SeqCst) {
        eprintln!(
            "tracing-mplog: the sink at {endpoint} refused this process: {why}; retrying with backoff"
        );
    }
}

/// `backoff` with jitter: a random duration between half of it and all of
/// it, so workers cut off together do not reconnect in lockstep.
pub(crate) fn jitter(backoff: Duration) -> Duration {
    let half = backoff / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(fastrand::u64(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all() {
        let d = Duration::from_millis(100);
        let seen: Vec<Duration> = (0..200).map(|_| jitter(d)).collect();
        assert!(seen.iter().all(|j| *j >= d / 2 && *j <= d));
        assert!(seen.iter().any(|j| *j != seen[0]), "not constant");
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
