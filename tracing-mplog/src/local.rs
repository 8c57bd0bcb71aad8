//! What a logging thread keeps from one event to the next, so that each
//! event does not look it up again: its name (read once, instead of a
//! `std::thread::current()` handle taken and released per event).

use std::cell::RefCell;

/// One logging thread's state.
#[derive(Debug)]
pub(crate) struct Local {
    /// The thread's name (threads cannot be renamed).
    pub(crate) thread_name: Option<Box<str>>,
}

impl Local {
    fn new() -> Self {
        Self {
            thread_name: std::thread::current().name().map(Box::from),
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's [`Local`], or with `None` when it is in use
/// (an event logged while one is encoded, by a `Debug` impl say) or gone
/// (the thread is exiting): `f` then works without it.
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
