//! `syslog+tls` (RFC 5425): the rustls client settings (`forward::tls`:
//! ring provider, roots from `tls-ca` or the system, the client
//! certificate of `tls-cert` and `tls-key`), the handshake and writes
//! bounded by the export's deadline, and the check for a peer that closed.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::{left, timed_out};
use crate::forward::Destination;
use crate::forward::tls::ClientTls;

/// The client side of a `syslog+tls` destination: its settings and the
/// server name its certificate must have.
#[derive(Debug)]
pub(crate) struct Client {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

/// One TLS connection.
#[derive(Debug)]
pub(crate) struct Conn {
    tls: ClientConnection,
    tcp: TcpStream,
}

impl Client {
    /// Settings for `dest`'s host (SNI, and the name the certificate must
    /// carry: a DNS name, or an IP address SAN) with the roots of its
    /// `tls-ca` (PEM) or else the system's, and its client certificate
    /// (`tls-cert`, `tls-key`) if set. The error says which file failed
    /// and why.
    pub(crate) fn new(dest: &Destination) -> Result<Self, String> {
        let host = dest.host();
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("`{host}` cannot be a TLS server name: {e}"))?;
        let tls = ClientTls::load(dest)?;
        Ok(Client {
            config: tls.config,
            name,
        })
    }

    /// Runs the handshake on `tcp` before `deadline`.
    pub(crate) fn handshake(&self, tcp: TcpStream, deadline: Instant) -> io::Result<Conn> {
        let tls = ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .map_err(io::Error::other)?;
        let mut conn = Conn { tls, tcp };
        while conn.tls.is_handshaking() {
            let timeout = Some(left(deadline)?);
            conn.tcp.set_read_timeout(timeout)?;
            conn.tcp.set_write_timeout(timeout)?;
            conn.tls
                .complete_io(&mut conn.tcp)
                .map_err(|e| timed_out(e, "the TLS handshake"))?;
        }
        Ok(conn)
    }
}

impl Conn {
    /// Encrypts and writes all of `bytes` before `deadline`.
    pub(crate) fn write_all(&mut self, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
        while !bytes.is_empty() || self.tls.wants_write() {
            if !bytes.is_empty() {
                // rustls takes what fits its outgoing buffer.
                let n = io::Write::write(&mut self.tls.writer(), bytes)?;
                if n == 0 && !self.tls.wants_write() {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                bytes = &bytes[n..];
            }
            while self.tls.wants_write() {
                self.tcp.set_write_timeout(Some(left(deadline)?))?;
                match self.tls.write_tls(&mut self.tcp) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(timed_out(e, "the write")),
                }
            }
        }
        Ok(())
    }

    /// Whether the peer closed (`close_notify`, end of stream) or the
    /// connection broke; reads what arrived without blocking (session
    /// tickets, alerts) and throws its plaintext away.
    pub(crate) fn peer_closed(&mut self) -> bool {
        if self.tcp.set_nonblocking(true).is_err() {
            return true;
        }
        let closed = loop {
            match self.tls.read_tls(&mut self.tcp) {
                Ok(0) => break true,
                Ok(_) => {
                    let Ok(state) = self.tls.process_new_packets() else {
                        break true;
                    };
                    if state.peer_has_closed() {
                        break true;
                    }
                    let mut sink = [0u8; 512];
                    while matches!(self.tls.reader().read(&mut sink), Ok(n) if n > 0) {}
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        closed || self.tcp.set_nonblocking(false).is_err()
    }

    /// Sends `close_notify` (best effort, before `deadline`) and closes.
    pub(crate) fn close(mut self, deadline: Instant) {
        self.tls.send_close_notify();
        let _ = self.write_all(&[], deadline);
        let _ = self.tcp.shutdown(Shutdown::Both);
    }
}
