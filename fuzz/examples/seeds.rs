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
    OwnedValue, VERSION,
};

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let hello = OwnedFrame::Hello(OwnedHello {
        version: VERSION,
        capabilities: 0,
        pid: 4242,
        start_time_ns: 1_700_000_000_123_456_789,
        process_name: "worker".into(),
        host: "box".into(),
        token: String::new(),
    });
    let goodbye = OwnedFrame::Goodbye(Goodbye { last_seq: 2 });
    let seeds = [
        ("hello", hello.clone()),
        ("event-minimal", OwnedFrame::Event(minimal_event())),
        ("event-full", OwnedFrame::Event(full_event())),
        (
            "dropped",
            OwnedFrame::Dropped(Dropped {
                reason: DropReason::ChannelFull,
                count: 3,
            }),
        ),
        ("goodbye", goodbye.clone()),
    ];
    let frame_dir = root.join("wire_frame");
    let stream_dir = root.join("wire_stream");
    fs::create_dir_all(&frame_dir)?;
    fs::create_dir_all(&stream_dir)?;
    for (i, (name, frame)) in seeds.iter().enumerate() {
        let mut one = Vec::new();
        frame.encode(&mut one);
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

fn minimal_event() -> OwnedEvent {
    OwnedEvent {
        seq: 1,
        timestamp_ns: 0,
        level: Level::INFO,
        target: "t".into(),
        module_path: None,
        file: None,
        line: None,
        thread_id: 1,
        thread_name: None,
        message: None,
        fields: vec![],
        spans: vec![],
    }
}

/// Every optional part present and one field of every value type.
fn full_event() -> OwnedEvent {
    let values = [
        ("i", OwnedValue::I64(-7)),
        ("u", OwnedValue::U64(7)),
        ("wide", OwnedValue::I128(-1 << 100)),
        ("uwide", OwnedValue::U128(1 << 100)),
        ("f", OwnedValue::F64(1.5)),
        ("ok", OwnedValue::Bool(true)),
        ("s", OwnedValue::Str("text".into())),
        ("d", OwnedValue::Debug("Some(3)".into())),
    ];
    OwnedEvent {
        seq: 2,
        timestamp_ns: 1_700_000_000_000_000_001,
        level: Level::WARN,
        target: "app::db".into(),
        module_path: Some("app::db".into()),
        file: Some("src/db.rs".into()),
        line: Some(17),
        thread_id: 99,
        thread_name: Some("main".into()),
        message: Some("saved".into()),
        fields: values
            .into_iter()
            .map(|(name, value)| OwnedField {
                name: name.into(),
                value,
            })
            .collect(),
        spans: vec![
            OwnedSpan {
                name: "request".into(),
                fields: vec![OwnedField {
                    name: "id".into(),
                    value: OwnedValue::U64(3),
                }],
            },
            OwnedSpan {
                name: "query".into(),
                fields: vec![],
            },
        ],
    }
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
