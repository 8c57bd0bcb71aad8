//! One reader thread per Python connection: the stream of
//! `logging.handlers.SocketHandler` (a 4-byte big-endian length, then a
//! pickle of the record's `__dict__`), decoded as data only by
//! [`crate::python`], formatted and batched like a Rust worker's events.
//!
//! There is no hello: the process identity, (`processName`, `process`,
//! host of the connection), comes with each record. A batch holds the
//! records of one process; a record of another process (a handler shared
//! across a fork) starts a new batch. A frame over the size limit, a
//! truncated frame or a refused pickle closes this connection alone, with
//! the reason logged by the writer as a WARN record.

use std::hash::{Hash, Hasher};
use std::io::{self, BufReader, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Shared;
use super::batch::{self, Batcher, WriterGone};
use super::reader::{POLL, Patient, READ_BUFFER};
use super::rejects::Reason;
use super::writer::Msg;
use crate::forward::Record;
use crate::python::{PyRecord, decode_record};
use crate::record::Client;
use crate::record::RecordView as _;
use crate::transport::{Accepted, Peer};

/// Serves Python connection `id` to its end.
pub(crate) fn run(shared: &Shared, id: u64, accepted: Accepted) {
    let peer = accepted.peer();
    // A far deadline: `SocketHandler` has no handshake to time out.
    let deadline = Instant::now() + Duration::from_secs(3600);
    match accepted.establish(POLL, deadline) {
        Ok(conn) => {
            let mut stream =
                BufReader::with_capacity(READ_BUFFER, Patient::plain(conn, &shared.cut));
            serve(shared, id, &mut stream, &peer);
        }
        Err(why) => shared.refuse(id, &peer, Reason::Tls, &why),
    }
    shared.ended(id);
}

/// The host a connection's records come from: the peer's address over
/// TCP, this host over a Unix socket.
fn host_of(peer: &Peer) -> String {
    match peer {
        Peer::Unix(_) => tracing_mplog::origin::hostname(),
        Peer::Net(addr) => addr.ip().to_string(),
    }
}

/// A stable stand-in for a start time, so that the report tells Python
/// processes apart by (`processName`, `process`, host).
fn identity(name: &str, host: &str) -> i64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ("python", name, host).hash(&mut h);
    // Negative: never a real start time of a Rust worker.
    (h.finish() >> 1) as i64 | i64::MIN
}

/// What [`read_frame`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A frame's body, now in the buffer.
    Frame,
    /// A clean end of stream, between frames.
    End,
}

/// Reads one frame body into `buf`.
fn read_frame(stream: &mut impl Read, max: usize, buf: &mut Vec<u8>) -> Result<Next, String> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match stream.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(Next::End),
            Ok(0) => return Err(format!("truncated frame: {got} of 4 length bytes")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read error: {e}")),
        }
    }
    let len = u32::from_be_bytes(head) as usize;
    if len > max {
        return Err(format!(
            "oversized frame: {len} bytes, over the limit of {max}"
        ));
    }
    buf.clear();
    buf.resize(len, 0);
    stream.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => format!("truncated frame: fewer than its {len} bytes"),
        _ => format!("read error: {e}"),
    })?;
    Ok(Next::Frame)
}

fn now_ns() -> i128 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos()
}

fn serve(shared: &Shared, id: u64, stream: &mut BufReader<Patient<'_>>, peer: &Peer) {
    let Ok((origin, error)) = serve_records(shared, stream, id, host_of(peer)) else {
        return;
    };
    match origin {
        Some(origin) => {
            let _ = shared.tx.send(Msg::Closed {
                origin,
                // SocketHandler says no goodbye: an end between frames is
                // a clean end.
                goodbye: error.is_none(),
                error,
            });
        }
        None => {
            if let Some(why) = error {
                shared.notice(
                    tracing_core::Level::WARN,
                    format!("closed Python connection {id} ({peer}): {why}"),
                );
            }
        }
    }
}

/// The process whose records a connection is sending now, and their batch.
struct Current<'a> {
    origin: Arc<Client>,
    conn_key: Option<String>,
    batch: Batcher<'a>,
}

/// The connection's records until it ends: the process of the last ones
/// (none if no record came), and why the connection was closed, if it
/// was not a clean end.
fn serve_records(
    shared: &Shared,
    stream: &mut BufReader<Patient<'_>>,
    id: u64,
    host: String,
) -> Result<(Option<Arc<Client>>, Option<String>), WriterGone> {
    let maker = &shared.lines;
    let mut current: Option<Current<'_>> = None;
    let mut buf = Vec::new();
    // Python records carry no `seq`: each is written (no resend check).
    let mut seq = 0u64;
    let error = loop {
        match read_frame(stream, shared.max_frame_size, &mut buf) {
            Ok(Next::End) => break None,
            Err(why) => break Some(why),
            Ok(Next::Frame) => {}
        }
        // The opcode check keeps the decoder's known panics out (see
        // `python::scan`); a panic it missed closes this connection only.
        let decoded = std::panic::catch_unwind(|| decode_record(&buf));
        let rec: PyRecord = match decoded {
            Ok(Ok(rec)) => rec,
            Ok(Err(e)) => break Some(e.to_string()),
            Err(_) => break Some("the pickle decoder panicked on this frame".into()),
        };
        let cur = match current.take() {
            Some(c) if c.origin.pid == rec.process && c.origin.process_name == rec.process_name => {
                current.insert(c)
            }
            old => current.insert(switch_process(shared, old, id, &rec, &host)?),
        };
        let lines = cur.batch.lines();
        seq += 1;
        let received = now_ns();
        let view = rec.view(&host, received);
        maker.add(lines, seq, &view, cur.conn_key.as_deref());
        if maker.forwards(view.level()) {
            let observed = i64::try_from(received).unwrap_or(0);
            lines.forward(Record::from_python(&view, &cur.origin, observed));
        }
        cur.batch.after_frame(stream.buffer().len() >= 4)?;
    };
    match current {
        Some(mut c) => {
            c.batch.send()?;
            Ok((Some(c.origin), error))
        }
        None => Ok((None, error)),
    }
}

/// A record of another process than the last (or the first record): the
/// old process's batch goes and its connection closes, cleanly; the new
/// one's opens, with a batch of its own.
fn switch_process<'a>(
    shared: &'a Shared,
    old: Option<Current<'a>>,
    id: u64,
    rec: &PyRecord,
    host: &str,
) -> Result<Current<'a>, WriterGone> {
    if let Some(mut old) = old {
        old.batch.send()?;
        let closed = Msg::Closed {
            origin: old.origin,
            goodbye: true,
            error: None,
        };
        batch::send(&shared.tx, closed)?;
    }
    let origin = Arc::new(Client {
        conn: id,
        pid: rec.process,
        start_time_ns: identity(&rec.process_name, host),
        process_name: rec.process_name.clone(),
        host: host.to_owned(),
    });
    batch::send(&shared.tx, Msg::Opened(Arc::clone(&origin)))?;
    Ok(Current {
        conn_key: shared.lines.connection_key(&origin),
        batch: Batcher::new(&shared.tx, Arc::clone(&origin), None, false),
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_whole_or_refused() {
        let mut buf = Vec::new();
        let mut ok: &[u8] = &[0, 0, 0, 2, b'}', b'.'];
        assert_eq!(read_frame(&mut ok, 16, &mut buf), Ok(Next::Frame));
        assert_eq!(buf, b"}.");
        assert_eq!(read_frame(&mut ok, 16, &mut buf), Ok(Next::End));
        let mut big: &[u8] = &[0, 0, 1, 0];
        let e = read_frame(&mut big, 16, &mut buf).expect_err("oversized");
        assert!(e.contains("oversized"), "{e}");
        let mut short: &[u8] = &[0, 0, 0, 9, 1];
        let e = read_frame(&mut short, 16, &mut buf).expect_err("truncated");
        assert!(e.contains("truncated"), "{e}");
        let mut cut: &[u8] = &[0, 0];
        assert!(read_frame(&mut cut, 16, &mut buf).is_err());
    }

    #[test]
    fn identities_differ_by_name_and_host() {
        assert_ne!(identity("a", "h"), identity("b", "h"));
        assert_ne!(identity("a", "h"), identity("a", "g"));
        assert!(identity("a", "h") < 0);
    }
}
