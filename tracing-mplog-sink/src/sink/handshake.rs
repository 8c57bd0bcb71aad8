//! The hello's check: version, token and the version-2 reply.
//!
//! | hello | peer | token required | outcome |
//! |---|---|---|---|
//! | v1 | any | no | accepted, no reply (a v1 worker reads any byte as "leave") |
//! | v1 | TCP/TLS | yes | refused, closed without a reply |
//! | v2 | any | no | `Welcome` (capabilities: none agreed yet) |
//! | v2 | TCP/TLS | yes, token right | `Welcome` with `AUTH_TOKEN` |
//! | v2 | TCP/TLS | yes, token wrong or empty | `Refused` (`BadToken` / `TokenRequired`), closed |
//!
//! Tokens authenticate network peers; Unix peers are authenticated by
//! their uid (`allowed_uids`), so a token is not required there.
//! Acknowledged delivery (`ACKED_DELIVERY`) and truncation reports
//! (`TRUNCATION_REPORTS`) are agreed whenever a version-2 hello asks for
//! them, on every transport.

use subtle::ConstantTimeEq;
use tracing_mplog::wire::{Hello, RefuseReason, Refused, Reply, VERSION, Welcome, capabilities};

use super::Shared;
use super::rejects::Reason;
use crate::transport::Peer;

/// What to do with a hello.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Serve the connection; send `welcome` first if any; acknowledge
    /// events if `acked`.
    Accept {
        welcome: Option<Vec<u8>>,
        acked: bool,
    },
    /// Refuse it: count `reason`, log `why`, send `refused` if any, close.
    Refuse {
        reason: Reason,
        why: String,
        refused: Option<Vec<u8>>,
    },
}

/// Checks `hello` from `peer` against the sink's settings.
pub(crate) fn check(shared: &Shared, peer: &Peer, hello: &Hello<'_>) -> Verdict {
    let required = shared.token.as_deref().filter(|_| peer.is_network());
    let v2 = hello.version >= 2;
    let refuse = |reason: RefuseReason, why: String| {
        let refused = v2.then(|| {
            let mut out = Vec::new();
            Reply::Refused(Refused { reason, text: &why }).encode(&mut out);
            out
        });
        Verdict::Refuse {
            reason: Reason::Token,
            why,
            refused,
        }
    };
    let mut agreed = 0;
    if let Some(token) = required {
        if !v2 {
            return refuse(
                RefuseReason::TokenRequired,
                "a version-1 hello where a token is required".into(),
            );
        }
        if hello.token.is_empty() {
            return refuse(
                RefuseReason::TokenRequired,
                "no token in the hello (a token is required)".into(),
            );
        }
        if !bool::from(hello.token.as_bytes().ct_eq(token.as_bytes())) {
            return refuse(RefuseReason::BadToken, "wrong token".into());
        }
        agreed |= capabilities::AUTH_TOKEN;
    }
    if !v2 {
        return Verdict::Accept {
            welcome: None,
            acked: false,
        };
    }
    agreed |=
        hello.capabilities & (capabilities::ACKED_DELIVERY | capabilities::TRUNCATION_REPORTS);
    let mut out = Vec::new();
    Reply::Welcome(Welcome {
        version: VERSION,
        capabilities: agreed & hello.capabilities,
    })
    .encode(&mut out);
    Verdict::Accept {
        welcome: Some(out),
        acked: agreed & capabilities::ACKED_DELIVERY != 0,
    }
}
