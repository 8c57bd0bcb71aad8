//! Sample frames of every kind, as a worker sends them, and two helpers on
//! frames: one module shared by the wire tests and the fuzz crate, which
//! includes this file by path (`fuzz/examples/seeds.rs` writes the seed
//! corpus from [`sample_frames`]; `fuzz/fuzz_targets/wire_frame.rs` uses
//! [`encode`] and [`has_nan`]).
//!
//! It names nothing by crate path: the module that includes it brings the
//! wire types and `Level` into scope (`crate::wire` inside the crate,
//! `tracing_mplog::wire` in the fuzz crate).
#![allow(dead_code)]

use super::{
    DropReason, Dropped, Goodbye, Level, OwnedEvent, OwnedField, OwnedFrame, OwnedHello, OwnedSpan,
    OwnedValue,
};

/// A frame encoded with its length prefix.
pub(crate) fn encode(frame: &OwnedFrame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(&mut out);
    out
}

/// Whether an event frame has a NaN field (which is not equal to itself,
/// so such a frame is compared by its bytes, not by value).
pub(crate) fn has_nan(frame: &OwnedFrame) -> bool {
    let OwnedFrame::Event(e) = frame else {
        return false;
    };
    e.fields
        .iter()
        .chain(e.spans.iter().flat_map(|s| &s.fields))
        .any(|f| matches!(f.value, OwnedValue::F64(v) if v.is_nan()))
}

/// The version-1 hello of process `worker` (pid 4242) on host `box` (the
/// host is its last field; version 2 adds the token after it).
pub(crate) fn hello() -> OwnedHello {
    OwnedHello {
        version: 1,
        capabilities: 0,
        pid: 4242,
        start_time_ns: 1_700_000_000_123_456_789,
        process_name: "worker".into(),
        host: "box".into(),
        token: String::new(),
    }
}

/// An event with every optional part absent: no message, fields or spans.
pub(crate) fn minimal_event() -> OwnedEvent {
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

/// The field names of [`full_event`], in order.
pub(crate) const FULL_EVENT_FIELDS: [&str; 8] = ["i", "u", "wide", "uwide", "f", "ok", "s", "d"];

/// Every optional part present, one field of every value type (named as in
/// [`FULL_EVENT_FIELDS`]) and two spans, `request{id=3}` then `query`.
pub(crate) fn full_event() -> OwnedEvent {
    let values = [
        OwnedValue::I64(-7),
        OwnedValue::U64(7),
        OwnedValue::I128(-1 << 100),
        OwnedValue::U128(1 << 100),
        OwnedValue::F64(1.5),
        OwnedValue::Bool(true),
        OwnedValue::Str("text".into()),
        OwnedValue::Debug("Some(3)".into()),
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
        fields: FULL_EVENT_FIELDS
            .into_iter()
            .zip(values)
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

/// One frame of every kind, each with the name its seed files carry
/// (`seed-<name>`): hello, a minimal and a full event, a drop count, a
/// goodbye.
pub(crate) fn sample_frames() -> [(&'static str, OwnedFrame); 5] {
    [
        ("hello", OwnedFrame::Hello(hello())),
        ("event-minimal", OwnedFrame::Event(minimal_event())),
        ("event-full", OwnedFrame::Event(full_event())),
        (
            "dropped",
            OwnedFrame::Dropped(Dropped {
                reason: DropReason::ChannelFull,
                count: 3,
            }),
        ),
        ("goodbye", OwnedFrame::Goodbye(Goodbye { last_seq: 2 })),
    ]
}
