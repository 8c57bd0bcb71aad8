//! TLS for `tls://` listeners (rustls, ring provider): the server settings
//! from PEM files, optional client certificates (mutual TLS), and the
//! handshake on the connection's own thread.

use std::io;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use crate::pem::{read_certs, read_key};

/// A file that could not be used: (setting, path, reason).
pub(crate) type FileError = (&'static str, String);

/// The server settings: certificate chain and key (PEM), and, for mutual
/// TLS, the CA that signs the workers' certificates. Errors name the
/// builder field at fault and say why.
pub(crate) fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, FileError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = read_certs(cert).map_err(|e| ("tls_cert", e))?;
    let (key, _) = read_key(key).map_err(|e| ("tls_key", e))?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ("tls_cert", e.to_string()))?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in read_certs(ca).map_err(|e| ("tls_client_ca", e))? {
                roots
                    .add(c)
                    .map_err(|e| ("tls_client_ca", format!("{}: {e}", ca.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| ("tls_client_ca", format!("{}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| ("tls_key", format!("does not fit the certificate: {e}")))?;
    Ok(Arc::new(config))
}

/// Runs the server side of the handshake. The socket has a short read
/// timeout; reads are retried until `deadline`. The error is the reason
/// the peer is refused.
pub(crate) fn handshake(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    deadline: Instant,
) -> Result<StreamOwned<ServerConnection, TcpStream>, String> {
    let conn = ServerConnection::new(config).map_err(|e| format!("TLS: {e}"))?;
    let mut tls = StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        match tls.conn.complete_io(&mut tls.sock) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if Instant::now() >= deadline {
                    return Err("no TLS handshake within the hello timeout".into());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                // rustls reports protocol errors (bad certificate, plain
                // TCP bytes, ...) as InvalidData; send its alert.
                let _ = tls.conn.write_tls(&mut tls.sock);
                return Err(format!("TLS handshake failed: {e}"));
            }
            Err(e) => return Err(format!("TLS handshake failed: {e}")),
        }
    }
    Ok(tls)
}
