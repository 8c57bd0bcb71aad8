//! The PEM files of the TLS settings, for the `tls://` listeners and the
//! destinations over TLS alike: every certificate of a file, and a private
//! key. Errors name the file and say why it cannot be used; the caller adds
//! the setting.

use std::path::Path;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Every certificate of the PEM file `path`; at least one.
pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no CERTIFICATE in the file"));
    }
    Ok(certs)
}

/// The private key of the PEM file `path`, with the file's bytes (a client
/// that takes PEM takes those).
pub(crate) fn read_key(path: &Path) -> Result<(PrivateKeyDer<'static>, Vec<u8>), String> {
    let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let bytes = std::fs::read(path).map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => bad(&"no PRIVATE KEY in the file"),
        e => bad(&e),
    })?;
    Ok((key, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_their_item_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").expect("write");
        let e = read_certs(&empty).expect_err("no certificate");
        assert!(
            e.contains("empty.pem") && e.contains("no CERTIFICATE"),
            "{e}"
        );
        let e = read_key(&empty).expect_err("no key");
        assert!(
            e.contains("empty.pem") && e.contains("no PRIVATE KEY"),
            "{e}"
        );
        let missing = dir.path().join("missing.pem");
        let e = read_certs(&missing).expect_err("missing");
        assert!(e.contains("missing.pem"), "{e}");
        let e = read_key(&missing).expect_err("missing");
        assert!(e.contains("missing.pem"), "{e}");
    }
}
