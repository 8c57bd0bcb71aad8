//! `syslog+tcp` and `syslog+tls`: a connection kept between exports, each
//! batch framed by octet counting (RFC 6587 §3.4.1) into one buffer and
//! written at once, every step bounded by the export's deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{SockRef, TcpKeepalive};

#[cfg(feature = "tls")]
use super::tls;
use super::{left, message, resolve, timed_out};
use crate::forward::{Destination, EXPORT_TIMEOUT, ExportError, Exporter, Record};

/// Idle time before the first keepalive probe: a relay host that vanished
/// without closing the connection is noticed in minutes, not hours.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// The exporter of a `syslog+tcp` or `syslog+tls` destination.
#[derive(Debug)]
pub(crate) struct StreamExporter {
    host: String,
    port: u16,
    facility: u8,
    /// `Some` for `syslog+tls`.
    #[cfg(feature = "tls")]
    tls: Option<tls::Client>,
    conn: Option<Conn>,
    /// The framed batch.
    buf: Vec<u8>,
    /// One message before framing.
    scratch: Vec<u8>,
}

/// An open connection.
#[derive(Debug)]
enum Conn {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tls::Conn>),
}

impl StreamExporter {
    /// A `syslog+tcp` exporter; connects on the first export.
    pub(crate) fn tcp(dest: &Destination) -> Self {
        StreamExporter {
            host: dest.host().to_owned(),
            port: dest.port(),
            facility: dest.options().facility,
            #[cfg(feature = "tls")]
            tls: None,
            conn: None,
            buf: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// A `syslog+tls` exporter: the client settings are built now, so a bad
    /// `tls-ca` or a host that cannot be a TLS server name fails here.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(dest: &Destination) -> Result<Self, String> {
        let client = tls::Client::new(dest)?;
        Ok(StreamExporter {
            tls: Some(client),
            ..StreamExporter::tcp(dest)
        })
    }

    /// Connects (and runs the TLS handshake) before `deadline`.
    fn connect(&self, deadline: Instant) -> io::Result<Conn> {
        let mut last = None;
        for addr in resolve(&self.host, self.port, left(deadline)?)? {
            match TcpStream::connect_timeout(&addr, left(deadline)?) {
                Ok(tcp) => {
                    configure(&tcp)?;
                    return self.wrap(tcp, deadline);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::ErrorKind::NotFound.into()))
    }

    #[cfg(feature = "tls")]
    fn wrap(&self, tcp: TcpStream, deadline: Instant) -> io::Result<Conn> {
        match &self.tls {
            Some(client) => Ok(Conn::Tls(Box::new(client.handshake(tcp, deadline)?))),
            None => Ok(Conn::Tcp(tcp)),
        }
    }

    #[cfg(not(feature = "tls"))]
    fn wrap(&self, tcp: TcpStream, _deadline: Instant) -> io::Result<Conn> {
        Ok(Conn::Tcp(tcp))
    }

    fn scheme(&self) -> &'static str {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return "TLS";
        }
        "TCP"
    }
}

impl Exporter for StreamExporter {
    fn export(&mut self, batch: &[Arc<Record>]) -> Result<(), ExportError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        for record in batch {
            self.scratch.clear();
            // A record whose event does not decode (never) is skipped.
            if message::encode(record, self.facility, &mut self.scratch) {
                message::frame(&self.scratch, &mut self.buf);
            }
        }
        let deadline = Instant::now() + EXPORT_TIMEOUT;
        // A relay that restarted closed our connection: notice it before
        // writing a batch the kernel would take and then lose.
        if self.conn.as_mut().is_some_and(Conn::peer_closed) {
            self.conn = None;
        }
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let conn = self.connect(deadline).map_err(|e| {
                    ExportError::Down(format!(
                        "{} connect to {}:{}: {}",
                        self.scheme(),
                        self.host,
                        self.port,
                        why(&e)
                    ))
                })?;
                self.conn.insert(conn)
            }
        };
        if let Err(e) = conn.write_all(&self.buf, deadline) {
            self.conn = None;
            return Err(ExportError::Down(format!(
                "{} write to {}:{}: {e}",
                self.scheme(),
                self.host,
                self.port
            )));
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.close(Instant::now() + EXPORT_TIMEOUT);
        }
    }
}

/// A connection failure in words: a TLS handshake's says what failed
/// (the server's certificate, or the server refusing ours).
fn why(e: &io::Error) -> String {
    #[cfg(feature = "tls")]
    if let Some(why) = crate::forward::tls::explain(e) {
        return why;
    }
    e.to_string()
}

impl Conn {
    /// Whether the peer closed the connection (or it broke): reads what is
    /// there without blocking and throws it away (a syslog receiver says
    /// nothing we need).
    fn peer_closed(&mut self) -> bool {
        match self {
            Conn::Tcp(tcp) => {
                if tcp.set_nonblocking(true).is_err() {
                    return true;
                }
                let mut sink = [0u8; 512];
                let closed = loop {
                    match tcp.read(&mut sink) {
                        Ok(0) => break true,
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break true,
                    }
                };
                closed || tcp.set_nonblocking(false).is_err()
            }
            #[cfg(feature = "tls")]
            Conn::Tls(conn) => conn.peer_closed(),
        }
    }

    /// Writes all of `bytes` before `deadline`.
    fn write_all(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
        match self {
            Conn::Tcp(tcp) => write_all_by(tcp, bytes, deadline),
            #[cfg(feature = "tls")]
            Conn::Tls(conn) => conn.write_all(bytes, deadline),
        }
    }

    /// Ends the connection cleanly (TLS: `close_notify` first).
    fn close(self, deadline: Instant) {
        match self {
            Conn::Tcp(tcp) => {
                let _ = tcp.shutdown(Shutdown::Both);
            }
            #[cfg(feature = "tls")]
            Conn::Tls(conn) => conn.close(deadline),
        }
        #[cfg(not(feature = "tls"))]
        let _ = deadline;
    }
}

/// `TCP_NODELAY` (a batch is one write: no reason to hold its tail) and
/// keepalive.
fn configure(tcp: &TcpStream) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    SockRef::from(tcp).set_tcp_keepalive(&TcpKeepalive::new().with_time(KEEPALIVE))?;
    Ok(())
}

/// `write_all` whose every write is bounded by what is left of
/// `deadline`, so a receiver that takes a few bytes at a time cannot
/// stretch it either. (std's sends never raise `SIGPIPE`.)
fn write_all_by(tcp: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        tcp.set_write_timeout(Some(left(deadline)?))?;
        match tcp.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e, "the write")),
        }
    }
    Ok(())
}
