//! [`MpLayer`], its builder and its options.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::capture::{CallerThread, SpanFields, encode_event};
use crate::endpoint::Endpoint;
use crate::guard::FlushGuard;
use crate::state::{Config, ProcState, Shared};
use crate::{PROCESS_NAME_ENV, sys, wire};

/// What `on_event` does when the channel to the sender thread is full.
///
/// Whatever the policy, every event the channel takes is written once the
/// sink takes it; the policies differ only in what a logging thread does
/// when the channel is full (the sink is slow, absent or not reading).
/// Dropped events are counted and the count reaches the sink as a dropped
/// frame (reason "channel full") as soon as the connection allows.
///
/// ```no_run
/// use std::time::Duration;
/// use tracing_mplog::{Backpressure, MpLayer};
///
/// // The default, with a shorter grace: lossless through outages up to 5 s.
/// let (layer, guard) = MpLayer::builder()
///     .endpoint("unix:/run/app/log.sock".parse()?)
///     .backpressure(Backpressure::BlockWithGrace)
///     .outage_grace(Duration::from_secs(5))
///     .build()?;
/// # drop((layer, guard));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backpressure {
    /// The default. The logging thread waits for room as long as the sink
    /// takes events: nothing is lost while the sink is slow, restarts, or
    /// is away for less than the [outage grace](Builder::outage_grace). Once
    /// the sink has taken nothing for the grace (not connected, or connected
    /// but not reading), the outage is declared: one warning on stderr
    /// naming the endpoint, and from then on events that do not fit in the
    /// channel are dropped and counted at once, with no wait per event,
    /// until the sink takes events again (a second line on stderr says so,
    /// with the number dropped). A sink that never comes back costs the
    /// program at most one grace period.
    #[default]
    BlockWithGrace,
    /// Strict: the logging thread waits for room for as long as it takes.
    /// Nothing is ever dropped, but a sink that stays away or stops reading
    /// stalls every logging thread once the channel is full, forever and
    /// silently. Only for programs that would rather stop than lose a line.
    Block,
    /// The event is dropped and counted; the count reaches the sink as a
    /// dropped frame as soon as the connection allows.
    DropNewest,
    /// The logging thread waits for room up to this long, then the event is
    /// dropped and counted as with `DropNewest`. Each event waits again: a
    /// sink gone for good costs this much per event logged.
    BlockFor(std::time::Duration),
}

/// Why [`Builder::build`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No endpoint was given.
    #[error("MpLayer builder: no endpoint given (call .endpoint(...))")]
    MissingEndpoint,
    /// `channel_capacity` was 0.
    #[error("MpLayer builder: channel_capacity must be at least 1")]
    ZeroCapacity,
    /// `max_frame_size` is outside the accepted range.
    #[error("MpLayer builder: max_frame_size {value} is outside {min}..={max}")]
    MaxFrameSize {
        /// The value given.
        value: usize,
        /// The smallest accepted value.
        min: usize,
        /// The largest accepted value.
        max: usize,
    },
    /// No process name was given, `TRACING_MPLOG_PROCESS_NAME` is unset and
    /// the executable's name could not be found.
    #[error(
        "MpLayer builder: no process name given, {PROCESS_NAME_ENV} unset, and the executable's name is unknown: {source}"
    )]
    ProcessName {
        /// Why the executable's name is unknown.
        #[source]
        source: io::Error,
    },
    /// The TLS files, the token file or the endpoint are unusable.
    #[error("MpLayer builder: {0}")]
    Transport(#[from] crate::TransportError),
    /// The fork hook or the sender thread could not be set up.
    #[error("MpLayer builder: starting the sender thread: {source}")]
    Start {
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// The default [`Builder::outage_grace`].
pub(crate) const DEFAULT_OUTAGE_GRACE: Duration = Duration::from_secs(30);

const MIN_FRAME: usize = 1024;
const MAX_FRAME: usize = 1 << 30;

/// Configures an [`MpLayer`]. Created by [`MpLayer::builder`].
///
/// | option | default |
/// |---|---|
/// | [`endpoint`](Self::endpoint) | none: required |
/// | [`process_name`](Self::process_name) | env `TRACING_MPLOG_PROCESS_NAME`, else the executable's file stem |
/// | [`channel_capacity`](Self::channel_capacity) | 1024 events |
/// | [`backpressure`](Self::backpressure) | [`Backpressure::BlockWithGrace`] |
/// | [`outage_grace`](Self::outage_grace) | 30 s (for [`worker::init`](crate::worker::init): env `TRACING_MPLOG_OUTAGE_GRACE`) |
/// | [`flush_timeout`](Self::flush_timeout) | 5 s |
/// | [`max_frame_size`](Self::max_frame_size) | 1 MiB ([`wire::DEFAULT_MAX_FRAME_SIZE`]) |
/// | [`tls_ca`](Self::tls_ca), [`tls_cert`](Self::tls_cert), [`tls_key`](Self::tls_key) | system roots, no client certificate (`tls://` only) |
/// | [`token_file`](Self::token_file) / [`token`](Self::token) | no token |
/// | [`connect_timeout`](Self::connect_timeout) / [`handshake_timeout`](Self::handshake_timeout) | 5 s / 5 s |
/// | [`acknowledged`](Self::acknowledged) | on, on every transport (for [`worker::init`](crate::worker::init): env `TRACING_MPLOG_ACK`) |
/// | [`panic_hook`](Self::panic_hook) | off ([`worker::init`](crate::worker::init) installs it) |
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    endpoint: Option<Endpoint>,
    process_name: Option<String>,
    capacity: usize,
    backpressure: Backpressure,
    outage_grace: Duration,
    flush_timeout: Duration,
    max_frame_size: usize,
    panic_hook: bool,
    pub(crate) net: crate::transport::Options,
}

impl Builder {
    /// The sink's address.
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// The name this process reports in its hello frame.
    pub fn process_name(mut self, name: impl Into<String>) -> Self {
        self.process_name = Some(name.into());
        self
    }

    /// How many encoded events may wait for the sender thread.
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// What happens when the channel is full.
    pub fn backpressure(mut self, policy: Backpressure) -> Self {
        self.backpressure = policy;
        self
    }

    /// How long the sink may take nothing (absent, or connected but not
    /// reading) while the channel is full before
    /// [`Backpressure::BlockWithGrace`] stops waiting for it and drops
    /// (counted) until it takes events again. Other policies ignore it.
    pub fn outage_grace(mut self, grace: Duration) -> Self {
        self.outage_grace = grace;
        self
    }

    /// How long [`FlushGuard::flush`] and the guard's drop wait for the sink.
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// The largest frame body sent, in bytes (1 KiB to 1 GiB). A larger
    /// event is cut to fit: its longest strings (message, fields, span
    /// fields) lose their ends, at character boundaries, and its message
    /// ends with `… [truncated N bytes]`; it is delivered, and counted as
    /// truncated (`DropReason::Truncated`, to a sink that knows it). Only an
    /// event whose bulk is not text is dropped and reported as `Oversized`.
    /// The sink's limit must be at least this.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Whether [`build`](Self::build) installs [`panic_hook`](crate::panic_hook)
    /// (default: no; [`worker::init`](crate::worker::init) always does): a
    /// panic is then an ERROR event in the sink, flushed before the
    /// previous panic hook runs.
    pub fn panic_hook(mut self, on: bool) -> Self {
        self.panic_hook = on;
        self
    }

    /// Starts the sender thread and returns the layer and the guard that
    /// flushes it. Connecting is lazy: the sink need not be up yet.
    ///
    /// ```no_run
    /// use tracing_mplog::{Backpressure, MpLayer};
    ///
    /// let (layer, guard) = MpLayer::builder()
    ///     .endpoint("unix:/run/app/log.sock".parse()?)
    ///     .process_name("worker-1")
    ///     .backpressure(Backpressure::DropNewest)
    ///     .build()?;
    /// # drop((layer, guard));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<(MpLayer, FlushGuard), BuildError> {
        let endpoint = self.endpoint.ok_or(BuildError::MissingEndpoint)?;
        if self.capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        if !(MIN_FRAME..=MAX_FRAME).contains(&self.max_frame_size) {
            return Err(BuildError::MaxFrameSize {
                value: self.max_frame_size,
                min: MIN_FRAME,
                max: MAX_FRAME,
            });
        }
        let process_name = match self.process_name {
            Some(name) => name,
            None => default_process_name().map_err(|source| BuildError::ProcessName { source })?,
        };
        let net = self.net.settle(&endpoint)?;
        let config = Config {
            net,
            endpoint,
            process_name,
            host: sys::hostname(),
            capacity: self.capacity,
            backpressure: self.backpressure,
            outage_grace: self.outage_grace,
            flush_timeout: self.flush_timeout,
            max_frame_size: self.max_frame_size,
        };
        let shared = Shared::new(config).map_err(|source| BuildError::Start { source })?;
        let guard = FlushGuard::new(vec![Arc::clone(&shared)]);
        if self.panic_hook {
            crate::panic_hook();
        }
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Ok((MpLayer { shared, id }, guard))
    }
}

/// Env `TRACING_MPLOG_PROCESS_NAME`, else the executable's file stem.
pub(crate) fn default_process_name() -> io::Result<String> {
    if let Some(name) = std::env::var_os(PROCESS_NAME_ENV) {
        return Ok(name.to_string_lossy().into_owned());
    }
    let exe = std::env::current_exe()?;
    exe.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::other(format!("{} has no file name", exe.display())))
}

/// A [`Layer`] that sends every event to a sink process.
///
/// `on_event` only captures and encodes (no text formatting); a background
/// thread writes the frames. Compose it like any layer:
///
/// ```no_run
/// use tracing_subscriber::{EnvFilter, fmt, prelude::*};
/// use tracing_mplog::MpLayer;
///
/// let (mp_layer, _guard) = MpLayer::builder()
///     .endpoint("unix:/run/app/log.sock".parse()?)
///     .build()?;
/// tracing_subscriber::registry()
///     .with(EnvFilter::new("info"))
///     .with(mp_layer)
///     .with(fmt::layer())
///     .init();
/// tracing::info!(user = 7, "saved");
/// // `_guard` flushes everything to the sink when `main` returns.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// After a `fork()`, the child's first event builds fresh state for the
/// child (channel, sender thread, connection, hello with the child's pid);
/// see [`fork`](crate::fork).
#[derive(Debug)]
pub struct MpLayer {
    shared: Arc<Shared>,
    /// Tells this layer's span scopes from another layer's in a thread's
    /// cache (see `capture::ScopeCache`).
    id: u64,
}

impl MpLayer {
    /// A builder; see [`Builder`] for the options and their defaults.
    ///
    /// ```
    /// let err = tracing_mplog::MpLayer::builder().build().expect_err("no endpoint");
    /// assert!(err.to_string().contains("no endpoint"));
    /// ```
    pub fn builder() -> Builder {
        Builder {
            endpoint: None,
            process_name: None,
            capacity: 1024,
            backpressure: Backpressure::BlockWithGrace,
            outage_grace: DEFAULT_OUTAGE_GRACE,
            flush_timeout: Duration::from_secs(5),
            max_frame_size: wire::DEFAULT_MAX_FRAME_SIZE,
            panic_hook: false,
            net: crate::transport::Options::default(),
        }
    }
}

impl<S> Layer<S> for MpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if ext.get_mut::<SpanFields>().is_none() {
                ext.insert(SpanFields::new(attrs));
            }
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<SpanFields>() {
                fields.record(values);
            }
            crate::capture::span_recorded();
        }
    }

    fn on_enter(&self, _id: &Id, _ctx: Context<'_, S>) {
        crate::capture::scope_moved();
    }

    fn on_exit(&self, _id: &Id, _ctx: Context<'_, S>) {
        crate::capture::scope_moved();
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(state) = self.shared.current() else {
            return;
        };
        let timestamp_ns = sys::realtime_ns();
        let thread_id = sys::thread_id();
        crate::local::with(|local| {
            let thread;
            let mut own = Vec::new();
            // The thread's own buffer, cleared: an event cut short by a
            // panic in a `Debug` impl may have left bytes in it.
            let (thread_name, caches, buf) = match local {
                Some(local) => {
                    let (name, caches, buf) = local.parts(self.id);
                    (name, Some(caches), buf)
                }
                None => {
                    thread = std::thread::current();
                    (thread.name(), None, &mut own)
                }
            };
            buf.clear();
            let origin = CallerThread {
                timestamp_ns,
                thread_id,
                thread_name,
            };
            encode_event(buf, event, &ctx, origin, caches);
            self.send(state, buf);
        });
    }
}

impl MpLayer {
    /// Hands an encoded event to this process's sender (cut to fit the
    /// frame limit first if needed).
    fn send(&self, state: &ProcState, buf: &mut Vec<u8>) {
        let max = self.shared.config.max_frame_size;
        if buf.len() - 4 > max {
            // Cut to fit and counted, not dropped: a huge event is usually
            // the one worth reading (a dump, a panic's backtrace).
            let counters = &state.counters;
            let fitted = crate::truncate::truncate_frame(buf, max);
            let counter = match fitted {
                Some(_) => &counters.truncated,
                None => &counters.dropped_oversized,
            };
            counter.fetch_add(1, Ordering::SeqCst);
            if fitted.is_none() {
                return;
            }
        }
        state.submit(buf);
    }
}
