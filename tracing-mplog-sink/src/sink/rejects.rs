//! Refused connections, counted by reason: what the report, the handle
//! and a later metrics endpoint read.

use std::sync::atomic::{AtomicU64, Ordering};

/// Connections refused before their first event, by reason.
///
/// Each refusal is also logged once, as a WARN record of the sink, with
/// the peer's address (or pid and uid) and the reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejections {
    /// A Unix peer whose uid is not allowed.
    pub peer_uid: u64,
    /// The sink already served `max_connections`.
    pub too_many: u64,
    /// The TLS handshake failed: no, bad, expired or unknown certificate,
    /// plain TCP on a TLS port, or too slow.
    pub tls: u64,
    /// A missing or wrong token, or a version-1 hello where a token is
    /// required.
    pub token: u64,
    /// No valid hello: wrong magic, unknown version, garbage, a first
    /// frame that is not a hello, or none within the hello timeout.
    pub hello: u64,
}

impl Rejections {
    /// Every refused connection.
    pub fn total(&self) -> u64 {
        self.peer_uid + self.too_many + self.tls + self.token + self.hello
    }
}

/// Why a connection was refused (which counter it adds to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    PeerUid,
    TooMany,
    Tls,
    Token,
    Hello,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters([AtomicU64; 5]);

impl Counters {
    pub(crate) fn add(&self, reason: Reason) {
        self.0[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Rejections {
        let get = |r: Reason| self.0[r as usize].load(Ordering::Relaxed);
        Rejections {
            peer_uid: get(Reason::PeerUid),
            too_many: get(Reason::TooMany),
            tls: get(Reason::Tls),
            token: get(Reason::Token),
            hello: get(Reason::Hello),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_counter() {
        let c = Counters::default();
        for r in [
            Reason::PeerUid,
            Reason::TooMany,
            Reason::TooMany,
            Reason::Tls,
            Reason::Token,
            Reason::Hello,
        ] {
            c.add(r);
        }
        let s = c.snapshot();
        assert_eq!(
            (s.peer_uid, s.too_many, s.tls, s.token, s.hello, s.total()),
            (1, 2, 1, 1, 1, 6)
        );
    }
}
