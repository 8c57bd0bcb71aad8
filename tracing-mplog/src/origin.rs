//! Where an event comes from: the facts about the calling process and
//! thread that [`MpLayer`](crate::MpLayer) puts into every hello and event
//! frame, exposed so in-process formatters report them the same way, and
//! the metadata of a `log` record bridged into `tracing`.
//!
//! ```
//! let tid = tracing_mplog::origin::thread_id();
//! assert_eq!(tid, tracing_mplog::origin::thread_id()); // stable within a thread
//! assert!(!tracing_mplog::origin::hostname().is_empty());
//! ```

use std::io;

use tracing_core::{Event, Metadata};

/// The calling thread's id: the kernel thread id on Linux, a process-unique
/// counter on other platforms. Cached per thread, refreshed after `fork()`.
pub fn thread_id() -> u64 {
    crate::sys::thread_id()
}

/// The host name, or `"unknown"` if the system will not say.
pub fn hostname() -> String {
    crate::sys::hostname()
}

/// The default process name: the environment variable
/// [`PROCESS_NAME_ENV`](crate::PROCESS_NAME_ENV) if set, else the file stem of
/// the running executable.
///
/// # Errors
///
/// When the variable is unset and the executable's path cannot be read.
pub fn default_process_name() -> io::Result<String> {
    crate::layer::default_process_name()
}

/// For a record of the `log` crate bridged into `tracing` by tracing-log's
/// `LogTracer` (which [`worker::init`](crate::worker::init) installs), the
/// record's own metadata: its target, module path, file and line, where
/// `event.metadata()` only has the bridge's (`target: "log"`, no file).
/// `None` for any other event, and always without the cargo feature `log`.
///
/// [`MpLayer`](crate::MpLayer) records bridged events with this metadata;
/// in-process formatters use it to report them the same way.
///
/// ```
/// use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
///
/// struct Targets;
/// impl<S: tracing::Subscriber> Layer<S> for Targets {
///     fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
///         let target = tracing_mplog::origin::log_metadata(event)
///             .map_or(event.metadata().target(), |m| m.target());
///         println!("{target}");
///     }
/// }
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(Targets), || {
///     tracing::info!(target: "app", "not a log record: prints `app`");
/// });
/// ```
pub fn log_metadata<'a>(event: &'a Event<'a>) -> Option<Metadata<'a>> {
    #[cfg(feature = "log")]
    {
        use tracing_log::NormalizeEvent;
        // LogTracer's callsites all have target "log": one cheap comparison
        // keeps every other event off the bridge's lookup.
        if event.metadata().target() != "log" {
            return None;
        }
        event.normalized_metadata()
    }
    #[cfg(not(feature = "log"))]
    {
        let _ = event;
        None
    }
}

/// Whether `field` is one of the fields through which `LogTracer` carries a
/// `log` record's metadata (`log.target`, `log.module_path`, `log.file`,
/// `log.line`). Recorders leave them out of a bridged record's fields:
/// [`log_metadata`] already put them where they belong.
///
/// ```
/// # use tracing_mplog::origin::is_log_metadata_field;
/// let names = ["message", "log.target", "log.line", "user"];
/// let kept: Vec<_> = names.iter().filter(|n| !is_log_metadata_field(n)).collect();
/// assert_eq!(kept, [&"message", &"user"]);
/// ```
pub fn is_log_metadata_field(name: &str) -> bool {
    matches!(
        name,
        "log.target" | "log.module_path" | "log.file" | "log.line"
    )
}
