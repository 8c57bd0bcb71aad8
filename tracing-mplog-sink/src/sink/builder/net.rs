//! The network settings of the sink's [`Builder`]: TLS, tokens, limits,
//! and the Python listeners (the rest of the builder is in its parent).

use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "python")]
use tracing_mplog::Endpoint;

use super::super::bind::Token;
use super::Builder;

/// Network and Python listener settings (`docs/cluster.md`, `docs/python.md`).
impl Builder {
    /// An endpoint (`unix:PATH` or `tcp://HOST:PORT`) where Python
    /// processes log through `logging.handlers.SocketHandler`, into the
    /// same files as the workers (see `docs/python.md`). Repeatable; in
    /// addition to [`listen`](Self::listen). `SocketHandler` cannot
    /// authenticate: a `tcp://` one must be on loopback unless
    /// [`insecure`](Self::insecure); Unix peers are checked by uid.
    ///
    /// ```
    /// use tracing_mplog_sink::Sink;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let sink = Sink::builder()
    ///     .listen(format!("unix:{}", dir.path().join("rs.sock").display()).parse()?)
    ///     .python_listen("tcp://127.0.0.1:0".parse()?)
    ///     .logdir(dir.path())
    ///     .start()?;
    /// assert!(matches!(sink.python_endpoints()[0], tracing_mplog::Endpoint::Tcp { port, .. } if port != 0));
    /// sink.shutdown()?;
    ///
    /// let err = Sink::builder()
    ///     .listen(format!("unix:{}", dir.path().join("rs.sock").display()).parse()?)
    ///     .python_listen("tcp://0.0.0.0:0".parse()?)
    ///     .logdir(dir.path())
    ///     .start()
    ///     .expect_err("not loopback");
    /// assert!(err.to_string().contains("--insecure"), "{err}");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "python")]
    pub fn python_listen(mut self, endpoint: Endpoint) -> Self {
        self.python_endpoints.push(endpoint);
        self
    }

    /// The sink's certificate chain (PEM), for `tls://` (with
    /// [`tls_key`](Self::tls_key); see `docs/cluster.md`).
    ///
    /// ```
    /// use tracing_mplog_sink::{Sink, SinkError};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let err = Sink::builder()
    ///     .listen("tls://127.0.0.1:0".parse()?)
    ///     .logdir(dir.path())
    ///     .start()
    ///     .expect_err("no certificate");
    /// assert!(matches!(err, SinkError::Config { field: "tls_cert", .. }), "{err}");
    ///
    /// // Plain TCP beyond loopback needs a token (or `insecure`).
    /// let err = Sink::builder()
    ///     .listen("tcp://0.0.0.0:0".parse()?)
    ///     .logdir(dir.path())
    ///     .start()
    ///     .expect_err("no token");
    /// assert!(err.to_string().contains("--insecure"), "{err}");
    /// # Ok(()) }
    /// ```
    pub fn tls_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.net.tls_cert = Some(path.into());
        self
    }

    /// The private key of [`tls_cert`](Self::tls_cert) (PEM).
    pub fn tls_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.net.tls_key = Some(path.into());
        self
    }

    /// Require TLS client certificates signed by the CA(s) in this PEM
    /// file (mutual TLS).
    pub fn tls_client_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.net.tls_client_ca = Some(path.into());
        self
    }

    /// The token every TCP/TLS worker must present in its hello (compared
    /// in constant time). Unix peers are checked by uid instead.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.net.token = Some(Token::Text(token.into()));
        self
    }

    /// Read the [`token`](Self::token) from this file at start (surrounding
    /// whitespace ignored).
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.net.token = Some(Token::File(path.into()));
        self
    }

    /// Allow plain `tcp://` on a non-loopback address without a token
    /// (anyone who reaches the port can write to the logs).
    pub fn insecure(mut self, on: bool) -> Self {
        self.net.insecure = on;
        self
    }

    /// The most connections served at once (handshakes included); more
    /// are refused, logged and counted.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.net.max_connections = n;
        self
    }

    /// How long a new connection may take to finish its TLS handshake and
    /// send its whole hello before it is cut (slow or silent peers).
    pub fn hello_timeout(mut self, d: Duration) -> Self {
        self.net.hello_timeout = d;
        self
    }
}
