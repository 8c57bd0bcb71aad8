//! Binding the sink's endpoints, and checking the network settings
//! (TLS files, token, `insecure`) against them before anything is bound.

use std::fs;
use std::path::{Path, PathBuf};
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::Duration;

use tracing_mplog::Endpoint;

use super::SinkError;
use crate::sys;
use crate::transport::{self, Listener};

/// Network settings of the builder.
#[derive(Debug, Clone)]
pub(super) struct Net {
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
    pub(super) tls_client_ca: Option<PathBuf>,
    pub(super) token: Option<Token>,
    pub(super) insecure: bool,
    pub(super) max_connections: usize,
    pub(super) hello_timeout: Duration,
}

#[derive(Debug, Clone)]
pub(super) enum Token {
    Text(String),
    File(PathBuf),
}

impl Default for Net {
    fn default() -> Self {
        Net {
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            token: None,
            insecure: false,
            max_connections: super::builder::DEFAULT_MAX_CONNECTIONS,
            hello_timeout: super::builder::DEFAULT_HELLO_TIMEOUT,
        }
    }
}

impl Net {
    /// Checks the settings against the endpoints; returns the token.
    pub(super) fn check(&self, endpoints: &[Endpoint]) -> Result<Option<String>, SinkError> {
        let token = match &self.token {
            None => None,
            Some(Token::Text(t)) => Some(t.trim().to_owned()),
            Some(Token::File(path)) => Some(
                fs::read_to_string(path)
                    .map_err(|e| SinkError::io("cannot read the token file", path, e))?
                    .trim()
                    .to_owned(),
            ),
        };
        if token.as_deref().is_some_and(str::is_empty) {
            return Err(SinkError::config("token_file", "the token is empty"));
        }
        if self.max_connections == 0 {
            return Err(SinkError::config("max_connections", "must be at least 1"));
        }
        if self.hello_timeout.is_zero() {
            return Err(SinkError::config("hello_timeout", "must not be zero"));
        }
        for endpoint in endpoints {
            match endpoint {
                Endpoint::Tls { .. } if self.tls_cert.is_none() || self.tls_key.is_none() => {
                    let field = if self.tls_cert.is_none() {
                        "tls_cert"
                    } else {
                        "tls_key"
                    };
                    return Err(SinkError::config(
                        field,
                        format!("{endpoint} needs a certificate and its key (PEM)"),
                    ));
                }
                Endpoint::Tcp { host, port }
                    if token.is_none()
                        && !self.insecure
                        && !transport::is_loopback(host, *port) =>
                {
                    return Err(SinkError::config(
                        "listen",
                        format!(
                            "{endpoint} is plain TCP on a non-loopback address without a token: \
                             anyone who reaches it could write to the logs; use tls://, give a \
                             token file, or pass --insecure"
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(token)
    }
}

impl Net {
    /// Checks the Python endpoints: `SocketHandler` cannot authenticate
    /// nor speak TLS, so `tcp://` must be on loopback unless `insecure`.
    pub(super) fn check_python(&self, endpoints: &[Endpoint]) -> Result<(), SinkError> {
        for endpoint in endpoints {
            match endpoint {
                Endpoint::Unix(_) => {}
                Endpoint::Tcp { host, port } => {
                    if !self.insecure && !transport::is_loopback(host, *port) {
                        return Err(SinkError::config(
                            "python_listen",
                            format!(
                                "{endpoint} is not a loopback address: Python's SocketHandler \
                                 cannot authenticate, so anyone who reaches it could write to \
                                 the logs; use a unix: socket or pass --insecure"
                            ),
                        ));
                    }
                }
                other => {
                    return Err(SinkError::config(
                        "python_listen",
                        format!(
                            "{other}: only unix:PATH and tcp://HOST:PORT (SocketHandler has no TLS)"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The Unix socket files the sink made: removed when this is dropped (a
/// start that fails half-way, or the handle's shutdown), so no path leaves
/// them behind.
#[derive(Debug, Default)]
pub(super) struct SocketFiles(Vec<PathBuf>);

impl SocketFiles {
    /// Removes the files now (at shutdown, once nobody can connect).
    pub(super) fn remove(&mut self) {
        for path in self.0.drain(..) {
            let _ = fs::remove_file(path);
        }
    }
}

impl Drop for SocketFiles {
    fn drop(&mut self) {
        self.remove();
    }
}

/// What binding produced: the listeners, the endpoints as bound (TCP
/// port 0 replaced by the real port), the Unix socket files.
pub(super) type Bound = (Vec<Listener>, Vec<Endpoint>, SocketFiles);

/// Binds every endpoint, adding the socket files made to `sockets`; on
/// failure, they are removed when `sockets` is dropped.
pub(super) fn bind_all(
    endpoints: &[Endpoint],
    net: &Net,
    dir_mode: u32,
    sockets: &mut SocketFiles,
) -> Result<(Vec<Listener>, Vec<Endpoint>), SinkError> {
    let mut bound: Bound = (Vec::new(), Vec::new(), SocketFiles::default());
    // The TLS settings, made at the first tls:// endpoint.
    #[cfg_attr(not(feature = "tls"), allow(clippy::let_unit_value))]
    let mut server_tls = TlsSlot::default();
    let mut result = Ok(());
    for endpoint in endpoints {
        result = bind_one(endpoint, net, dir_mode, &mut bound, &mut server_tls);
        if result.is_err() {
            break;
        }
    }
    sockets.0.append(&mut bound.2.0);
    result.map(|()| (bound.0, bound.1))
}

#[cfg(feature = "tls")]
type TlsSlot = Option<Arc<rustls::ServerConfig>>;
#[cfg(not(feature = "tls"))]
type TlsSlot = ();

fn bind_one(
    endpoint: &Endpoint,
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))] net: &Net,
    dir_mode: u32,
    bound: &mut Bound,
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))] tls: &mut TlsSlot,
) -> Result<(), SinkError> {
    let net_io = |e| SinkError::io("cannot listen on", Path::new(&endpoint.to_string()), e);
    let (listener, endpoint) = match endpoint {
        Endpoint::Unix(path) => {
            let l = sys::bind_listener(path, dir_mode)
                .map_err(|(context, e)| SinkError::io(context, path, e))?;
            l.set_nonblocking(true)
                .map_err(|e| SinkError::io("cannot configure the socket", path, e))?;
            bound.2.0.push(path.clone());
            (Listener::Unix(l), endpoint.clone())
        }
        Endpoint::Tcp { host, port } => {
            #[cfg(feature = "tls")]
            let l = Listener::bind_tcp(host, *port, None).map_err(net_io)?;
            #[cfg(not(feature = "tls"))]
            let l = Listener::bind_tcp(host, *port).map_err(net_io)?;
            let port = l.local_port().unwrap_or(*port);
            (
                l,
                Endpoint::Tcp {
                    host: host.clone(),
                    port,
                },
            )
        }
        #[cfg(feature = "tls")]
        Endpoint::Tls { host, port } => {
            if tls.is_none() {
                let (Some(cert), Some(key)) = (&net.tls_cert, &net.tls_key) else {
                    return Err(SinkError::config("tls_cert", "required for tls://"));
                };
                let config = transport::tls::server_config(cert, key, net.tls_client_ca.as_deref())
                    .map_err(|(field, reason)| SinkError::config(field, reason))?;
                *tls = Some(config);
            }
            let l = Listener::bind_tcp(host, *port, tls.clone()).map_err(net_io)?;
            let port = l.local_port().unwrap_or(*port);
            (
                l,
                Endpoint::Tls {
                    host: host.clone(),
                    port,
                },
            )
        }
        #[cfg(not(feature = "tls"))]
        Endpoint::Tls { .. } => {
            return Err(SinkError::config(
                "listen",
                format!("{endpoint}: tls:// needs the `tls` feature of tracing-mplog-sink"),
            ));
        }
        other => {
            return Err(SinkError::config(
                "listen",
                format!("unsupported endpoint {other}"),
            ));
        }
    };
    bound.0.push(listener);
    bound.1.push(endpoint);
    Ok(())
}
