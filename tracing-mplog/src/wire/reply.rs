//! Frames from the sink to a worker (protocol version 2): the answer to a
//! hello, and acknowledgements.
//!
//! They use the same framing as the worker's frames (a `u32` body length,
//! then the body starting with a type byte), with type bytes of their own
//! (`0x81`..): a frame read in the wrong direction is an error, not a
//! misunderstanding.

use super::buf::{begin_frame, end_len, put_str, put_u8, put_u16, put_u64};
use super::cursor::Cursor;
use super::error::WireError;

const WELCOME: u8 = 0x81;
const REFUSED: u8 = 0x82;
const ACK: u8 = 0x83;

/// One frame from the sink to a worker.
///
/// ```
/// use tracing_mplog::wire::{capabilities, RefuseReason, Refused, Reply, Welcome};
///
/// let mut bytes = Vec::new();
/// Reply::Welcome(Welcome { version: 2, capabilities: capabilities::AUTH_TOKEN }).encode(&mut bytes);
/// assert_eq!(
///     Reply::decode(&bytes[4..])?,
///     Reply::Welcome(Welcome { version: 2, capabilities: capabilities::AUTH_TOKEN })
/// );
///
/// bytes.clear();
/// Reply::Refused(Refused { reason: RefuseReason::BadToken, text: "wrong token" }).encode(&mut bytes);
/// let Reply::Refused(r) = Reply::decode(&bytes[4..])? else { panic!("refused") };
/// assert_eq!((r.reason, r.text), (RefuseReason::BadToken, "wrong token"));
/// # Ok::<(), tracing_mplog::wire::WireError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply<'a> {
    /// The hello is accepted (type `0x81`).
    Welcome(Welcome),
    /// The hello is refused; the sink closes the connection (type `0x82`).
    Refused(Refused<'a>),
    /// Events up to a sequence number are written (type `0x83`; reserved
    /// for acknowledged delivery, sent only when agreed).
    Ack(Ack),
}

/// The sink accepts the hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Welcome {
    /// The protocol version the connection speaks from now on (2).
    pub version: u16,
    /// The capabilities agreed: a subset of those the hello offered.
    pub capabilities: u64,
}

/// The sink refuses the hello and closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Refused<'a> {
    /// Why, as a code a program can act on.
    pub reason: RefuseReason,
    /// Why, in words for a person (may be empty).
    pub text: &'a str,
}

/// Cumulative acknowledgement: every event frame of this connection's
/// process with `seq` up to and including this one is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ack {
    /// The highest sequence number acknowledged.
    pub seq: u64,
}

/// Why a sink refused a hello. Unknown codes decode as
/// [`Other`](Self::Other), so a newer sink's reasons never fail the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefuseReason {
    /// The token presented is wrong (wire value 1).
    BadToken,
    /// The sink requires a token and the hello has none (wire value 2).
    TokenRequired,
    /// The sink serves its maximum number of connections (wire value 3).
    TooManyConnections,
    /// The sink does not speak the hello's version (wire value 4).
    UnsupportedVersion,
    /// Any other code.
    Other(u8),
}

impl RefuseReason {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            RefuseReason::BadToken => 1,
            RefuseReason::TokenRequired => 2,
            RefuseReason::TooManyConnections => 3,
            RefuseReason::UnsupportedVersion => 4,
            RefuseReason::Other(code) => code,
        }
    }

    /// The reason of a wire value.
    pub fn from_u8(code: u8) -> Self {
        match code {
            1 => RefuseReason::BadToken,
            2 => RefuseReason::TokenRequired,
            3 => RefuseReason::TooManyConnections,
            4 => RefuseReason::UnsupportedVersion,
            other => RefuseReason::Other(other),
        }
    }
}

impl std::fmt::Display for RefuseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefuseReason::BadToken => f.write_str("bad token"),
            RefuseReason::TokenRequired => f.write_str("token required"),
            RefuseReason::TooManyConnections => f.write_str("too many connections"),
            RefuseReason::UnsupportedVersion => f.write_str("unsupported version"),
            RefuseReason::Other(code) => write!(f, "reason {code}"),
        }
    }
}

impl<'a> Reply<'a> {
    /// Decodes one frame body (the bytes after the length prefix). Never
    /// panics and never allocates; a worker's frame type is an error here.
    pub fn decode(body: &'a [u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(body, 0);
        let Ok(ty) = c.u8("frame type") else {
            return Err(WireError::EmptyFrame);
        };
        let reply = match ty {
            WELCOME => Reply::Welcome(Welcome {
                version: c.u16("welcome.version")?,
                capabilities: c.u64("welcome.capabilities")?,
            }),
            REFUSED => Reply::Refused(Refused {
                reason: RefuseReason::from_u8(c.u8("refused.reason")?),
                text: c.str("refused.text")?,
            }),
            ACK => Reply::Ack(Ack {
                seq: c.u64("ack.seq")?,
            }),
            found => return Err(WireError::UnknownFrameType { found }),
        };
        c.finish("frame")?;
        Ok(reply)
    }

    /// Appends the frame, length prefix included, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Welcome(w) => {
                let at = begin_frame(out, WELCOME);
                put_u16(out, w.version);
                put_u64(out, w.capabilities);
                end_len(out, at);
            }
            Reply::Refused(r) => {
                let at = begin_frame(out, REFUSED);
                put_u8(out, r.reason.to_u8());
                put_str(out, r.text);
                end_len(out, at);
            }
            Reply::Ack(a) => {
                let at = begin_frame(out, ACK);
                put_u64(out, a.seq);
                end_len(out, at);
            }
        }
    }
}
