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

#[cfg(feature = "python")]
use super::pyreader;
use super::rejects::Reason;
use super::{Shared, reader};
use crate::sys;
use crate::transport::{Accepted, Listener, Peer};

/// Stack of a reader thread: it holds a few small buffers (and, for TLS,
/// the rustls state) only.
const READER_STACK: usize = 256 * 1024;
/// How long the accept loop waits when nobody is waiting to be accepted:
/// in `poll` on every listening socket (a new connection ends the wait at
/// once), or asleep while connections wait for descriptors. It bounds how
/// late the loop sees a shutdown.
const IDLE: Duration = Duration::from_millis(20);

/// What a listening socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// tracing-mplog's wire protocol.
    Native,
    /// Python's `logging.handlers.SocketHandler` (see `pyreader`).
    #[cfg(feature = "python")]
    Python,
}

/// Accepts until [`Shared::stop`] is set, then accepts what is already
/// waiting in the backlogs (a worker that connected, wrote and left before
/// shutdown is read to its end like the others).
pub(crate) fn run(shared: &Arc<Shared>, listeners: &[(Listener, Protocol)]) {
    // Accepted connections waiting for a descriptor their reader needs.
    let mut held: Vec<(Accepted, Protocol, u64)> = Vec::new();
    let sockets: Vec<_> = listeners.iter().map(|(l, _)| l.raw_fd()).collect();
    loop {
        let stopping = shared.stop.load(Ordering::Acquire);
        let mut busy = false;
        // Every listener was asked (none skipped for want of descriptors):
        // only then is an empty backlog known to be empty.
        let mut asked_all = true;
        held = retry_held(shared, held);
        for (listener, protocol) in listeners {
            // Leave workers in the backlog while the descriptors are spoken
            // for: accepting them now could only drop them unread.
            let served = shared
                .conns
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len();
            if !held.is_empty() || !shared.fds.room_for_connection(served) {
                if let Some((level, warning)) = shared.fds.connections_wait(served) {
                    shared.notice(level, warning);
                }
                if stopping {
                    // Shutdown asks every connection to leave anyway; doing
                    // it now frees the descriptors the backlog waits for.
                    shared.ask_all_to_leave();
                }
                asked_all = false;
                break;
            }
            shared.fds.connections_resume();
            match listener.accept() {
                Ok(accepted) => {
                    busy = true;
                    if let Some(waiting) = accept(shared, accepted, *protocol) {
                        held.push(waiting);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => busy = true,
                Err(e) if sys::out_of_descriptors(&e) => {
                    // The connection stays in the backlog.
                    asked_all = false;
                    if let Some((level, warning)) = shared.fds.refused("accepting a connection", &e)
                    {
                        shared.notice(level, warning);
                    }
                }
                Err(e) => {
                    shared.notice(Level::ERROR, format!("accepting a connection failed: {e}"));
                }
            }
        }
        if !busy {
            if stopping && asked_all && held.is_empty() {
                return;
            }
            // Waiting in `poll` while connections are held back would wake
            // at once: the backlog they wait in is readable.
            if !asked_all || sys::wait_readable(&sockets, IDLE).is_err() {
                thread::sleep(IDLE);
            }
        }
    }
}

/// Tries again to start the connections held for want of a descriptor;
/// returns those still waiting.
fn retry_held(
    shared: &Arc<Shared>,
    held: Vec<(Accepted, Protocol, u64)>,
) -> Vec<(Accepted, Protocol, u64)> {
    let mut still = Vec::new();
    for (accepted, protocol, id) in held {
        if let Some(waiting) = start(shared, accepted, protocol, id) {
            still.push(waiting);
        }
    }
    still
}

/// Checks a new connection and starts its reader; returns it when it must
/// wait for a descriptor.
fn accept(
    shared: &Arc<Shared>,
    accepted: Accepted,
    protocol: Protocol,
) -> Option<(Accepted, Protocol, u64)> {
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
            return None;
        }
    }
    start(shared, accepted, protocol, id)
}

/// Starts connection `id`'s reader; returns the connection when a
/// descriptor it needs is not to be had now.
fn start(
    shared: &Arc<Shared>,
    accepted: Accepted,
    protocol: Protocol,
    id: u64,
) -> Option<(Accepted, Protocol, u64)> {
    let peer = accepted.peer();
    let closer = match accepted.prepare() {
        Ok(closer) => closer,
        Err(e) if sys::out_of_descriptors(&e) => {
            if let Some((level, warning)) = shared.fds.refused("starting a connection", &e) {
                shared.notice(level, warning);
            }
            return Some((accepted, protocol, id));
        }
        Err(e) => {
            shared.notice(
                Level::WARN,
                format!("dropped connection {id} ({peer}): {e}"),
            );
            return None;
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
            return None;
        }
        conns.insert(id, closer);
    }
    let for_reader = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name(format!("mplog-conn-{id}"))
        .stack_size(READER_STACK)
        .spawn(move || match protocol {
            Protocol::Native => reader::run(&for_reader, id, accepted),
            #[cfg(feature = "python")]
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
    None
}
