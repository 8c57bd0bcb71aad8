//! One reader thread per connection: read frames, validate and decode them,
//! apply the level threshold, format each event into its line and work out
//! its per-key file, then hand the lines to the writer in batches (one
//! message per read from the socket, not per event).
//!
//! Formatting here rather than in the writer decodes every frame once and
//! spreads the formatting over the connections' threads; the single writer
//! only copies lines into its files.
//!
//! The connection's own thread also runs its handshake: the TLS handshake
//! (if any), then the hello, which must arrive whole within the hello
//! timeout, and its check (`handshake`): version, token, and the version-2
//! reply. A refused peer is logged once and counted; it never reaches the
//! files and never holds up the accept loop or other connections.
//!
//! The first frame must be a hello. A corrupt, truncated or oversized frame
//! closes this connection alone, with the reason logged by the writer as a
//! WARN record; every other connection carries on.

use std::io::{self, BufRead as _, BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing_mplog::wire::{Ack, Frame, FrameReader, Reply, WireError};

use super::Shared;
use super::batch::{self, Batcher, WriterGone};
use super::handshake::{self, Verdict};
use super::lines::LineMaker;
use super::rejects::Reason;
use super::writer::Msg;
use crate::forward::Record;
use crate::record::{Client, WireRecord};
use crate::transport::{Accepted, Conn, Peer};

/// Bytes read from the socket at a time.
pub(super) const READ_BUFFER: usize = 64 * 1024;
/// How often a blocked read looks at the drain deadline.
pub(crate) const POLL: Duration = Duration::from_millis(250);
/// In acknowledged mode, how often a read waiting for more looks whether
/// the writer made events durable that are not acknowledged yet: first
/// after [`ACK_POLL`], then twice as long each time nothing new was
/// durable, up to [`ACK_POLL_MAX`] (a thousand connections waiting for
/// their acknowledgements must not wake the sink a thousand times a
/// millisecond).
const ACK_POLL: Duration = Duration::from_millis(1);
const ACK_POLL_MAX: Duration = Duration::from_millis(32);
/// After the goodbye the worker waits for its last acknowledgement to
/// exit, and the writer flushes those lines at once: look sooner.
const ACK_POLL_LAST: Duration = Duration::from_micros(100);

/// What a connection's stream must do for its reader: read frames, write
/// replies, change its read timeout, wait for something to read.
pub(crate) trait Stream: Read + Write {
    /// Sets the read timeout of the socket under the stream.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Waits until there is something to read, at most `timeout`: `true`
    /// if there is, or if the stream cannot tell (then its read waits).
    fn wait_readable(&self, timeout: Duration) -> io::Result<bool>;
}

impl Stream for Conn {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        Conn::set_read_timeout(self, timeout)
    }
    fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        Conn::wait_readable(self, timeout)
    }
}

#[cfg(test)]
impl Stream for std::os::unix::net::UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
    fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        use std::os::unix::io::AsRawFd;
        crate::sys::wait_readable(&[self.as_raw_fd()], timeout)
    }
}

/// Acknowledged delivery on one connection.
#[derive(Debug)]
struct Acks {
    /// Published by the writer: the highest `seq` of this connection's
    /// process whose line is handed to the operating system.
    durable: Arc<AtomicU64>,
    /// The highest `seq` acknowledged to the worker.
    sent: u64,
    /// The highest event `seq` read from the connection.
    read: u64,
    /// The socket's read timeout now.
    timeout: Duration,
    /// The goodbye was read: what is left to acknowledge is the last.
    last: bool,
}

impl Acks {
    /// Acknowledges what became durable; while events read are not, reads
    /// wait a short time (see [`ACK_POLL`]) so their acknowledgement is not
    /// late.
    fn send_due(&mut self, stream: &mut impl Stream) -> io::Result<()> {
        let durable = self.durable.load(Ordering::Acquire);
        let first = if self.last { ACK_POLL_LAST } else { ACK_POLL };
        let timeout = if durable > self.sent {
            let mut out = Vec::with_capacity(16);
            Reply::Ack(Ack { seq: durable }).encode(&mut out);
            stream.write_all(&out)?;
            stream.flush()?;
            self.sent = durable;
            first
        } else if self.timeout < POLL {
            (self.timeout * 2).min(ACK_POLL_MAX)
        } else {
            first
        };
        let timeout = if self.read > self.sent { timeout } else { POLL };
        if timeout != self.timeout {
            stream.set_read_timeout(Some(timeout))?;
            self.timeout = timeout;
        }
        Ok(())
    }
}

/// The socket, read with a timeout so the sink can cut the connection once
/// its drain timeout has passed, or before its hello once the hello
/// timeout has.
pub(super) struct Patient<'a, S = Conn> {
    pub(super) stream: S,
    pub(super) cut: &'a AtomicBool,
    pub(super) hello_deadline: Option<Instant>,
    /// In acknowledged mode: acknowledgements are sent between reads.
    acks: Option<Acks>,
}

impl<'a, S> Patient<'a, S> {
    /// A socket read without hello deadline nor acknowledgements.
    #[cfg(feature = "python")]
    pub(super) fn plain(stream: S, cut: &'a AtomicBool) -> Self {
        Patient {
            stream,
            cut,
            hello_deadline: None,
            acks: None,
        }
    }
}

impl<S: Stream> Read for Patient<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(acks) = &mut self.acks {
                acks.send_due(&mut self.stream)?;
                // Events wait for their acknowledgement: wait in `poll`,
                // which keeps to the short timeout (the read timeout is
                // rounded up to the kernel's tick), then look again.
                if acks.read > acks.sent && !self.stream.wait_readable(acks.timeout)? {
                    self.check_deadlines()?;
                    continue;
                }
            }
            match self.stream.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    self.check_deadlines()?;
                }
                other => return other,
            }
        }
    }
}

impl<S> Patient<'_, S> {
    /// After a wait that found nothing to read: the error that ends the
    /// connection, if the drain timeout or the hello timeout has passed.
    fn check_deadlines(&self) -> io::Result<()> {
        if self.cut.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection did not end within the drain timeout",
            ));
        }
        if self.hello_deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete hello within the hello timeout",
            ));
        }
        Ok(())
    }
}

/// Whether `buf` starts with a whole frame (so reading it needs no wait).
fn whole_frame_buffered(buf: &[u8]) -> bool {
    match buf.first_chunk::<4>() {
        Some(head) => buf.len() - 4 >= u32::from_le_bytes(*head) as usize,
        None => false,
    }
}

/// The next frame body, and how many bytes of the read buffer to consume
/// once it is handled: a frame that is in the read buffer whole is decoded
/// where it lies (no copy, no read call; most are, a socket read brings
/// hundreds); any other is read by `frames`, which waits for the rest and
/// checks its length (then 0: `frames` consumed it). Called between frames
/// only (`frames` returned a whole frame, or none yet), so the read buffer
/// starts with a frame's length prefix.
fn next_body<R: Read>(
    frames: &mut FrameReader<BufReader<R>>,
    max_frame_size: usize,
) -> Result<Option<(&[u8], usize)>, WireError> {
    let buffered = frames.get_ref().buffer();
    let whole = buffered
        .first_chunk::<4>()
        .map(|head| u32::from_le_bytes(*head) as usize)
        // Empty and oversized frames are `frames`' to refuse.
        .filter(|&len| (1..=max_frame_size).contains(&len) && buffered.len() - 4 >= len);
    if let Some(len) = whole {
        // In bounds: `whole` checked that the buffer holds them.
        return Ok(Some((&frames.get_ref().buffer()[4..4 + len], 4 + len)));
    }
    Ok(frames.read_raw()?.map(|body| (body, 0)))
}

/// Why a connection was closed, in words for the log.
fn reason(e: &WireError) -> String {
    match e {
        WireError::UnexpectedEof { .. } => format!("truncated frame: {e}"),
        WireError::Oversized { .. } => format!("oversized frame: {e}"),
        WireError::Io(io) => format!("read error: {io}"),
        _ => format!("corrupt frame: {e}"),
    }
}

/// Serves connection `id` to its end: handshake, hello, frames.
pub(crate) fn run(shared: &Shared, id: u64, accepted: Accepted) {
    let peer = accepted.peer();
    // Counted open until this reader ends.
    let _open = shared.monitor.connection(accepted.transport());
    let deadline = Instant::now() + shared.hello_timeout;
    match accepted.establish(POLL.min(shared.hello_timeout), deadline) {
        Ok(conn) => {
            let patient = Patient {
                stream: conn,
                cut: &shared.cut,
                hello_deadline: Some(deadline),
                acks: None,
            };
            let mut frames = FrameReader::with_max_frame_size(
                BufReader::with_capacity(READ_BUFFER, patient),
                shared.max_frame_size,
            );
            serve(shared, id, &mut frames, peer);
        }
        Err(why) => shared.refuse(id, &peer, Reason::Tls, &why),
    }
    shared.ended(id);
}

/// Writes a reply frame whole (a failure only means the peer left).
fn reply(frames: &mut FrameReader<BufReader<Patient<'_>>>, bytes: &[u8]) {
    let conn = &mut frames.get_mut().get_mut().stream;
    let _ = conn.write_all(bytes).and_then(|()| conn.flush());
}

/// Reads and checks the hello; `None` when the connection is refused (and
/// told why) or left before saying it.
fn hello(
    shared: &Shared,
    id: u64,
    frames: &mut FrameReader<BufReader<Patient<'_>>>,
    peer: &Peer,
) -> Option<(Arc<Client>, Option<Vec<u8>>, bool)> {
    let refuse = |reason: Reason, why: String| {
        shared.refuse(id, peer, reason, &why);
        None
    };
    match frames.read_raw() {
        Ok(None) => None, // connected and left: nothing to say
        Err(e) => refuse(Reason::Hello, reason(&e)),
        Ok(Some(body)) => match Frame::decode(body) {
            Ok(Frame::Hello(h)) => {
                let origin = Arc::new(Client {
                    conn: id,
                    pid: h.pid,
                    start_time_ns: h.start_time_ns,
                    process_name: h.process_name.to_owned(),
                    host: h.host.to_owned(),
                });
                match handshake::check(shared, peer, &h) {
                    Verdict::Accept { welcome, acked } => Some((origin, welcome, acked)),
                    Verdict::Refuse {
                        reason,
                        why,
                        refused,
                    } => {
                        if let Some(bytes) = refused {
                            reply(frames, &bytes);
                        }
                        refuse(reason, why)
                    }
                }
            }
            Ok(_) => refuse(Reason::Hello, "the first frame is not a hello".into()),
            Err(e) => refuse(Reason::Hello, reason(&e)),
        },
    }
}

fn serve(shared: &Shared, id: u64, frames: &mut FrameReader<BufReader<Patient<'_>>>, peer: Peer) {
    let Some((origin, welcome, acked)) = hello(shared, id, frames, &peer) else {
        return;
    };
    frames.get_mut().get_mut().hello_deadline = None;
    if let Some(bytes) = welcome {
        reply(frames, &bytes);
    }
    let durable = acked.then(|| Arc::new(AtomicU64::new(0)));
    frames.get_mut().get_mut().acks = durable.as_ref().map(|d| Acks {
        durable: Arc::clone(d),
        sent: 0,
        read: 0,
        timeout: POLL,
        last: false,
    });
    // A writer gone ends the connection with nothing more to report.
    let _ = serve_frames(shared, frames, &origin, durable);
}

/// The frames after the hello, until the connection ends; then its
/// `Closed` report.
fn serve_frames(
    shared: &Shared,
    frames: &mut FrameReader<BufReader<Patient<'_>>>,
    origin: &Arc<Client>,
    durable: Option<Arc<AtomicU64>>,
) -> Result<(), WriterGone> {
    batch::send(&shared.tx, Msg::Opened(Arc::clone(origin)))?;
    let maker: &LineMaker = &shared.lines;
    let conn_key = maker.connection_key(origin);
    let mut batch = Batcher::new(&shared.tx, Arc::clone(origin), durable, true);
    let mut goodbye = false;
    let mut read_seq = 0;
    let error = loop {
        let (body, consumed) = match next_body(frames, shared.max_frame_size) {
            Ok(None) => break None,
            Err(e) => break Some(reason(&e)),
            Ok(Some(next)) => next,
        };
        match Frame::decode(body) {
            Ok(Frame::Hello(_)) => break Some("a second hello on the same connection".into()),
            Ok(Frame::Goodbye(_)) => {
                goodbye = true;
                batch.mark_last();
            }
            Ok(Frame::Event(event)) => {
                let rec = WireRecord {
                    event: &event,
                    origin,
                };
                let lines = batch.lines();
                maker.add(lines, event.seq(), &rec, conn_key.as_deref());
                if maker.forwards(event.level()) {
                    let observed = lines.observed_ns();
                    lines.forward(Record::from_view(&event, origin, observed));
                }
                read_seq = read_seq.max(event.seq());
            }
            Ok(Frame::Dropped(dropped)) => {
                // Keep the order: the lines before it, then the report.
                batch.send()?;
                let msg = Msg::Dropped {
                    origin: Arc::clone(origin),
                    reason: dropped.reason,
                    count: dropped.count,
                };
                batch::send(&shared.tx, msg)?;
            }
            Ok(_) => {}
            Err(e) => break Some(reason(&e)),
        }
        if consumed > 0 {
            // Handled where it lay in the read buffer: now it goes.
            frames.get_mut().consume(consumed);
        }
        if let Some(acks) = &mut frames.get_mut().get_mut().acks {
            acks.read = read_seq;
            acks.last = goodbye;
        }
        batch.after_frame(whole_frame_buffered(frames.get_ref().buffer()))?;
    };
    batch.send()?;
    batch::send(
        &shared.tx,
        Msg::Closed {
            origin: Arc::clone(origin),
            goodbye: goodbye && error.is_none(),
            error,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_patient_read_waits_through_timeouts_until_cut() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        a.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let cut = AtomicBool::new(false);
        let mut patient = Patient {
            stream: a,
            cut: &cut,
            hello_deadline: None,
            acks: None,
        };
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(60));
            b.write_all(b"late").expect("write");
            b
        });
        let mut buf = [0; 8];
        let n = patient.read(&mut buf).expect("waits for the late bytes");
        assert_eq!(&buf[..n], b"late");
        let _b = writer.join().expect("writer");
        cut.store(true, Ordering::Release);
        let err = patient.read(&mut buf).expect_err("cut");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let why = reason(&WireError::Io(err));
        assert!(why.contains("drain timeout"), "{why}");
    }

    /// Frames whole in the read buffer are handed out where they lie (to be
    /// consumed after), a frame cut by the end of a read is read by
    /// `FrameReader`, and an oversized or empty one is refused by it.
    #[test]
    fn next_body_takes_whole_buffered_frames_in_place_and_leaves_the_rest_to_the_reader() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        a.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let cut = AtomicBool::new(false);
        let patient = Patient {
            stream: a,
            cut: &cut,
            hello_deadline: None,
            acks: None,
        };
        let mut frames =
            FrameReader::with_max_frame_size(BufReader::with_capacity(READ_BUFFER, patient), 16);
        let frame = |body: &[u8]| {
            let mut f = u32::try_from(body.len())
                .expect("short")
                .to_le_bytes()
                .to_vec();
            f.extend_from_slice(body);
            f
        };
        let mut sent = [frame(b"first"), frame(b"second")].concat();
        let third = frame(b"third");
        sent.extend_from_slice(&third[..5]);
        b.write_all(&sent).expect("write");
        // The first read fills the buffer (through `FrameReader`).
        let (body, consumed) = next_body(&mut frames, 16).expect("ok").expect("a frame");
        assert_eq!((body, consumed), (&b"first"[..], 0));
        let (body, consumed) = next_body(&mut frames, 16).expect("ok").expect("a frame");
        assert_eq!((body, consumed), (&b"second"[..], 10));
        frames.get_mut().consume(consumed);
        b.write_all(&third[5..]).expect("write");
        let (body, consumed) = next_body(&mut frames, 16).expect("ok").expect("a frame");
        assert_eq!((body, consumed), (&b"third"[..], 0));
        b.write_all(&[frame(b"fourth"), 17u32.to_le_bytes().to_vec()].concat())
            .expect("write");
        let (body, consumed) = next_body(&mut frames, 16).expect("ok").expect("a frame");
        assert_eq!(body, b"fourth");
        frames.get_mut().consume(consumed);
        let err = next_body(&mut frames, 16).expect_err("oversized");
        assert!(matches!(err, WireError::Oversized { len: 17, .. }), "{err}");
    }

    #[test]
    fn whole_frame_needs_its_prefix_and_body() {
        assert!(!whole_frame_buffered(&[]));
        assert!(!whole_frame_buffered(&[2, 0, 0]));
        assert!(!whole_frame_buffered(&[2, 0, 0, 0, 1]));
        assert!(whole_frame_buffered(&[2, 0, 0, 0, 1, 2]));
        assert!(whole_frame_buffered(&[1, 0, 0, 0, 1, 2]));
    }
}
