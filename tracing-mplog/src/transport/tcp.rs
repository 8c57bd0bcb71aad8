//! Plain TCP to the sink: connect with a timeout to each address the host
//! name resolves to, `TCP_NODELAY`, keepalive, and sends that never raise
//! `SIGPIPE`. Portable (socket2), unlike the Unix-only `sys` module.

use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

/// Idle time before the first keepalive probe: a sink host that vanished
/// is noticed in minutes, not hours.
const KEEPALIVE: Duration = Duration::from_secs(30);

#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: i32 = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND_FLAGS: i32 = 0;

/// A TCP connection to the sink.
#[derive(Debug)]
pub(crate) struct TcpConn(Socket);

impl TcpConn {
    /// Connects to `host:port`, trying each resolved address in turn, each
    /// bounded by `timeout`.
    pub(crate) fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<Self> {
        let mut last = io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host}:{port} resolves to no address"),
        );
        for addr in (host, port).to_socket_addrs()? {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            match socket.connect_timeout(&addr.into(), timeout) {
                Ok(()) => {
                    configure(&socket)?;
                    return Ok(TcpConn(socket));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// One `send` without `SIGPIPE`.
    pub(crate) fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        self.0.send_with_flags(bytes, SEND_FLAGS)
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }

    /// Reads and writes through the socket (writes without `SIGPIPE`).
    pub(crate) fn reader(&mut self) -> &mut Self {
        self
    }

    /// Whether the sink closed its side; never blocks.
    pub(crate) fn read_available(&mut self, out: &mut Vec<u8>) -> bool {
        read_available_with(&self.0, out, |buf| (&self.0).read(buf))
    }
}

impl Read for TcpConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

impl Write for TcpConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Puts `socket` in non-blocking mode, calls `read` until it would block
/// (appending what it reads to `out`), restores blocking mode: `true` at
/// end of stream or on an error.
pub(crate) fn read_available_with(
    socket: &Socket,
    out: &mut Vec<u8>,
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> bool {
    if socket.set_nonblocking(true).is_err() {
        return true;
    }
    let mut buf = [0u8; 4096];
    let closed = loop {
        match read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break true,
        }
    };
    socket.set_nonblocking(false).is_err() || closed
}

/// `TCP_NODELAY` (frames are batched already; do not wait for more) and
/// keepalive.
pub(crate) fn configure(socket: &Socket) -> io::Result<()> {
    socket.set_tcp_nodelay(true)?;
    SockRef::from(socket).set_tcp_keepalive(&keepalive())
}

/// Probes after 30 s idle; on Linux every 10 s, 3 times (a vanished sink
/// host is noticed in about a minute instead of the system's 2 hours).
pub(crate) fn keepalive() -> TcpKeepalive {
    let k = TcpKeepalive::new().with_time(KEEPALIVE);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let k = k.with_interval(Duration::from_secs(10)).with_retries(3);
    k
}

impl TcpConn {
    /// The socket (for `poll`, and the TLS layer).
    pub(crate) fn socket(&self) -> &Socket {
        &self.0
    }
}
