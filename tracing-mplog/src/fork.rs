//! `fork()` support.
//!
//! A `fork()`ed child inherits the parent's [`MpLayer`](crate::MpLayer) but
//! not its sender thread, and any lock another parent thread held at the
//! fork stays locked. A `pthread_atfork` child hook bumps a generation
//! counter (one atomic add); the child's first event sees the change and
//! builds fresh state — channel, sender thread, connection, and a hello with
//! the child's pid — without touching anything inherited.
//!
//! To flush before exiting, the child uses either
//! - the [`FlushGuard`] it inherited, if it has it at hand (for example the
//!   one `main` bound before forking): dropping it or calling
//!   [`flush`](FlushGuard::flush) acts on the child's events only; or
//! - [`after_fork_guard`], which needs nothing at hand.
//!
//! A child that ends with `libc::_exit` runs no destructors: drop the guard
//! (or call `flush`) first.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Weak};

use crate::FlushGuard;
use crate::state::Shared;

pub(crate) mod gate;
mod safe;

pub use safe::{ForkSafe, ForkSafeExt};

/// A push-only, lock-free list of every layer ever built in this process
/// (and, after a fork, in its parents): readable in a child without any lock.
struct Node {
    shared: Weak<Shared>,
    next: *mut Node,
}

static LAYERS: AtomicPtr<Node> = AtomicPtr::new(std::ptr::null_mut());

pub(crate) fn register(shared: &Arc<Shared>) {
    let node = Box::into_raw(Box::new(Node {
        shared: Arc::downgrade(shared),
        next: std::ptr::null_mut(),
    }));
    let mut head = LAYERS.load(Ordering::Acquire);
    loop {
        // SAFETY: `node` is ours until the exchange below publishes it.
        unsafe { (*node).next = head };
        match LAYERS.compare_exchange_weak(head, node, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(now) => head = now,
        }
    }
}

/// A guard that flushes this process's events of every live
/// [`MpLayer`](crate::MpLayer) when dropped; `None` if there is none.
///
/// Meant for a `fork()`ed child that has no guard at hand. Taking no lock,
/// it is safe to call in a child of a multi-threaded parent. Its drop is the
/// same as the layer's own guard's (flush, goodbye, close: later events of
/// this process are discarded), so take it where the process is about to
/// exit.
///
/// ```no_run
/// # let (_layer, _guard) = tracing_mplog::MpLayer::builder()
/// #     .endpoint("unix:/run/app/log.sock".parse()?).build()?;
/// // SAFETY: the child only logs and exits.
/// match unsafe { libc::fork() } {
///     0 => {
///         tracing::info!("hello from the child");
///         drop(tracing_mplog::fork::after_fork_guard()); // flush, goodbye
///         unsafe { libc::_exit(0) };
///     }
///     _ => { /* parent */ }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn after_fork_guard() -> Option<FlushGuard> {
    let mut live = Vec::new();
    let mut node = LAYERS.load(Ordering::Acquire);
    while !node.is_null() {
        // SAFETY: nodes are published fully built and never freed.
        let n = unsafe { &*node };
        live.extend(n.shared.upgrade());
        node = n.next;
    }
    (!live.is_empty()).then(|| FlushGuard::new(live))
}
