//! Waiting for SIGTERM or SIGINT (`signal-hook`).
//!
//! Registering replaces the default action (terminate at once) with a flag
//! the main thread waits on, so the sink can drain before it exits. After the
//! first signal, [`Signals::exit_on_next`] makes a second one end the
//! process at once, for an operator who does not want to wait for the drain.

use std::io;

use signal_hook::consts::{SIGINT, SIGTERM};

/// The name of a signal this module waits for.
pub(crate) fn name(signal: i32) -> &'static str {
    match signal {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        _ => "signal",
    }
}

/// SIGTERM and SIGINT, caught from [`Signals::register`] on.
#[derive(Debug)]
pub(crate) struct Signals {
    inner: imp::Signals,
}

impl Signals {
    /// Catches SIGTERM and SIGINT from now on.
    pub(crate) fn register() -> io::Result<Self> {
        Ok(Self {
            inner: imp::Signals::register()?,
        })
    }

    /// Blocks until SIGTERM or SIGINT arrives (or has arrived since
    /// [`register`](Self::register)); returns its number.
    pub(crate) fn wait(&mut self) -> i32 {
        self.inner.wait()
    }

    /// From now on, the next SIGTERM or SIGINT ends the process with
    /// `status` (after saying so on stderr), without waiting for the drain.
    pub(crate) fn exit_on_next(self, status: i32) -> io::Result<()> {
        let mut inner = self.inner;
        std::thread::Builder::new()
            .name("mplog-sink-signals".into())
            .spawn(move || {
                let signal = inner.wait();
                eprintln!(
                    "mplog-sink: second signal ({}): exiting without waiting for the drain",
                    name(signal)
                );
                std::process::exit(status);
            })
            .map(drop)
    }
}

#[cfg(unix)]
mod imp {
    use std::io;

    use signal_hook::consts::{SIGINT, SIGTERM};

    #[derive(Debug)]
    pub(super) struct Signals(signal_hook::iterator::Signals);

    impl Signals {
        pub(super) fn register() -> io::Result<Self> {
            signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).map(Self)
        }

        pub(super) fn wait(&mut self) -> i32 {
            loop {
                // `forever` only ends when the iterator is closed, which
                // nothing here does; loop rather than trust that.
                if let Some(signal) = self.0.forever().next() {
                    return signal;
                }
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use signal_hook::consts::{SIGINT, SIGTERM};

    /// Without the self-pipe of the Unix iterator: a flag polled every
    /// 50 ms.
    #[derive(Debug)]
    pub(super) struct Signals(Arc<AtomicUsize>);

    impl Signals {
        pub(super) fn register() -> io::Result<Self> {
            let caught = Arc::new(AtomicUsize::new(0));
            for signal in [SIGTERM, SIGINT] {
                signal_hook::flag::register_usize(signal, Arc::clone(&caught), signal as usize)?;
            }
            Ok(Self(caught))
        }

        pub(super) fn wait(&mut self) -> i32 {
            loop {
                let signal = self.0.swap(0, Ordering::SeqCst);
                if signal != 0 {
                    return signal as i32;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
