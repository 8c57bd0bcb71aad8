//! The sink's transports: listening sockets of every kind (`unix:`, `tcp://`,
//! `tls://`) and the connections they accept, behind one reader contract:
//! a [`Conn`] is a byte stream (`Read` for the worker's frames, `Write`
//! for the sink's replies) with a read timeout and a [`Peer`] to name in
//! the log.
//!
//! TCP and TLS are portable (std and rustls); Unix sockets and peer
//! credentials stay in `sys`.

#[cfg(feature = "tls")]
pub(crate) mod tls;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use socket2::{SockRef, TcpKeepalive};

use crate::sys::{self, PeerCred};

/// Idle time before the first keepalive probe on accepted TCP connections.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// One listening socket.
#[derive(Debug)]
pub(crate) enum Listener {
    Unix(sys::Listener),
    Tcp {
        listener: TcpListener,
        #[cfg(feature = "tls")]
        tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    },
}

/// Who is at the other end, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Unix(PeerCred),
    Net(SocketAddr),
}

impl Peer {
    /// Whether the peer came over TCP or TLS (tokens apply to these).
    pub(crate) fn is_network(&self) -> bool {
        matches!(self, Peer::Net(_))
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Unix(cred) => write!(f, "peer pid {}, uid {}", cred.pid, cred.uid),
            Peer::Net(addr) => write!(f, "{addr}"),
        }
    }
}

/// An accepted connection, before its TLS handshake (if any).
#[derive(Debug)]
pub(crate) enum Accepted {
    Unix(sys::Stream, PeerCred),
    Tcp {
        stream: TcpStream,
        addr: SocketAddr,
        #[cfg(feature = "tls")]
        tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    },
}

/// Shuts a connection down from another thread (at sink shutdown).
#[derive(Debug)]
pub(crate) enum Closer {
    Unix(sys::Stream),
    Tcp(TcpStream),
}

impl Closer {
    /// Asks the worker to leave (a graceful sink shutdown) without losing
    /// what it already sent. A Unix socket keeps what is queued readable
    /// after `SHUT_RD`, and the worker's next send fails at once: both
    /// directions are shut. TCP drops what is queued, and what is still on
    /// its way, at `SHUT_RD`: only the write side is shut, the worker sees
    /// the end of the stream and leaves at a frame boundary, and the reader
    /// reads everything it sent until then.
    pub(crate) fn ask_to_leave(&self) -> io::Result<()> {
        match self {
            Closer::Unix(s) => s.shutdown(Shutdown::Both),
            Closer::Tcp(s) => s.shutdown(Shutdown::Write),
        }
    }
}

impl Listener {
    /// Binds `host:port` (the first address it resolves to), non-blocking.
    pub(crate) fn bind_tcp(
        host: &str,
        port: u16,
        #[cfg(feature = "tls")] tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind((host, port))?;
        listener.set_nonblocking(true)?;
        Ok(Listener::Tcp {
            listener,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// The listening socket's descriptor (for `poll`).
    pub(crate) fn raw_fd(&self) -> std::os::unix::io::RawFd {
        use std::os::unix::io::AsRawFd;
        match self {
            Listener::Unix(l) => l.as_raw_fd(),
            Listener::Tcp { listener, .. } => listener.as_raw_fd(),
        }
    }

    /// The port actually bound (TCP), for an endpoint given with port 0.
    pub(crate) fn local_port(&self) -> Option<u16> {
        match self {
            Listener::Unix(_) => None,
            Listener::Tcp { listener, .. } => listener.local_addr().ok().map(|a| a.port()),
        }
    }

    /// Accepts one waiting connection (`WouldBlock` if none).
    pub(crate) fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Unix(l) => {
                let (stream, _) = l.accept()?;
                let cred = sys::peer_cred(&stream)?;
                Ok(Accepted::Unix(stream, cred))
            }
            Listener::Tcp { listener, .. } => {
                let (stream, addr) = listener.accept()?;
                Ok(Accepted::Tcp {
                    stream,
                    addr,
                    #[cfg(feature = "tls")]
                    tls: match self {
                        Listener::Tcp { tls, .. } => tls.clone(),
                        Listener::Unix(_) => None,
                    },
                })
            }
        }
    }
}

impl Accepted {
    /// The transport's index in the monitor's list: unix, tcp, tls.
    pub(crate) fn transport(&self) -> usize {
        match self {
            Accepted::Unix(..) => 0,
            #[cfg(feature = "tls")]
            Accepted::Tcp { tls: Some(_), .. } => 2,
            Accepted::Tcp { .. } => 1,
        }
    }

    pub(crate) fn peer(&self) -> Peer {
        match self {
            Accepted::Unix(_, cred) => Peer::Unix(*cred),
            Accepted::Tcp { addr, .. } => Peer::Net(*addr),
        }
    }

    /// Blocking mode (with timeouts), `TCP_NODELAY` and keepalive; and a
    /// [`Closer`] for shutdown.
    pub(crate) fn prepare(&self) -> io::Result<Closer> {
        match self {
            Accepted::Unix(s, _) => {
                s.set_nonblocking(false)?;
                s.try_clone().map(Closer::Unix)
            }
            Accepted::Tcp { stream, .. } => {
                stream.set_nonblocking(false)?;
                stream.set_nodelay(true)?;
                let keepalive = TcpKeepalive::new().with_time(KEEPALIVE);
                // A worker host that vanished is noticed in about a minute.
                #[cfg(any(target_os = "linux", target_os = "android"))]
                let keepalive = keepalive
                    .with_interval(Duration::from_secs(10))
                    .with_retries(3);
                SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
                stream.try_clone().map(Closer::Tcp)
            }
        }
    }

    /// Runs the TLS handshake if the listener has TLS, retrying reads
    /// every `poll` until `deadline`. The error says why a peer was
    /// refused (bad certificate, plain TCP, too slow).
    pub(crate) fn establish(self, poll: Duration, deadline: Instant) -> Result<Conn, String> {
        match self {
            Accepted::Unix(s, _) => {
                s.set_read_timeout(Some(poll))
                    .map_err(|e| format!("cannot set a read timeout: {e}"))?;
                Ok(Conn::Unix(s))
            }
            Accepted::Tcp {
                stream,
                #[cfg(feature = "tls")]
                tls,
                ..
            } => {
                stream
                    .set_read_timeout(Some(poll))
                    .map_err(|e| format!("cannot set a read timeout: {e}"))?;
                #[cfg(feature = "tls")]
                if let Some(config) = tls {
                    return tls::handshake(stream, config, deadline)
                        .map(|s| Conn::Tls(Box::new(s)));
                }
                let _ = deadline;
                Ok(Conn::Tcp(stream))
            }
        }
    }
}

/// An established connection: the worker's frames come out of `Read`; the
/// sink's replies go in through `Write` (each write is sent whole).
#[derive(Debug)]
pub(crate) enum Conn {
    Unix(sys::Stream),
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    /// Waits until the socket has something to read, at most `timeout`:
    /// `true` if it has, or if that cannot be known here (TLS: the session
    /// may hold decrypted bytes already; its reads keep to the socket's
    /// read timeout instead).
    pub(crate) fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        use std::os::unix::io::AsRawFd;
        match self {
            Conn::Unix(s) => sys::wait_readable(&[s.as_raw_fd()], timeout),
            Conn::Tcp(s) => sys::wait_readable(&[s.as_raw_fd()], timeout),
            #[cfg(feature = "tls")]
            Conn::Tls(_) => Ok(true),
        }
    }

    /// Sets the read timeout of the socket under the connection.
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.set_read_timeout(timeout),
            Conn::Tcp(s) => s.set_read_timeout(timeout),
            #[cfg(feature = "tls")]
            Conn::Tls(s) => s.sock.set_read_timeout(timeout),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Conn::Tls(s) => match s.read(buf) {
                // A worker that closes without close_notify (killed, or
                // leaving at a frame boundary): the end of the stream; a
                // frame cut short is still caught by the frame reader.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Unix(s) => s.flush(),
            Conn::Tcp(s) => s.flush(),
            #[cfg(feature = "tls")]
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// Whether every address `host` resolves to is a loopback address.
pub(crate) fn is_loopback(host: &str, port: u16) -> bool {
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_told_apart() {
        assert!(is_loopback("127.0.0.1", 0));
        assert!(is_loopback("::1", 0));
        assert!(is_loopback("localhost", 0));
        assert!(!is_loopback("0.0.0.0", 0));
        assert!(!is_loopback("10.1.2.3", 0));
    }
}
