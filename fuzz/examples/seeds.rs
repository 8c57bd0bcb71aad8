//! Writes the seed corpus: real frames of every kind, as the worker sends them.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds` (from the
//! repository root; `scripts/fuzz.sh` runs it). Files are named `seed-*`
//! and committed; what libFuzzer adds to the corpus folders is not.
//!
//! - `fuzz/corpus/wire_frame/seed-<kind>`: one frame body (no length prefix).
//! - `fuzz/corpus/wire_stream/seed-<kind>`: a chunking seed byte, then a
//!   stream of length-prefixed frames (hello, the frame, goodbye).
//! - `fuzz/corpus/template_parse/seed-<n>`: a level byte, a template, `0xFF`,
//!   a `datefmt`: the documented examples and every placeholder in both
//!   syntaxes.

use std::fs;
use std::path::Path;

use tracing_core::Level;
use tracing_mplog::wire::{
    DropReason, Dropped, Goodbye, OwnedEvent, OwnedField, OwnedFrame, OwnedHello, OwnedSpan,
    OwnedValue,
};

/// The sample frames, shared with the wire tests (which check that each
/// decodes back to itself).
#[path = "../../tracing-mplog/src/wire/tests/fixtures.rs"]
mod fixtures;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let hello = OwnedFrame::Hello(fixtures::hello());
    let goodbye = OwnedFrame::Goodbye(Goodbye { last_seq: 2 });
    let frame_dir = root.join("wire_frame");
    let stream_dir = root.join("wire_stream");
    fs::create_dir_all(&frame_dir)?;
    fs::create_dir_all(&stream_dir)?;
    for (i, (name, frame)) in fixtures::sample_frames().iter().enumerate() {
        let one = fixtures::encode(frame);
        fs::write(frame_dir.join(format!("seed-{name}")), &one[4..])?;

        let mut stream = vec![u8::try_from(i * 37).unwrap_or(0)];
        for f in [&hello, frame, &goodbye] {
            f.encode(&mut stream);
        }
        fs::write(stream_dir.join(format!("seed-{name}")), &stream)?;
    }
    let template_dir = root.join("template_parse");
    fs::create_dir_all(&template_dir)?;
    for (i, (level, template, datefmt)) in TEMPLATES.iter().enumerate() {
        let mut bytes = vec![*level];
        bytes.extend_from_slice(template.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(datefmt.as_bytes());
        fs::write(template_dir.join(format!("seed-{i}")), bytes)?;
    }
    println!("seeds written under {}", root.display());
    Ok(())
}

/// (level byte: 0..=4 trace..error, 5 default; template; datefmt).
const TEMPLATES: [(u8, &str, &str); 6] = [
    (
        1,
        "[ %(asctime)s ][ %(levelname)s ][ %(message)s ][ %(module)s.%(funcName)s(%(lineno)d) ]",
        "%Y-%m-%d,%H:%M:%S.%f",
    ),
    (
        5,
        "%(asctime)s %(levelname)-5s %(processName)s[%(process)d] %(name)s: %(message)s",
        "%Y-%m-%d %H:%M:%S,%3f",
    ),
    (
        2,
        "%(created).3f %(msecs)03d %(levelno)d %(msg)r %(fields)s %(spans)s %(pathname)s \
         %(filename)s %(threadName)-10.4s %(thread)08d %(process)5d %% %(name)a",
        "%a %A %b %B %d %e %H %I %j %m %M %p %S %y %Y %z %Z %9f %%",
    ),
    (
        3,
        "{time} {level:<8} {message} {{{target}}} {module_path:>20.5} {file} {line:05} \
         {span:^12} {pid} {process_name} {thread_name:*^9} {thread_id} {host} {created:.2}",
        "%Y-%m-%dT%H:%M:%S%z",
    ),
    (
        4,
        "{levelno}|{msg}|{fields}|{spans}|{filename}|{msecs}",
        "%s.%6f",
    ),
    (0, "%(message)s", ""),
];
