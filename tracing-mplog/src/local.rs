//! What a logging thread keeps from one event to the next, so that each
//! event does not look it up again: its name (read once, instead of a
//! `std::thread::current()` handle taken and released per event), its
//! encoded span scope (see [`ScopeCache`]), the encoded header ends of its
//! callsites (see [`CallsiteCache`]) and its encoding buffer.

use std::cell::RefCell;

use crate::capture::{Caches, CallsiteCache, ScopeCache};

/// One logging thread's state.
#[derive(Debug)]
pub(crate) struct Local {
    /// The thread's name (threads cannot be renamed).
    pub(crate) thread_name: Option<Box<str>>,
    /// The scope cache of each layer this thread logged through (usually
    /// one).
    scopes: Vec<ScopeCache>,
    /// The header ends of the callsites this thread logged from.
    callsites: CallsiteCache,
    /// The buffer this thread encodes its events into (the frame is then
    /// copied into the pending frames of the sender).
    buf: Vec<u8>,
}

/// A thread's encoding buffer larger than this after an event is freed (a
/// rare huge event should not pin its memory).
const KEEP_BUF: usize = 64 * 1024;

impl Local {
    fn new() -> Self {
        Self {
            thread_name: std::thread::current().name().map(Box::from),
            scopes: Vec::new(),
            callsites: CallsiteCache::new(),
            buf: Vec::new(),
        }
    }

    /// The thread's name, its caches (the scope's for `layer`) and its
    /// encoding buffer.
    #[inline]
    pub(crate) fn parts(&mut self, layer: u64) -> (Option<&str>, Caches<'_>, &mut Vec<u8>) {
        if self.buf.capacity() > KEEP_BUF {
            self.buf = Vec::new();
        }
        let at = match self.scopes.iter().position(|c| c.layer() == layer) {
            Some(at) => at,
            None => {
                self.scopes.push(ScopeCache::new(layer));
                self.scopes.len() - 1
            }
        };
        let caches = Caches {
            scope: &mut self.scopes[at],
            callsites: &mut self.callsites,
        };
        (self.thread_name.as_deref(), caches, &mut self.buf)
    }
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's [`Local`], or with `None` when it is in use
/// (an event logged while one is encoded, by a `Debug` impl say) or gone
/// (the thread is exiting): `f` then works without it.
#[inline]
pub(crate) fn with<R>(mut f: impl FnMut(Option<&mut Local>) -> R) -> R {
    let done = LOCAL.try_with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        Some(f(Some(slot.get_or_insert_with(Local::new))))
    });
    match done {
        Ok(Some(r)) => r,
        _ => f(None),
    }
}
