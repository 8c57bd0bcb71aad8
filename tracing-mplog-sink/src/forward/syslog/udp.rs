//! `syslog+udp` (RFC 5426): one datagram per message, cut to the
//! destination's `max-datagram`, from a socket connected to the relay's
//! address (resolved once per connect).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use super::{left, message, resolve, timed_out};
use crate::forward::{Destination, EXPORT_TIMEOUT, ExportError, Exporter, Record};

/// The largest UDP payload over IPv4 (65 535 − 8 − 20): a larger
/// `max-datagram` could only fail every send.
const MAX_UDP_PAYLOAD: usize = 65_507;

/// The exporter of a `syslog+udp` destination.
#[derive(Debug)]
pub(crate) struct UdpExporter {
    host: String,
    port: u16,
    facility: u8,
    limit: usize,
    /// Connected to the relay; `None` until the first export and after a
    /// failed send.
    socket: Option<UdpSocket>,
    datagram: Vec<u8>,
}

impl UdpExporter {
    /// An exporter that resolves and connects on its first export.
    pub(crate) fn new(dest: &Destination) -> Self {
        UdpExporter {
            host: dest.host().to_owned(),
            port: dest.port(),
            facility: dest.options().facility,
            limit: dest.options().max_datagram.min(MAX_UDP_PAYLOAD),
            socket: None,
            datagram: Vec::new(),
        }
    }

    /// A socket connected to the first address `host` resolves to.
    fn connect(&self, deadline: Instant) -> io::Result<UdpSocket> {
        let addr = resolve(&self.host, self.port, left(deadline)?)?
            .into_iter()
            .next()
            .ok_or(io::ErrorKind::NotFound)?;
        let local = match addr {
            SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(addr)?;
        Ok(socket)
    }
}

impl Exporter for UdpExporter {
    fn export(&mut self, batch: &[Arc<Record>]) -> Result<(), ExportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + EXPORT_TIMEOUT;
        let socket = match &self.socket {
            Some(socket) => socket,
            None => {
                let socket = self.connect(deadline).map_err(|e| {
                    ExportError::Down(format!("UDP to {}:{}: {e}", self.host, self.port))
                })?;
                self.socket.insert(socket)
            }
        };
        for record in batch {
            self.datagram.clear();
            if !message::encode_datagram(record, self.facility, self.limit, &mut self.datagram) {
                continue; // its event does not decode (never)
            }
            let sent = left(deadline)
                .and_then(|t| socket.set_write_timeout(Some(t)))
                .and_then(|()| socket.send(&self.datagram))
                .map_err(|e| timed_out(e, "the send"));
            if let Err(e) = sent {
                self.socket = None;
                return Err(ExportError::Down(format!(
                    "UDP send to {}:{}: {e}",
                    self.host, self.port
                )));
            }
        }
        Ok(())
    }
}
