//! Where an event comes from: the facts about the calling process and
//! thread that [`MpLayer`](crate::MpLayer) puts into every hello and event
//! frame, exposed so in-process formatters report them the same way.
//!
//! ```
//! let tid = tracing_mplog::origin::thread_id();
//! assert_eq!(tid, tracing_mplog::origin::thread_id()); // stable within a thread
//! assert!(!tracing_mplog::origin::hostname().is_empty());
//! ```

use std::io;

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
