//! The accept loop: checks each peer's uid and starts its reader thread.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::thread;
use std::time::Duration;

use tracing_core::Level;

use super::{Shared, reader};
use crate::sys::{self, Listener, Stream};

/// Stack of a reader thread: it holds a few small buffers only.
const READER_STACK: usize = 128 * 1024;
/// How long the (non-blocking) accept loop sleeps when nobody is waiting.
const IDLE: Duration = Duration::from_millis(20);

/// Accepts until [`Shared::stop`] is set, then accepts what is already
/// waiting in the backlog (a worker that connected, wrote and left before
/// shutdown is read to its end like the others).
pub(crate) fn run(shared: &Arc<Shared>, listener: &Listener) {
    loop {
        let stopping = shared.stop.load(Ordering::Acquire);
        match listener.accept() {
            Ok((stream, _)) => accept(shared, stream),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if stopping {
                    return;
                }
                thread::sleep(IDLE);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                shared.notice(Level::ERROR, format!("accepting a connection failed: {e}"));
                if stopping {
                    return;
                }
                thread::sleep(IDLE);
            }
        }
    }
}

fn accept(shared: &Arc<Shared>, stream: Stream) {
    let refuse = |why: String| {
        shared.rejected.fetch_add(1, Ordering::Relaxed);
        shared.notice(Level::WARN, format!("refused a connection: {why}"));
    };
    let peer = match sys::peer_cred(&stream) {
        Ok(peer) => peer,
        Err(e) => return refuse(format!("cannot read the peer's credentials: {e}")),
    };
    if !shared.allowed_uids.contains(&peer.uid) {
        return refuse(format!(
            "peer uid {} (pid {}) is not in allowed_uids {:?}",
            peer.uid, peer.pid, shared.allowed_uids
        ));
    }
    // Accepted sockets must block (with the reader's timeout).
    if let Err(e) = stream.set_nonblocking(false) {
        shared.notice(Level::WARN, format!("dropped a connection: {e}"));
        return;
    }
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
    match stream.try_clone() {
        Ok(clone) => {
            shared
                .conns
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, clone);
        }
        Err(e) => {
            shared.notice(Level::WARN, format!("dropped connection {id}: {e}"));
            return;
        }
    }
    let for_reader = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name(format!("mplog-conn-{id}"))
        .stack_size(READER_STACK)
        .spawn(move || reader::run(&for_reader, id, stream, peer));
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
