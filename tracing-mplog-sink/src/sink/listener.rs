//! The accept loop: one thread polls every listening socket, checks each
//! Unix peer's uid and the connection limit, and starts the connection's
//! reader thread, which runs its handshake (so a slow or hostile peer never
//! holds up the others).

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::thread;
use std::time::Duration;

use tracing_core::Level;

use super::rejects::Reason;
use super::{Shared, pyreader, reader};
use crate::transport::{Accepted, Listener, Peer};

/// Stack of a reader thread: it holds a few small buffers (and, for TLS,
/// the rustls state) only.
const READER_STACK: usize = 256 * 1024;
/// How long the (non-blocking) accept loop sleeps when nobody is waiting.
const IDLE: Duration = Duration::from_millis(20);

/// What a listening socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// tracing-mplog's wire protocol.
    Native,
    /// Python's `logging.handlers.SocketHandler` (see `pyreader`).
    Python,
}

/// Accepts until [`Shared::stop`] is set, then accepts what is already
/// waiting in the backlogs (a worker that connected, wrote and left before
/// shutdown is read to its end like the others).
pub(crate) fn run(shared: &Arc<Shared>, listeners: &[(Listener, Protocol)]) {
    loop {
        let stopping = shared.stop.load(Ordering::Acquire);
        let mut busy = false;
        for (listener, protocol) in listeners {
            match listener.accept() {
                Ok(accepted) => {
                    busy = true;
                    accept(shared, accepted, *protocol);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => busy = true,
                Err(e) => {
                    shared.notice(Level::ERROR, format!("accepting a connection failed: {e}"));
                }
            }
        }
        if !busy {
            if stopping {
                return;
            }
            thread::sleep(IDLE);
        }
    }
}

fn accept(shared: &Arc<Shared>, accepted: Accepted, protocol: Protocol) {
    let peer = accepted.peer();
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
    if let Peer::Unix(cred) = peer {
        if !shared.allowed_uids.contains(&cred.uid) {
            shared.rejects.add(Reason::PeerUid);
            shared.notice(
                Level::WARN,
                format!(
                    "refused a connection: peer uid {} (pid {}) is not in allowed_uids {:?}",
                    cred.uid, cred.pid, shared.allowed_uids
                ),
            );
            return;
        }
    }
    let closer = match accepted.prepare() {
        Ok(closer) => closer,
        Err(e) => {
            shared.notice(
                Level::WARN,
                format!("dropped connection {id} ({peer}): {e}"),
            );
            return;
        }
    };
    {
        let mut conns = shared.conns.lock().unwrap_or_else(PoisonError::into_inner);
        if conns.len() >= shared.max_connections {
            drop(conns);
            shared.refuse(
                id,
                &peer,
                Reason::TooMany,
                &format!(
                    "the sink serves its maximum of {} connections",
                    shared.max_connections
                ),
            );
            return;
        }
        conns.insert(id, closer);
    }
    let for_reader = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name(format!("mplog-conn-{id}"))
        .stack_size(READER_STACK)
        .spawn(move || match protocol {
            Protocol::Native => reader::run(&for_reader, id, accepted),
            Protocol::Python => pyreader::run(&for_reader, id, accepted),
        });
    match spawned {
        Ok(handle) => {
            let mut readers = shared
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            readers.retain(|h| !h.is_finished());
            readers.push(handle);
        }
        Err(e) => {
            shared
                .conns
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
            shared.notice(
                Level::ERROR,
                format!("dropped connection {id}: cannot start its reader thread: {e}"),
            );
        }
    }
}
