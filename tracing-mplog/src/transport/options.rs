//! The builder's network options: the TLS files, the token, the timeouts,
//! and how [`worker::init`](crate::worker::init) fills them from the
//! environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Net;
use crate::endpoint::Endpoint;
use crate::layer::Builder;

/// PEM bundle of the CA(s) that verify the sink (`tls://`; default: the
/// system's roots).
pub const TLS_CA_ENV: &str = "TRACING_MPLOG_TLS_CA";
/// PEM client certificate (chain) for mutual TLS.
pub const TLS_CERT_ENV: &str = "TRACING_MPLOG_TLS_CERT";
/// PEM private key of the client certificate.
pub const TLS_KEY_ENV: &str = "TRACING_MPLOG_TLS_KEY";
/// File holding the token presented to the sink.
pub const TOKEN_FILE_ENV: &str = "TRACING_MPLOG_TOKEN_FILE";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the network settings of an [`MpLayer`](crate::MpLayer) are unusable.
/// Each variant names the file or endpoint at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A file could not be read.
    #[error("cannot read the {what} {path:?}: {source}")]
    Read {
        /// Which setting (`token file`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("the {what} {path:?} is not usable: {reason}")]
    Pem {
        /// Which setting (`TLS CA file`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The token file is empty.
    #[error("the token file {path:?} is empty")]
    EmptyToken {
        /// The file.
        path: PathBuf,
    },
    /// Only one of the client certificate and its key was given.
    #[error("a TLS client certificate and its key go together: give both or neither")]
    CertWithoutKey,
    /// No CA was given and the system has no usable root certificates.
    #[error("no TLS CA given ({TLS_CA_ENV}) and no usable system root certificates")]
    NoRoots,
    /// rustls refused the settings.
    #[error("TLS settings: {0}")]
    Tls(String),
    /// `tls://` without the `tls` feature.
    #[error("endpoint {endpoint}: tls:// needs the `tls` feature of tracing-mplog")]
    TlsDisabled {
        /// The endpoint.
        endpoint: String,
    },
    /// Port 0 names no sink.
    #[error("endpoint {endpoint}: port 0 names no sink to connect to")]
    PortZero {
        /// The endpoint.
        endpoint: String,
    },
}

impl TransportError {
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn pem(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> Self {
        TransportError::Pem {
            what,
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }

    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn tls(e: impl std::fmt::Display) -> Self {
        TransportError::Tls(e.to_string())
    }
}

/// What the builder collected; settled by [`Options::settle`].
#[derive(Debug, Clone)]
pub(crate) struct Options {
    tls_ca: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    token_file: Option<PathBuf>,
    token: Option<String>,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    /// Acknowledged delivery asked for (`None`: on, on every transport).
    acknowledged: Option<bool>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            token_file: None,
            token: None,
            connect_timeout: CONNECT_TIMEOUT,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            acknowledged: None,
        }
    }
}

impl Options {
    /// Reads the files and builds the TLS settings for `endpoint`.
    pub(crate) fn settle(&self, endpoint: &Endpoint) -> Result<Net, TransportError> {
        let token = match (&self.token, &self.token_file) {
            (Some(token), _) => token.clone(),
            (None, Some(path)) => read_token(path)?,
            (None, None) => String::new(),
        };
        let network = !matches!(endpoint, Endpoint::Unix(_));
        if let Endpoint::Tcp { port: 0, .. } | Endpoint::Tls { port: 0, .. } = endpoint {
            return Err(TransportError::PortZero {
                endpoint: endpoint.to_string(),
            });
        }
        #[cfg(feature = "tls")]
        let tls = match endpoint {
            Endpoint::Tls { .. } => Some(super::tls::client_config(
                self.tls_ca.as_deref(),
                self.tls_cert.as_deref(),
                self.tls_key.as_deref(),
            )?),
            _ => None,
        };
        #[cfg(not(feature = "tls"))]
        if let Endpoint::Tls { .. } = endpoint {
            return Err(TransportError::TlsDisabled {
                endpoint: endpoint.to_string(),
            });
        }
        // On by default everywhere: a sink SIGKILLed and restarted loses
        // nothing only if the worker keeps what was not acknowledged.
        let acked = self.acknowledged.unwrap_or(true);
        Ok(Net {
            handshake: network || acked || !token.is_empty(),
            acked,
            token,
            connect_timeout: self.connect_timeout,
            handshake_timeout: self.handshake_timeout,
            #[cfg(feature = "tls")]
            tls,
        })
    }
}

/// The token: the file's text without surrounding whitespace.
fn read_token(path: &Path) -> Result<String, TransportError> {
    let text = std::fs::read_to_string(path).map_err(|source| TransportError::Read {
        what: "token file",
        path: path.to_owned(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(TransportError::EmptyToken {
            path: path.to_owned(),
        });
    }
    Ok(token.to_owned())
}

/// Network options of the builder (TCP and TLS endpoints, tokens).
impl Builder {
    /// PEM bundle of the CA certificates that verify a `tls://` sink
    /// (default: the system's roots). Env: `TRACING_MPLOG_TLS_CA`.
    ///
    /// The files are read by [`build`](Self::build), whose error names the
    /// one at fault:
    ///
    /// ```
    /// let err = tracing_mplog::MpLayer::builder()
    ///     .endpoint("tls://logs.example.com:7400".parse()?)
    ///     .tls_ca("/nonexistent/ca.pem")
    ///     .token_file("/etc/app/mplog-token")
    ///     .build()
    ///     .expect_err("no such files");
    /// assert!(err.to_string().contains("/etc/app/mplog-token"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.net.tls_ca = Some(path.into());
        self
    }

    /// PEM client certificate (chain) for mutual TLS; needs
    /// [`tls_key`](Self::tls_key). Env: `TRACING_MPLOG_TLS_CERT`.
    pub fn tls_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.net.tls_cert = Some(path.into());
        self
    }

    /// PEM private key of [`tls_cert`](Self::tls_cert). Env:
    /// `TRACING_MPLOG_TLS_KEY`.
    pub fn tls_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.net.tls_key = Some(path.into());
        self
    }

    /// A file holding the token presented to the sink in the hello
    /// (surrounding whitespace ignored). Env: `TRACING_MPLOG_TOKEN_FILE`.
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.net.token_file = Some(path.into());
        self
    }

    /// The token itself (wins over [`token_file`](Self::token_file)).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.net.token = Some(token.into());
        self
    }

    /// How long one TCP connect attempt may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.net.connect_timeout = timeout;
        self
    }

    /// How long the TLS handshake and the sink's answer to the hello may
    /// take (default 5 s); then the attempt fails and is retried.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.net.handshake_timeout = timeout;
        self
    }

    /// Acknowledged delivery (default: on, on every transport, `unix:`
    /// included; `false` opts out): the sink acknowledges events once their lines are
    /// handed to the operating system; the worker keeps unacknowledged
    /// events (up to 8 MiB) and resends them after a reconnect, so a lost
    /// connection or a sink killed and restarted loses nothing. Needs a sink
    /// that speaks protocol version 2 (`docs/wire.md`); off, a `unix:`
    /// worker without a token sends a version-1 hello and needs no reply.
    /// Env:
    /// `TRACING_MPLOG_ACK` (`1` or `0`), read by
    /// [`worker::init`](crate::worker::init).
    pub fn acknowledged(mut self, on: bool) -> Self {
        self.net.acknowledged = Some(on);
        self
    }

    /// The TLS files and the token file from the environment variables
    /// that are set (what [`worker::init`](crate::worker::init) does).
    pub(crate) fn net_from_env(mut self) -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let path = |v: OsString| Some(PathBuf::from(v));
        if let Some(v) = var(TLS_CA_ENV) {
            self.net.tls_ca = path(v);
        }
        if let Some(v) = var(TLS_CERT_ENV) {
            self.net.tls_cert = path(v);
        }
        if let Some(v) = var(TLS_KEY_ENV) {
            self.net.tls_key = path(v);
        }
        if let Some(v) = var(TOKEN_FILE_ENV) {
            self.net.token_file = path(v);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_trimmed_and_never_empty() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").expect("write");
        let unix: Endpoint = "unix:/x".parse().expect("endpoint");
        let net = Options {
            token_file: Some(file.clone()),
            ..Options::default()
        }
        .settle(&unix)
        .expect("settle");
        assert_eq!(net.token, "s3cret");
        assert!(net.handshake, "a token needs the version-2 hello");
        std::fs::write(&file, " \n").expect("write");
        let err = Options {
            token_file: Some(file.clone()),
            ..Options::default()
        }
        .settle(&unix)
        .expect_err("empty");
        assert!(err.to_string().contains("token"), "{err}");
        let missing = dir.path().join("nope");
        let err = Options {
            token_file: Some(missing),
            ..Options::default()
        }
        .settle(&unix)
        .expect_err("missing");
        assert!(err.to_string().contains("nope"), "{err}");
        let plain = Options::default().settle(&unix).expect("settle");
        assert!(
            plain.acked && plain.handshake,
            "unix acknowledges by default, so its hello is version 2"
        );
        let opted_out = Options {
            acknowledged: Some(false),
            ..Options::default()
        }
        .settle(&unix)
        .expect("settle");
        assert!(
            !opted_out.acked && !opted_out.handshake,
            "unix without acks nor a token stays version 1"
        );
        let tcp: Endpoint = "tcp://127.0.0.1:9".parse().expect("endpoint");
        assert!(Options::default().settle(&tcp).expect("tcp").handshake);
        let zero: Endpoint = "tcp://127.0.0.1:0".parse().expect("endpoint");
        assert!(Options::default().settle(&zero).is_err());
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_files_are_named_in_errors() {
        let dir = tempfile::tempdir().expect("dir");
        let bad = dir.path().join("ca.pem");
        std::fs::write(&bad, "not pem").expect("write");
        let tls: Endpoint = "tls://localhost:9".parse().expect("endpoint");
        let err = Options {
            tls_ca: Some(bad),
            ..Options::default()
        }
        .settle(&tls)
        .expect_err("bad CA");
        assert!(err.to_string().contains("ca.pem"), "{err}");
        let err = Options {
            tls_ca: Some(dir.path().join("missing.pem")),
            ..Options::default()
        }
        .settle(&tls)
        .expect_err("missing CA");
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }
}
