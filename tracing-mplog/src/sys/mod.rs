//! Platform-specific pieces: fork detection, the exit flush's hook, thread
//! ids, the host name and socket connections. Unix only for now; another platform adds a sibling
//! module with the same functions.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{
    Conn, fork_generation, hostname, install_exit_hook, install_fork_hook, realtime_ns, thread_id,
    wait_readable,
};

#[cfg(not(unix))]
compile_error!("tracing-mplog supports Unix platforms only (Windows/TCP transports are planned)");
