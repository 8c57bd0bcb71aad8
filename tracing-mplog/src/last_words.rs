//! Last words: what a process logs just before it ends reaches the sink.
//!
//! - [`panic_hook`] records a panic as an ERROR event and flushes it before
//!   the hook it replaced runs ([`worker::init`](crate::worker::init)
//!   installs it; composers call it or set
//!   [`Builder::panic_hook`](crate::Builder::panic_hook)).
//! - [`flush_at_exit`] runs at `exit()` (registered once, with the first
//!   layer, in `sys`): a process that ends through `std::process::exit`, or
//!   returns from `main` without dropping its guard, flushes what it logged.
//!
//! Both take no lock but this process's own channels, found through the
//! lock-free list of layers (`fork::live_layers`): safe in a `fork()`ed
//! child, whose state is its own. Both wait at most each layer's flush
//! timeout, and neither may panic: the program they serve is ending, and
//! must end as it would have without them.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::Cell;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tracing_core::Level;

use crate::wire::{OwnedEvent, OwnedField, OwnedFrame, OwnedValue};

/// The target of the panic's event.
pub(crate) const PANIC_TARGET: &str = "panic";

/// Installs a panic hook that records every panic as an ERROR event in the
/// sink and flushes it, then runs the hook it replaced (by default std's,
/// which prints the panic on stderr). Installed once per process; later
/// calls do nothing. [`worker::init`](crate::worker::init) calls it; a
/// composed subscriber calls it after building its layer, or sets
/// [`Builder::panic_hook`](crate::Builder::panic_hook).
///
/// The event's message starts as std's own does — `thread 'NAME' panicked
/// at FILE:LINE:COL:` and, on the next line, the panic's message — so a
/// sink alert on `panicked at` fires (`docs/monitoring.md`). Its fields:
/// `location` (`FILE:LINE:COL`), `thread` and, when `RUST_BACKTRACE` asks
/// for one, `backtrace`. Its target is `panic`; it goes straight to every
/// layer of this process, whatever the filter, and no other layer of the
/// subscriber sees it (the previous hook prints the panic anyway).
///
/// The hook waits at most each layer's flush timeout, takes no lock a
/// `fork()`ed child could have inherited locked, and never panics; a panic
/// while this thread records one runs only the previous hook.
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// let (layer, _guard) = tracing_mplog::MpLayer::builder()
///     .endpoint("unix:/run/app/log.sock".parse()?)
///     .build()?;
/// tracing_subscriber::registry().with(layer).init();
/// tracing_mplog::panic_hook();
/// let _ = std::thread::spawn(|| panic!("lost no more")).join(); // in the sink at ERROR
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    // `take_hook` and `set_hook` panic on a panicking thread.
    if std::thread::panicking() || INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        record_panic(info);
        previous(info);
    }));
}

thread_local! {
    /// This thread is recording a panic now.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

/// Clears [`RECORDING`] when the recording ends.
struct Recording;

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = RECORDING.try_with(|r| r.set(false));
    }
}

/// Records `info` in every layer of this process and flushes.
fn record_panic(info: &PanicHookInfo<'_>) {
    // A panic while this thread records one must not record (and so
    // recurse): it only runs the previous hook. A thread whose locals are
    // gone records nothing. Every later panic of the thread is recorded.
    if !RECORDING.try_with(|r| !r.replace(true)).unwrap_or(false) {
        return;
    }
    let _recording = Recording;
    let layers = crate::fork::live_layers();
    if layers.is_empty() {
        return;
    }
    let thread = std::thread::current();
    let frame = panic_frame(
        info.payload(),
        info.location(),
        thread.name(),
        &Backtrace::capture(),
    );
    for shared in &layers {
        let Some(state) = shared.current() else {
            continue;
        };
        let deadline = Instant::now() + shared.config.flush_timeout;
        let mut frame = frame.clone();
        let max = shared.config.max_frame_size;
        if frame.len() - 4 > max && crate::truncate::truncate_frame(&mut frame, max).is_none() {
            continue;
        }
        // A sender thread that panicked cannot flush its own channel:
        // waiting for it would only cost the flush timeout.
        if state.submit_by(&frame, deadline) && thread.name() != Some(crate::state::SENDER_THREAD) {
            // What it could not flush, the guard's drop (if the unwind
            // reaches it) or the exit flush tries again.
            let _ = crate::guard::flush(shared);
        }
    }
}

/// The panic's event frame (seq not yet set).
fn panic_frame(
    payload: &(dyn std::any::Any + Send),
    location: Option<&std::panic::Location<'_>>,
    thread: Option<&str>,
    backtrace: &Backtrace,
) -> Vec<u8> {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let name = thread.unwrap_or("<unnamed>");
    let at = location.map_or_else(
        || "<unknown>".to_owned(),
        |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
    );
    let text = |name: &str, value: String| OwnedField {
        name: name.to_owned(),
        value: OwnedValue::Str(value),
    };
    let mut fields = vec![
        text("location", at.clone()),
        text("thread", name.to_owned()),
    ];
    if backtrace.status() == BacktraceStatus::Captured {
        fields.push(text("backtrace", backtrace.to_string()));
    }
    let event = OwnedEvent {
        seq: 0,
        timestamp_ns: crate::state::now_ns(),
        level: Level::ERROR,
        target: PANIC_TARGET.to_owned(),
        module_path: None,
        file: location.map(|l| l.file().to_owned()),
        line: location.map(|l| l.line()),
        thread_id: crate::sys::thread_id(),
        thread_name: thread.map(str::to_owned),
        message: Some(format!("thread '{name}' panicked at {at}:\n{message}")),
        fields,
        spans: Vec::new(),
    };
    let mut out = Vec::new();
    OwnedFrame::Event(event).encode(&mut out);
    out
}

/// The `atexit` handler: shuts down (flush, goodbye, close) this process's
/// state of every layer whose guard was not dropped, each within its flush
/// timeout; a no-op for a state whose guard was dropped, and for a `fork()`ed
/// child that never logged (it has no state of its own). It must not unwind
/// into C.
pub(crate) extern "C" fn flush_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        for shared in crate::fork::live_layers() {
            if let Some(state) = shared.existing() {
                crate::guard::shut_down(&shared, state);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Frame;

    fn decoded(frame: &[u8]) -> OwnedEvent {
        match Frame::decode(&frame[4..]).expect("decodes") {
            Frame::Event(e) => OwnedEvent::from(e),
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn the_panic_reads_as_std_prints_it() {
        let payload: Box<dyn std::any::Any + Send> = Box::new(String::from("boom 7"));
        let here = std::panic::Location::caller();
        let frame = panic_frame(
            payload.as_ref(),
            Some(here),
            Some("job-3"),
            &Backtrace::disabled(),
        );
        let e = decoded(&frame);
        let at = format!("{}:{}:{}", here.file(), here.line(), here.column());
        assert_eq!(e.level, Level::ERROR);
        assert_eq!(
            e.message.as_deref(),
            Some(format!("thread 'job-3' panicked at {at}:\nboom 7").as_str())
        );
        assert_eq!(e.fields[0].value, OwnedValue::Str(at));
        assert_eq!(e.fields[1].value, OwnedValue::Str("job-3".into()));
        assert_eq!(e.fields.len(), 2, "no backtrace unless asked for");
        let payload: Box<dyn std::any::Any + Send> = Box::new(42u8);
        let e = decoded(&panic_frame(
            payload.as_ref(),
            None,
            None,
            &Backtrace::disabled(),
        ));
        assert_eq!(
            e.message.as_deref(),
            Some("thread '<unnamed>' panicked at <unknown>:\nBox<dyn Any>")
        );
    }

    /// The only test of this binary that installs the hook (it is global).
    #[test]
    fn the_hook_chains_the_one_it_replaces_and_does_not_recurse() {
        use std::sync::atomic::AtomicUsize;
        static PREVIOUS: AtomicUsize = AtomicUsize::new(0);
        std::panic::set_hook(Box::new(|info| {
            if info.payload().downcast_ref::<&str>() == Some(&"chained") {
                PREVIOUS.fetch_add(1, Ordering::SeqCst);
            }
        }));
        panic_hook();
        panic_hook(); // installed once: the previous hook runs once per panic
        let recording = || RECORDING.with(Cell::get);
        assert!(std::panic::catch_unwind(|| panic!("chained")).is_err());
        assert_eq!(PREVIOUS.load(Ordering::SeqCst), 1);
        assert!(!recording(), "done recording");
        // A panic while this thread records one (as if something below the
        // hook panicked) is not recorded, and still reaches the previous
        // hook; the outer recording is left to end itself.
        RECORDING.with(|r| r.set(true));
        assert!(std::panic::catch_unwind(|| panic!("chained")).is_err());
        assert_eq!(PREVIOUS.load(Ordering::SeqCst), 2);
        assert!(
            recording(),
            "the inner panic left the outer recording alone"
        );
        RECORDING.with(|r| r.set(false));
        let _ = std::panic::take_hook();
    }

    #[test]
    fn a_captured_backtrace_is_a_field() {
        let payload: Box<dyn std::any::Any + Send> = Box::new("b");
        let e = decoded(&panic_frame(
            payload.as_ref(),
            None,
            Some("main"),
            &Backtrace::force_capture(),
        ));
        assert!(
            e.fields.iter().any(|f| f.name == "backtrace"),
            "{:?}",
            e.fields
        );
    }
}
