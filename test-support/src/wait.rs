//! Waiting for what another thread or process does: the condition is
//! polled, with a pause that starts at 1 ms and doubles up to 20 ms, until
//! it holds or the timeout has passed.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// The first pause between two polls.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// The longest pause between two polls: short enough not to slow a test
/// down, long enough not to busy a loaded machine with reads of big files.
const LONGEST_PAUSE: Duration = Duration::from_millis(20);

/// What a condition of [`wait_until`] and [`poll`] returns.
///
/// - `bool`: whether it holds;
/// - `Option<T>`: `Some` once it holds, with what the wait returns;
/// - `Result<T, E>`: `Ok` once it holds; `Err` says what is still missing,
///   and the last one is part of the panic if it never holds (the last
///   scrape, the lines so far).
pub trait Ready {
    /// What the wait returns once the condition holds.
    type Output;

    /// `Ok` once the condition holds; else what to say about it, if
    /// anything.
    fn ready(self) -> Result<Self::Output, Option<String>>;
}

impl Ready for bool {
    type Output = ();

    fn ready(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

impl<T> Ready for Option<T> {
    type Output = T;

    fn ready(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Display> Ready for Result<T, E> {
    type Output = T;

    fn ready(self) -> Result<T, Option<String>> {
        self.map_err(|e| Some(e.to_string()))
    }
}

/// Polls `condition` until it holds, for at most `timeout` (it is asked
/// once more when the time is up): what it gave, or else what its last
/// answer said. The form of [`wait_until`] that does not panic, for a test
/// that does something else when the time is up.
pub fn poll<R: Ready>(
    timeout: Duration,
    mut condition: impl FnMut() -> R,
) -> Result<R::Output, Option<String>> {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        let last = match condition().ready() {
            Ok(output) => return Ok(output),
            Err(last) => last,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(last);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// Waits until `condition` holds (see [`Ready`] for what it may return),
/// for at most `timeout`; returns what it gave. Past the timeout it panics
/// naming `what` (say "3 lines in a.log"), the timeout, and what the
/// condition's last answer said, if anything.
pub fn wait_until<R: Ready>(
    timeout: Duration,
    what: &str,
    condition: impl FnMut() -> R,
) -> R::Output {
    poll(timeout, condition).unwrap_or_else(|last| timed_out(timeout, what, last.as_deref()))
}

/// The panic of a wait that ran out of time.
pub(crate) fn timed_out(timeout: Duration, what: &str, last: Option<&str>) -> ! {
    match last {
        Some(last) => panic!("timed out after {timeout:?} waiting for {what}: {last}"),
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_what_the_condition_gave_once_it_holds() {
        let mut polls = 0;
        let got = wait_until(Duration::from_secs(5), "the third poll", || {
            polls += 1;
            (polls == 3).then_some(polls)
        });
        assert_eq!(got, 3);
    }

    #[test]
    fn the_panic_names_what_it_waited_for_the_timeout_and_the_last_answer() {
        let panic = std::panic::catch_unwind(|| {
            wait_until(Duration::from_millis(30), "a miracle", || {
                Err::<(), _>("none yet")
            })
        })
        .expect_err("times out");
        let text = panic.downcast_ref::<String>().expect("a formatted panic");
        assert_eq!(text, "timed out after 30ms waiting for a miracle: none yet");
    }
}
