//! TLS to the sink (rustls, ring provider): the client settings built once
//! from PEM files (or the system's roots), and the connection.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::options::TransportError;
use super::tcp::TcpConn;

/// Plaintext handed to rustls per `send`: at most one TLS record (16 KiB).
/// A send that fails part-way leaves at most one incomplete record, which
/// the sink cannot decrypt and discards, so every frame it did read was
/// counted as written here, and nothing is read twice after a resend.
const CHUNK: usize = 16 * 1024;

/// The client settings: roots from `ca` (PEM bundle) or the system, and a
/// client certificate for mutual TLS if both `cert` and `key` are given.
pub(crate) fn client_config(
    ca: Option<&Path>,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Arc<ClientConfig>, TransportError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in read_certs(path, "TLS CA file")? {
                roots
                    .add(cert)
                    .map_err(|e| TransportError::pem("TLS CA file", path, e))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate rustls cannot use is skipped, as the
                // system's own tools skip it.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(TransportError::NoRoots);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TransportError::tls)?
        .with_root_certificates(roots);
    let config = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "TLS client certificate")?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| TransportError::pem("TLS client key", key, e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TransportError::tls)?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) | (None, Some(_)) => return Err(TransportError::CertWithoutKey),
    };
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file; at least one.
pub(crate) fn read_certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| TransportError::pem(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TransportError::pem(what, path, e))?;
    if certs.is_empty() {
        return Err(TransportError::pem(
            what,
            path,
            "no CERTIFICATE in the file",
        ));
    }
    Ok(certs)
}

/// A TLS connection to the sink.
#[derive(Debug)]
pub(crate) struct TlsConn(StreamOwned<ClientConnection, TcpConn>);

impl TlsConn {
    /// Runs the TLS handshake on `tcp`, checking the sink's certificate
    /// against `host` (a DNS name, or an IP address as an IP SAN), within
    /// `timeout` per read.
    pub(crate) fn handshake(
        tcp: TcpConn,
        host: &str,
        config: &Arc<ClientConfig>,
        timeout: Duration,
    ) -> io::Result<Self> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
        tcp.set_read_timeout(Some(timeout))?;
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        stream.sock.set_read_timeout(None)?;
        Ok(TlsConn(stream))
    }

    /// Encrypts up to 16 KiB of `bytes` (one record) and writes it; `Ok(n)`
    /// only once the kernel accepted all of it.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let s = &mut self.0;
        let n = s.conn.writer().write(&bytes[..bytes.len().min(CHUNK)])?;
        while s.conn.wants_write() {
            match s.conn.write_tls(&mut s.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.sock.set_read_timeout(timeout)
    }

    /// The TCP socket under the TLS session.
    pub(crate) fn socket(&self) -> &socket2::Socket {
        self.0.sock.socket()
    }

    /// Decrypted reads from the sink.
    pub(crate) fn reader(&mut self) -> &mut StreamOwned<ClientConnection, TcpConn> {
        &mut self.0
    }

    /// Reads what the sink sent without blocking, appending the plaintext
    /// to `out`: `true` if the sink closed its side (close_notify or end of
    /// stream) or the connection broke.
    pub(crate) fn read_available(&mut self, out: &mut Vec<u8>) -> bool {
        let stream = &mut self.0;
        let Ok(socket) = stream.sock.socket().try_clone() else {
            return true;
        };
        super::tcp::read_available_with(&socket, out, |buf| stream.read(buf))
    }
}
