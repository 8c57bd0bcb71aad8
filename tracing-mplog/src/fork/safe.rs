//! [`ForkSafe`]: a subscriber wrapper that keeps `fork()` away from its locks.

use std::any::TypeId;

use tracing_core::span::{self, Attributes, Current, Id, Record};
use tracing_core::subscriber::{Interest, Subscriber};
use tracing_core::{Dispatch, Event, LevelFilter, Metadata};
use tracing_subscriber::registry::LookupSpan;

use super::gate;

/// Wraps a whole subscriber so that a `fork()` never copies a lock one of
/// its threads holds: the child of a multi-threaded parent cannot hang on
/// the subscriber's own locks (such as the per-span lock of an
/// [`EnvFilter`](tracing_subscriber::EnvFilter) with span directives).
///
/// Every [`Subscriber`] call passes a cheap gate (a thread-local depth and
/// one atomic add on a per-thread-striped counter, in and out). The
/// `pthread_atfork` hook that this crate installs closes the gate before a
/// `fork()` and waits until no thread is inside the subscriber; the parent
/// reopens it after the fork, the child starts with it open. See
/// [`crate::fork`] for the limits. [`worker::init`](crate::worker::init)
/// installs its subscriber wrapped this way; a program that composes its
/// own wraps the outermost subscriber:
///
/// ```no_run
/// use tracing_mplog::fork::ForkSafe;
/// use tracing_subscriber::{EnvFilter, prelude::*};
///
/// let (mp_layer, _guard) = tracing_mplog::MpLayer::builder()
///     .endpoint("unix:/run/app/log.sock".parse()?)
///     .build()?;
/// let subscriber = tracing_subscriber::registry()
///     .with(EnvFilter::new("info,[handle]=debug"))
///     .with(mp_layer);
/// ForkSafe::new(subscriber).init(); // or `subscriber.fork_safe().init()`
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// It implements [`LookupSpan`] when the wrapped subscriber does (so layers
/// can still be added on top, though they are then outside the gate: wrap
/// last) and answers [`downcast_ref`](tracing::Dispatch::downcast_ref) for
/// itself and for everything the wrapped subscriber answers for.
#[derive(Debug, Clone)]
pub struct ForkSafe<S> {
    inner: S,
}

impl<S> ForkSafe<S> {
    /// Wraps `subscriber` and makes sure the fork hook is installed.
    ///
    /// Should the system refuse the hook (`pthread_atfork` fails only when
    /// out of memory), the wrapper still works as a plain subscriber and says
    /// so once on stderr.
    ///
    /// ```
    /// use tracing_mplog::fork::ForkSafe;
    ///
    /// let subscriber = ForkSafe::new(tracing_subscriber::registry());
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("quiet around fork()"));
    /// ```
    pub fn new(subscriber: S) -> Self {
        if let Err(e) = crate::sys::install_fork_hook() {
            eprintln!(
                "tracing-mplog: cannot install the fork hook ({e}): ForkSafe cannot protect fork()"
            );
        }
        Self { inner: subscriber }
    }

    /// The wrapped subscriber.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// `.fork_safe()` on any subscriber: the same as [`ForkSafe::new`].
///
/// ```
/// use tracing_mplog::fork::ForkSafeExt;
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::EnvFilter::new("info"))
///     .fork_safe();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("hi"));
/// ```
pub trait ForkSafeExt: Subscriber + Sized {
    /// Wraps `self` in [`ForkSafe`].
    fn fork_safe(self) -> ForkSafe<Self> {
        ForkSafe::new(self)
    }
}

impl<S: Subscriber> ForkSafeExt for S {}

impl<S: Subscriber> Subscriber for ForkSafe<S> {
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _pass = gate::enter_nowait();
        self.inner.on_register_dispatch(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // tracing-core may hold its callsite lock here: count, never wait.
        let _pass = gate::enter_nowait();
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let _pass = gate::enter();
        self.inner.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let _pass = gate::enter_nowait();
        self.inner.max_level_hint()
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let _pass = gate::enter();
        self.inner.new_span(span)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let _pass = gate::enter();
        self.inner.record(span, values);
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        let _pass = gate::enter();
        self.inner.record_follows_from(span, follows);
    }

    fn event_enabled(&self, event: &Event<'_>) -> bool {
        let _pass = gate::enter();
        self.inner.event_enabled(event)
    }

    fn event(&self, event: &Event<'_>) {
        let _pass = gate::enter();
        self.inner.event(event);
    }

    fn enter(&self, span: &Id) {
        let _pass = gate::enter();
        self.inner.enter(span);
    }

    fn exit(&self, span: &Id) {
        let _pass = gate::enter();
        self.inner.exit(span);
    }

    fn clone_span(&self, id: &Id) -> Id {
        let _pass = gate::enter();
        self.inner.clone_span(id)
    }

    #[allow(deprecated)]
    fn drop_span(&self, id: Id) {
        let _pass = gate::enter();
        self.inner.drop_span(id);
    }

    fn try_close(&self, id: Id) -> bool {
        let _pass = gate::enter();
        self.inner.try_close(id)
    }

    fn current_span(&self) -> Current {
        let _pass = gate::enter();
        self.inner.current_span()
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(std::ptr::from_ref(self).cast());
        }
        // SAFETY: forwarded unchanged; the inner subscriber upholds the
        // contract for the types it answers for.
        unsafe { self.inner.downcast_raw(id) }
    }
}

/// Span data is looked up without the gate: the registry's lookups take no
/// lock a child could inherit (its slab is lock-free).
impl<'a, S> LookupSpan<'a> for ForkSafe<S>
where
    S: LookupSpan<'a>,
{
    type Data = S::Data;

    fn span_data(&'a self, id: &span::Id) -> Option<Self::Data> {
        self.inner.span_data(id)
    }

    fn register_filter(&mut self) -> tracing_subscriber::filter::FilterId {
        self.inner.register_filter()
    }
}
