//! The TLS client side of the destinations that run over TLS
//! (`syslog+tls`, `otlp+https`, `otlp+grpcs`): the roots of `tls-ca` (PEM)
//! or else the system's, and for mutual TLS the client certificate chain
//! and key of `tls-cert` and `tls-key`. [`ClientTls::load`] reads and
//! checks them together into a rustls [`ClientConfig`] on the ring
//! provider when the sink starts, so that a file that cannot work stops
//! the sink at once; [`explain`] says in words why a handshake failed.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::Destination;

/// A destination's TLS settings, read and checked.
#[derive(Debug)]
pub(crate) struct ClientTls {
    /// The root certificates the server's certificate must chain to: those
    /// of `tls-ca`, or the system's that rustls can use.
    #[cfg_attr(
        not(feature = "otlp"),
        allow(dead_code, reason = "OTLP's clients take these")
    )]
    pub(crate) roots: RootCertStore,
    /// The same roots as certificates, for a client that takes those.
    #[cfg_attr(
        not(feature = "otlp"),
        allow(dead_code, reason = "OTLP's clients take these")
    )]
    pub(crate) root_certs: Vec<CertificateDer<'static>>,
    /// The client certificate and key (`tls-cert`, `tls-key`), if set.
    #[cfg_attr(
        not(feature = "otlp"),
        allow(dead_code, reason = "OTLP's clients take these")
    )]
    pub(crate) identity: Option<Identity>,
    /// The rustls settings: ring, TLS 1.2 and 1.3, these roots and this
    /// client certificate (built for every destination, so that a key that
    /// does not match its certificate stops the sink; `syslog+tls`
    /// connects with them).
    #[cfg_attr(
        not(all(feature = "tls", feature = "forward-syslog")),
        allow(dead_code, reason = "only syslog+tls connects with rustls itself")
    )]
    pub(crate) config: Arc<ClientConfig>,
}

/// A client certificate chain and its private key, for mutual TLS.
pub(crate) struct Identity {
    /// The chain, the client's own certificate first.
    pub(crate) chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub(crate) key: PrivateKeyDer<'static>,
    /// The two files as they were read (PEM), for a client that parses
    /// them itself (tonic, ureq).
    #[cfg_attr(
        not(feature = "otlp"),
        allow(dead_code, reason = "OTLP's clients take these")
    )]
    pub(crate) cert_pem: Vec<u8>,
    /// See [`cert_pem`](Self::cert_pem).
    #[cfg_attr(
        not(feature = "otlp"),
        allow(dead_code, reason = "OTLP's clients take these")
    )]
    pub(crate) key_pem: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    /// The chain's length only: never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Reads `dest`'s `tls-ca` (or the system's roots), `tls-cert` and
    /// `tls-key`, and builds the rustls settings from them. The error says
    /// which file failed and why.
    pub(crate) fn load(dest: &Destination) -> Result<Self, String> {
        let o = dest.options();
        let (roots, root_certs) = match &o.tls_ca {
            Some(path) => file_roots(path)?,
            None => system_roots()?,
        };
        let identity = match (&o.tls_cert, &o.tls_key) {
            (Some(cert), Some(key)) => Some(Identity::read(cert, key)?),
            (None, None) => None,
            // Destination::validate says so first.
            _ => return Err("`tls-cert` and `tls-key` go together".into()),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS settings: {e}"))?
            .with_root_certificates(roots.clone());
        let config = match &identity {
            Some(id) => builder
                .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
                .map_err(|e| {
                    format!(
                        "tls-cert {} with tls-key {}: {e}",
                        path(o.tls_cert.as_deref()),
                        path(o.tls_key.as_deref())
                    )
                })?,
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls {
            roots,
            root_certs,
            identity,
            config: Arc::new(config),
        })
    }
}

/// A path as messages show it.
fn path(p: Option<&Path>) -> String {
    p.map_or_else(String::new, |p| p.display().to_string())
}

/// Every certificate of the PEM file `path`, named `key` in errors; at
/// least one.
fn read_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    crate::pem::read_certs(path).map_err(|e| format!("{key} {e}"))
}

/// The roots of a `tls-ca` file: every certificate in it must be usable.
fn file_roots(path: &Path) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let certs = read_certs(path, "tls-ca")?;
    let mut roots = RootCertStore::empty();
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| format!("tls-ca {}: {e}", path.display()))?;
    }
    Ok((roots, certs))
}

/// The system's roots (rustls-native-certs) that rustls can use.
fn system_roots() -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let mut roots = RootCertStore::empty();
    let mut certs = Vec::new();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot use is skipped, as the
        // system's own tools skip it.
        if roots.add(cert.clone()).is_ok() {
            certs.push(cert);
        }
    }
    if roots.is_empty() {
        return Err("no `tls-ca` given and no usable system root certificates".into());
    }
    Ok((roots, certs))
}

impl Identity {
    /// Reads the chain of `cert` and the key of `key` (PEM files).
    fn read(cert: &Path, key: &Path) -> Result<Self, String> {
        let chain = read_certs(cert, "tls-cert")?;
        let (parsed, key_pem) = crate::pem::read_key(key).map_err(|e| format!("tls-key {e}"))?;
        let cert_pem =
            std::fs::read(cert).map_err(|e| format!("tls-cert {}: {e}", cert.display()))?;
        Ok(Identity {
            chain,
            key: parsed,
            cert_pem,
            key_pem,
        })
    }
}

/// Why a TLS connection failed, in words, if `e` or one of its sources is
/// a rustls error (also inside an [`io::Error`], where rustls puts it):
/// the server's certificate failed verification, or the server refused
/// the handshake (a client certificate it wanted or did not trust).
pub(crate) fn explain(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(describe(r));
        }
        // An io::Error's `source` skips the error it wraps: look inside.
        next = match err.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// Added to a failure of a TLS destination without a client certificate
/// when the receiver closed or reset the connection ([`closed_by_peer`]):
/// over TLS 1.3 the client's side of the handshake ends before the
/// receiver checks the client, so a receiver that requires a certificate
/// refuses one without it by an alert and a close, which the client often
/// sees as the close alone.
#[cfg(feature = "otlp")]
pub(crate) const CLIENT_CERT_HINT: &str = " (a receiver that requires a client certificate \
     closes the connection like this: if it does, set `tls-cert` and `tls-key`)";

/// Whether `e` or one of its sources says the peer closed or reset the
/// connection (broken pipe, reset, aborted, end of stream), also inside
/// the `h2` errors under tonic's, which hide their I/O error from
/// `source` (`h2` is in tonic's tree already).
#[cfg(feature = "otlp")]
pub(crate) fn closed_by_peer(e: &(dyn std::error::Error + 'static)) -> bool {
    use io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    let mut next = Some(e);
    while let Some(err) = next {
        let io = err
            .downcast_ref::<io::Error>()
            .or_else(|| err.downcast_ref::<h2::Error>().and_then(h2::Error::get_io));
        if let Some(io) = io {
            if matches!(
                io.kind(),
                BrokenPipe | ConnectionAborted | ConnectionReset | UnexpectedEof
            ) {
                return true;
            }
            if let Some(inner) = io.get_ref() {
                next = Some(inner as &(dyn std::error::Error + 'static));
                continue;
            }
        }
        next = err.source();
    }
    false
}

/// A rustls error in words.
pub(crate) fn describe(e: &rustls::Error) -> String {
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::InvalidCertificate(_) => format!(
            "TLS: certificate verification failed ({e}): the server's certificate must be \
             signed by a CA of `tls-ca` (or, without it, of the system's roots) and name \
             the host of the URL"
        ),
        rustls::Error::AlertReceived(
            A::BadCertificate
            | A::CertificateRequired
            | A::UnknownCA
            | A::CertificateUnknown
            | A::CertificateExpired
            | A::CertificateRevoked
            | A::UnsupportedCertificate
            | A::AccessDenied,
        ) => format!(
            "TLS: the server refused the handshake ({e}): it may require a client \
             certificate (`tls-cert`, `tls-key`) signed by a CA it trusts"
        ),
        e => format!("TLS: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_error_inside_io_errors_is_explained() {
        let r = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = io::Error::new(io::ErrorKind::InvalidData, r);
        let outer = io::Error::other(io);
        let why = explain(&outer).expect("found");
        assert!(why.contains("certificate verification failed"), "{why}");
        assert!(why.contains("UnknownIssuer"), "{why}");
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        assert!(describe(&alert).contains("`tls-cert`"));
        assert_eq!(explain(&io::Error::other("plain")), None);
    }

    /// A self-signed certificate and its key, and another key, as files.
    fn files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let other = rcgen::KeyPair::generate().expect("other key");
        let paths = (dir.join("c.pem"), dir.join("k.pem"), dir.join("other.pem"));
        std::fs::write(&paths.0, cert.pem()).expect("write");
        std::fs::write(&paths.1, key.serialize_pem()).expect("write");
        std::fs::write(&paths.2, other.serialize_pem()).expect("write");
        paths
    }

    #[test]
    fn a_client_certificate_loads_with_its_own_key_only() {
        let dir = tempfile::tempdir().expect("dir");
        let (cert, key, other) = files(dir.path());
        let base = Destination::parse("otlp+grpcs://127.0.0.1")
            .expect("url")
            .tls_ca(&cert);
        let tls = ClientTls::load(&base.clone().tls_cert(&cert).tls_key(&key)).expect("loads");
        let id = tls.identity.expect("identity");
        assert_eq!((id.chain.len(), tls.root_certs.len()), (1, 1));
        assert!(!format!("{id:?}").contains("PRIVATE"), "{id:?}");
        let e = ClientTls::load(&base.clone().tls_cert(&cert).tls_key(&other)).expect_err("other");
        assert!(e.contains("tls-cert") && e.contains("other.pem"), "{e}");
        // A certificate file given as the key: no key in it.
        let e = ClientTls::load(&base.tls_cert(&cert).tls_key(&cert)).expect_err("no key");
        assert!(e.contains("tls-key") && e.contains("no PRIVATE KEY"), "{e}");
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn a_connection_the_peer_closed_is_recognised_under_wrappers() {
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(closed_by_peer(&io::Error::other(pipe)));
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "tls: eof");
        assert!(closed_by_peer(&eof));
        assert!(!closed_by_peer(&io::Error::from(
            io::ErrorKind::ConnectionRefused
        )));
    }

    #[test]
    fn unreadable_or_empty_files_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let dest = |d: Destination| ClientTls::load(&d).expect_err("refused");
        let base = Destination::parse("otlp+https://127.0.0.1").expect("url");
        let e = dest(base.clone().tls_ca(&empty));
        assert!(e.contains("tls-ca") && e.contains("no CERTIFICATE"), "{e}");
        let e = dest(base.clone().tls_ca(dir.path().join("missing.pem")));
        assert!(e.contains("missing.pem"), "{e}");
        let e = dest(base.tls_cert(&empty).tls_key(&empty));
        assert!(e.contains("tls-cert") && e.contains("empty.pem"), "{e}");
    }
}
