//! The quiescence gate behind [`ForkSafe`](super::ForkSafe).
//!
//! Every call into a wrapped subscriber passes the gate: the calling thread
//! adds one to its stripe's counter on the way in (the outermost call of a
//! thread only: a thread-local depth makes nested calls free) and takes it
//! off on the way out. The `pthread_atfork` *prepare* hook closes the gate
//! and waits until the counters say that no thread (but perhaps the forking
//! one) is inside; new calls wait at the gate meanwhile. So no thread holds
//! a lock of the wrapped subscriber when `fork()` copies the process. The
//! *parent* hook reopens the gate, the *child* hook resets it (only the
//! forking thread exists there).
//!
//! The counters are striped over cache lines (a thread keeps its stripe for
//! life), so threads logging at once do not fight over one line.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Stripes of the in-flight counter: threads are spread over them
/// round-robin.
const STRIPES: usize = 16;

/// How long `fork()` waits for the wrapped subscriber to become quiet before
/// it goes ahead anyway (see the module docs of [`crate::fork`]).
pub(crate) const PREPARE_WAIT: Duration = Duration::from_secs(2);

#[repr(align(128))]
struct Stripe(AtomicUsize);

#[allow(clippy::declare_interior_mutable_const)]
const STRIPE_ZERO: Stripe = Stripe(AtomicUsize::new(0));
static INSIDE: [Stripe; STRIPES] = [STRIPE_ZERO; STRIPES];

/// How many `fork()`s are between their prepare and parent hooks (two
/// threads may fork at once).
static CLOSED: AtomicUsize = AtomicUsize::new(0);
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

/// Set by the prepare hook: whether the forking thread was itself inside a
/// wrapped call, and on which stripe (the child gives that count back).
static FORKER_INSIDE: AtomicBool = AtomicBool::new(false);
static FORKER_STRIPE: AtomicUsize = AtomicUsize::new(0);
/// Prepare hooks that gave up waiting (for tests and diagnostics).
static GAVE_UP: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Nesting depth of wrapped calls on this thread.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// This thread's stripe, `usize::MAX` until first use.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn my_stripe() -> usize {
    STRIPE.with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            i = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
            s.set(i);
        }
        i
    })
}

/// Proof that this thread is counted inside the gate; leaving is its drop.
pub(crate) struct Pass {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Pass {
    fn new() -> Self {
        Self {
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let depth = DEPTH.with(|d| {
            let v = d.get().saturating_sub(1);
            d.set(v);
            v
        });
        if depth == 0 {
            INSIDE[my_stripe()].0.fetch_sub(1, Ordering::Release);
        }
    }
}

/// Enters the gate, waiting while a `fork()` is being prepared.
#[inline]
pub(crate) fn enter() -> Pass {
    enter_with(true)
}

/// Enters the gate without waiting: for calls made while tracing-core holds
/// its own callsite lock (`register_callsite`, `max_level_hint`). They are
/// counted, so a `fork()` waits for them to finish, but they never wait for
/// a `fork()` (that would fork with tracing-core's lock held).
#[inline]
pub(crate) fn enter_nowait() -> Pass {
    enter_with(false)
}

#[inline]
fn enter_with(wait: bool) -> Pass {
    let nested = DEPTH.with(|d| {
        let v = d.get();
        d.set(v + 1);
        v > 0
    });
    if nested {
        return Pass::new();
    }
    let stripe = &INSIDE[my_stripe()].0;
    loop {
        stripe.fetch_add(1, Ordering::SeqCst);
        if !wait || CLOSED.load(Ordering::SeqCst) == 0 {
            return Pass::new();
        }
        // A fork is being prepared: step back out and wait for it.
        stripe.fetch_sub(1, Ordering::SeqCst);
        wait_open();
    }
}

fn wait_open() {
    let mut spins = 0u32;
    while CLOSED.load(Ordering::SeqCst) != 0 {
        if spins < 64 {
            std::hint::spin_loop();
        } else if spins < 128 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
        spins = spins.saturating_add(1);
    }
}

/// Runs `f` as if this thread were outside the gate, when it is inside at
/// depth 1 (the outermost wrapped call): for a wait that holds no lock of
/// the subscriber, such as [`MpLayer`](crate::MpLayer) blocking on a full
/// channel, so a `fork()` need not wait for it. Nested deeper (an outer
/// call of this thread may hold a lock), it just runs `f`.
pub(crate) fn unguarded<R>(f: impl FnOnce() -> R) -> R {
    let outermost = DEPTH.with(|d| d.get() == 1);
    if !outermost {
        return f();
    }
    DEPTH.with(|d| d.set(0));
    let stripe = &INSIDE[my_stripe()].0;
    stripe.fetch_sub(1, Ordering::Release);
    struct Reenter;
    impl Drop for Reenter {
        fn drop(&mut self) {
            // Back in (waiting for a fork in progress): the caller's `Pass`
            // takes us out again.
            std::mem::forget(enter());
        }
    }
    let _back = Reenter;
    f()
}

fn inside_total() -> usize {
    INSIDE.iter().map(|s| s.0.load(Ordering::SeqCst)).sum()
}

/// `pthread_atfork` prepare: close the gate and wait (at most
/// [`PREPARE_WAIT`]) until no other thread is inside.
pub(crate) fn prepare() {
    CLOSED.fetch_add(1, Ordering::SeqCst);
    let own = DEPTH.with(Cell::get) > 0;
    FORKER_INSIDE.store(own, Ordering::SeqCst);
    FORKER_STRIPE.store(my_stripe(), Ordering::SeqCst);
    let own = usize::from(own);
    if inside_total() <= own {
        return;
    }
    let deadline = Instant::now() + PREPARE_WAIT;
    let mut spins = 0u32;
    while inside_total() > own {
        if spins < 64 {
            std::hint::spin_loop();
        } else if spins < 256 {
            std::thread::yield_now();
        } else {
            if Instant::now() >= deadline {
                GAVE_UP.fetch_add(1, Ordering::Relaxed);
                return;
            }
            std::thread::sleep(Duration::from_micros(20));
        }
        spins = spins.saturating_add(1);
    }
}

/// `pthread_atfork` parent: reopen the gate.
pub(crate) fn parent() {
    CLOSED.fetch_sub(1, Ordering::SeqCst);
}

/// `pthread_atfork` child: only the forking thread exists; its own count is
/// all that stays. Async-signal-safe (atomics and a const thread-local).
pub(crate) fn child() {
    for s in &INSIDE {
        s.0.store(0, Ordering::SeqCst);
    }
    if FORKER_INSIDE.load(Ordering::SeqCst) {
        INSIDE[FORKER_STRIPE.load(Ordering::SeqCst) % STRIPES]
            .0
            .store(1, Ordering::SeqCst);
    }
    CLOSED.store(0, Ordering::SeqCst);
}

/// How many `fork()`s went ahead without the subscriber being quiet.
#[cfg(test)]
pub(crate) fn gave_up_count() -> usize {
    GAVE_UP.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    fn my_count() -> usize {
        INSIDE[my_stripe()].0.load(Ordering::SeqCst)
    }

    #[test]
    fn nested_calls_count_once_and_unguarded_steps_out() {
        let _serial = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = my_count();
        {
            let _a = enter();
            assert_eq!(my_count(), before + 1);
            {
                let _b = enter();
                let _c = enter_nowait();
                assert_eq!(my_count(), before + 1);
                // Nested: unguarded changes nothing.
                unguarded(|| assert_eq!(my_count(), before + 1));
            }
            unguarded(|| assert_eq!(my_count(), before));
            assert_eq!(my_count(), before + 1);
            assert_eq!(DEPTH.with(Cell::get), 1);
        }
        assert_eq!(my_count(), before);
        assert_eq!(DEPTH.with(Cell::get), 0);
    }

    /// These tests run one at a time (threads of one may share a stripe
    /// with another's).
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// A thread that enters the gate and stays until `release` is set (or
    /// 60 s passed, so a broken test cannot hang the suite).
    fn stay_inside(release: &Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        let inside = Arc::new(AtomicBool::new(false));
        let t = {
            let (inside, release) = (Arc::clone(&inside), Arc::clone(release));
            std::thread::spawn(move || {
                let _p = enter();
                inside.store(true, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(60);
                while !release.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        while !inside.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        t
    }

    #[test]
    fn prepare_gives_up_on_a_thread_that_stays_inside() {
        let _serial = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let release = Arc::new(AtomicBool::new(false));
        let t = stay_inside(&release);
        let gave_up = gave_up_count();
        prepare();
        // Returned although the thread is still inside: after the bound.
        assert_eq!(gave_up_count(), gave_up + 1);
        parent();
        release.store(true, Ordering::SeqCst);
        t.join().expect("inside thread");
    }

    #[test]
    fn prepare_waits_for_a_thread_inside_and_holds_new_ones_back() {
        let _serial = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let release = Arc::new(AtomicBool::new(false));
        let t = stay_inside(&release);
        let releaser = {
            let release = Arc::clone(&release);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                release.store(true, Ordering::SeqCst);
            })
        };
        let gave_up = gave_up_count();
        prepare();
        // It returned because the thread left, not because it gave up.
        assert!(release.load(Ordering::SeqCst));
        assert_eq!(gave_up_count(), gave_up);
        // A new caller waits at the closed gate until `parent` reopens it.
        let entered = Arc::new(AtomicBool::new(false));
        let late = {
            let entered = Arc::clone(&entered);
            std::thread::spawn(move || {
                let _p = enter();
                entered.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!entered.load(Ordering::SeqCst), "entered a closed gate");
        parent();
        late.join().expect("late caller");
        assert!(entered.load(Ordering::SeqCst));
        t.join().expect("inside thread");
        releaser.join().expect("releaser");
    }
}
