//! `fork()` support.
//!
//! **Our layer.** A `fork()`ed child inherits the parent's
//! [`MpLayer`](crate::MpLayer) but not its sender thread, and any lock
//! another parent thread held at the fork stays locked. A `pthread_atfork`
//! child hook bumps a generation counter (one atomic add); the child's first
//! event sees the change and builds fresh state — channel, sender thread,
//! connection, and a hello with the child's pid — without touching anything
//! inherited.
//!
//! **The whole subscriber.** The other parts of a subscriber have locks of
//! their own: an `EnvFilter` with a span directive (`info,[handle]=debug`)
//! keeps per-span state behind an `RwLock`, a `fmt` layer holds its writer's
//! lock while it writes. A child forked while a parent thread held one of
//! them hangs the first time it needs it. [`ForkSafe`] wraps the whole
//! subscriber to prevent that: the crate's `pthread_atfork` *prepare* hook
//! closes a gate in front of it and waits until no thread is inside, so
//! nothing of the subscriber is locked when the process is copied; new calls
//! wait at the gate until the fork is done. [`worker::init`](crate::worker::init)
//! installs its subscriber wrapped; a composed subscriber is wrapped with
//! [`ForkSafe::new`] or [`.fork_safe()`](ForkSafeExt::fork_safe).
//!
//! What it costs and what it does not cover:
//!
//! - About 5 ns per subscriber call (an event is two calls), measured in
//!   `BENCHMARKS.md`; `fork()` itself waits until threads inside the
//!   subscriber leave (normally microseconds).
//! - The wait is bounded (2 s): a thread stuck inside the subscriber longer
//!   than that (say a `fmt` layer writing to a pipe nobody reads) no longer
//!   holds up the parent's `fork()`, which goes ahead; that child may then
//!   hang on the lock the stuck thread holds. `MpLayer` waiting for room in
//!   a full channel (`Backpressure::Block`) is not "inside": it holds no
//!   lock a child needs, so `fork()` does not wait for it.
//! - `register_callsite` runs while tracing-core may hold its callsite lock
//!   (only when scoped dispatchers exist besides the global one); such calls
//!   are counted but never wait, and tracing-core releases its lock just
//!   after they return: a fork in that instant is not covered.
//! - Layers added on top of a `ForkSafe` (`fork_safe().with(layer)`) are
//!   outside it: wrap last.
//! - Locks outside the subscriber are not ours: the standard output's lock
//!   held by a `println!` in another thread, a `non_blocking` writer's
//!   channel (its worker thread does not exist in the child), the
//!   allocator's locks (the libc's business; glibc takes care of malloc).
//!   See `docs/guide.md`, "Forking".
//!
//! **Flushing.** To flush before exiting, the child uses either
//! - the [`FlushGuard`] it inherited, if it has it at hand (for example the
//!   one `main` bound before forking): dropping it or calling
//!   [`flush`](FlushGuard::flush) acts on the child's events only; or
//! - [`after_fork_guard`], which needs nothing at hand; or
//! - [`after_fork_guard_named`], which also gives the child its own process
//!   name (call it first thing in the child).
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
    let live = live_layers();
    (!live.is_empty()).then(|| FlushGuard::new(live))
}

/// Like [`after_fork_guard`], but first gives this process its own name:
/// the child's hello (and so the sink's report and per-name files) carries
/// `name` instead of the parent's. Its own `fork()`ed children inherit it.
///
/// Call it first thing in the child and keep the guard until the child
/// exits. The name applies to events logged after the call. If the child
/// already logged (its state was built under the parent's name), those
/// events are flushed under the parent's name, with a goodbye, before this
/// returns, and the child goes on under `name` on a new connection: the sink
/// then shows the same pid twice, once under each name. Events another
/// thread of the child logs while this runs may be discarded (with a note on
/// stderr): rename before the child starts threads.
///
/// Takes no lock but the sink's channel of this process (its own, fresh).
/// If this process's logging thread cannot be started, the name is left as
/// it was and stderr says why.
///
/// ```no_run
/// # let (_layer, _guard) = tracing_mplog::MpLayer::builder()
/// #     .endpoint("unix:/run/app/log.sock".parse()?).build()?;
/// // SAFETY: the child only logs and exits.
/// match unsafe { libc::fork() } {
///     0 => {
///         let guard = tracing_mplog::fork::after_fork_guard_named("worker-3-child");
///         tracing::info!("hello from the child"); // sent as worker-3-child
///         drop(guard); // flush, goodbye
///         unsafe { libc::_exit(0) };
///     }
///     _ => { /* parent */ }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn after_fork_guard_named(name: impl Into<String>) -> Option<FlushGuard> {
    let name = name.into();
    let live = live_layers();
    for shared in &live {
        match shared.restart_named(name.clone()) {
            Ok(Some(old)) => crate::guard::shut_down(shared, old),
            Ok(None) => {}
            Err(e) => eprintln!(
                "tracing-mplog: process {} keeps its name: cannot start its logging thread as {name:?}: {e}",
                std::process::id()
            ),
        }
    }
    (!live.is_empty()).then(|| FlushGuard::new(live))
}

/// Every live layer of this process, read without a lock.
pub(crate) fn live_layers() -> Vec<Arc<Shared>> {
    let mut live = Vec::new();
    let mut node = LAYERS.load(Ordering::Acquire);
    while !node.is_null() {
        // SAFETY: nodes are published fully built and never freed.
        let n = unsafe { &*node };
        live.extend(n.shared.upgrade());
        node = n.next;
    }
    live
}
