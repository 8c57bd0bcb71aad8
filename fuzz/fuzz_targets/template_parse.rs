//! An arbitrary template and `datefmt` into `LevelFormatter::builder()`.
//!
//! Input: one byte choosing the level the template is for, then the
//! template, a `0xFF` byte (never part of UTF-8), then the `datefmt`; both
//! texts are read as lossy UTF-8.
//!
//! Building must never panic: either it returns a formatter or a
//! `FormatError`. When it builds, formatting a fixed record at every level
//! must not panic either, and gives exactly one line (ending in `'\n'`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use time::macros::datetime;
use tracing_core::Level;
use tracing_mplog_sink::clock::ManualClock;
use tracing_mplog_sink::format::{FormatLevel, LevelFormatter};

/// The fixed record (every part set, a message, fields and two spans),
/// shared with the format tests.
#[path = "../../tracing-mplog-sink/tests/support/record.rs"]
mod record;

use record::{Rec, rec};

const LEVELS: [FormatLevel; 6] = [
    FormatLevel::Trace,
    FormatLevel::Debug,
    FormatLevel::Info,
    FormatLevel::Warn,
    FormatLevel::Error,
    FormatLevel::Default,
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (template, datefmt) = match rest.iter().position(|&b| b == 0xff) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let template = String::from_utf8_lossy(template);
    let datefmt = String::from_utf8_lossy(datefmt);
    let level = LEVELS[usize::from(which) % LEVELS.len()];
    let Ok(formatter) = LevelFormatter::builder()
        .format(level, template.as_ref())
        .datefmt(datefmt.as_ref())
        .utc(true)
        .clock(ManualClock::new(datetime!(2024-01-01 12:00 UTC)))
        .process_name("worker")
        .build()
    else {
        return;
    };
    for level in [
        Level::TRACE,
        Level::DEBUG,
        Level::INFO,
        Level::WARN,
        Level::ERROR,
    ] {
        let mut line = String::new();
        formatter
            .format_record(
                &Rec {
                    level,
                    message: "saved ünïcode",
                    ..rec()
                },
                &mut line,
            )
            .expect("a record whose writes cannot fail formats");
        assert!(line.ends_with('\n'), "no line end: {line:?}");
    }
});
