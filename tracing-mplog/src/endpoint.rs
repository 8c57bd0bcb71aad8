//! Where the sink listens: `unix:/path` (TCP later).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The address of a sink.
///
/// | text | meaning |
/// |---|---|
/// | `unix:/run/app/log.sock` | a Unix stream socket at that path |
/// | `tcp://host:port` | reserved: parsing says it is not supported yet |
///
/// ```
/// use tracing_mplog::Endpoint;
///
/// let e: Endpoint = "unix:/tmp/app/log.sock".parse()?;
/// assert_eq!(e, Endpoint::Unix("/tmp/app/log.sock".into()));
/// assert_eq!(e.to_string(), "unix:/tmp/app/log.sock");
/// assert!("tcp://127.0.0.1:9000".parse::<Endpoint>().is_err());
/// # Ok::<(), tracing_mplog::EndpointError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// A Unix stream socket.
    Unix(PathBuf),
}

/// Why a text is not an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The scheme is known but this version cannot use it.
    #[error("endpoint {text:?}: {scheme} endpoints are not supported yet (use unix:/path)")]
    Unsupported {
        /// The text given.
        text: String,
        /// The scheme, e.g. `tcp`.
        scheme: &'static str,
    },
    /// The text is not an endpoint.
    #[error("invalid endpoint {text:?}: {reason}")]
    Invalid {
        /// The text given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(EndpointError::Invalid {
                    text: text.to_owned(),
                    reason: "empty socket path after unix:",
                });
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if text.starts_with("tcp://") {
            return Err(EndpointError::Unsupported {
                text: text.to_owned(),
                scheme: "tcp",
            });
        }
        Err(EndpointError::Invalid {
            text: text.to_owned(),
            reason: "expected unix:/path/to/socket",
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_unix() {
        let e: Endpoint = "unix:relative.sock".parse().expect("valid");
        assert_eq!(e, Endpoint::Unix("relative.sock".into()));
        assert_eq!(e.to_string(), "unix:relative.sock");
    }

    #[test]
    fn errors_name_the_text() {
        let err = "tcp://h:1".parse::<Endpoint>().expect_err("tcp");
        assert!(matches!(
            &err,
            EndpointError::Unsupported { scheme: "tcp", .. }
        ));
        assert!(err.to_string().contains("\"tcp://h:1\""), "{err}");
        for bad in ["unix:", "/tmp/x.sock", ""] {
            let err = bad.parse::<Endpoint>().expect_err(bad);
            assert!(matches!(&err, EndpointError::Invalid { text, .. } if text == bad));
        }
    }
}
