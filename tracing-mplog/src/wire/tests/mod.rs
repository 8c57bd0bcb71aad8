//! Round trips, error variants and robustness of the decoder.

use tracing_core::Level;

use super::value::Tag;
use super::*;

mod fixtures;
mod props;

use fixtures::{FULL_EVENT_FIELDS, encode, full_event, hello, sample_frames};

/// The body of an encoded frame (without the length prefix).
fn body(frame: &OwnedFrame) -> Vec<u8> {
    encode(frame)[4..].to_vec()
}

mod replies;

/// The fuzz crate's seeds are these frames: each must be a valid frame
/// whose prefix says its length and whose body decodes to it again.
#[test]
fn sample_frames_round_trip() {
    for (name, frame) in sample_frames() {
        let bytes = encode(&frame);
        let declared = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        assert_eq!(declared as usize, bytes.len() - 4, "{name}: length prefix");
        let back = Frame::decode(&bytes[4..])
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .into_owned();
        assert_eq!(back, frame, "{name}");
    }
}

#[test]
fn message_and_fields_are_separate() {
    let bytes = encode(&OwnedFrame::Event(full_event()));
    let mut reader = FrameReader::new(&bytes[..]);
    let Some(Frame::Event(e)) = reader.read_frame().expect("valid") else {
        panic!("expected an event");
    };
    assert_eq!(e.message(), "saved");
    let names: Vec<_> = e.fields().map(|f| f.name).collect();
    assert_eq!(names, FULL_EVENT_FIELDS);
    let span = e.spans().next().expect("two spans");
    assert_eq!(span.name(), "request");
    assert_eq!(span.fields().next().map(|f| f.value), Some(Value::U64(3)));
}

#[test]
fn value_display_matches_fmt_style() {
    assert_eq!(Value::Str("a \"b\"").to_string(), r#""a \"b\"""#);
    assert_eq!(Value::Debug("Some(3)").to_string(), "Some(3)");
    assert_eq!(Value::F64(1.0).to_string(), "1.0");
    assert_eq!(Value::I128(-5).to_string(), "-5");
}

#[test]
fn bad_magic() {
    let mut b = body(&OwnedFrame::Hello(hello()));
    b[1] = b'X';
    let err = Frame::decode(&b).expect_err("bad magic");
    assert!(
        matches!(err, WireError::BadMagic { found } if found == *b"XPLG"),
        "{err}"
    );
}

#[test]
fn unsupported_version() {
    for found in [0, 3] {
        let mut h = hello();
        h.version = found;
        let err = Frame::decode(&body(&OwnedFrame::Hello(h))).expect_err("v0, v3");
        assert!(
            matches!(err, WireError::UnsupportedVersion { found: f, supported: 2 } if f == found),
            "{err}"
        );
    }
}

#[test]
fn truncated_field_names_field_and_offset() {
    let b = body(&OwnedFrame::Hello(hello()));
    // Cut inside the host string (the last field).
    let err = Frame::decode(&b[..b.len() - 1]).expect_err("truncated");
    let expected_offset = b.len() - "box".len();
    assert!(
        matches!(err, WireError::Truncated { what: "hello.host", offset, needed: 3, available: 2 } if offset == expected_offset),
        "{err}"
    );
}

#[test]
fn invalid_utf8() {
    let b0 = body(&OwnedFrame::Hello(hello()));
    let mut b = b0.clone();
    let at = b.len() - 1; // last byte of the host
    b[at] = 0xff;
    let err = Frame::decode(&b).expect_err("utf8");
    assert!(
        matches!(err, WireError::InvalidUtf8 { what: "hello.host", offset } if offset == b0.len() - 3),
        "{err}"
    );
}

#[test]
fn unknown_frame_type() {
    let err = Frame::decode(&[0x7f]).expect_err("type");
    assert!(
        matches!(err, WireError::UnknownFrameType { found: 0x7f }),
        "{err}"
    );
}

#[test]
fn empty_frame() {
    assert!(matches!(Frame::decode(&[]), Err(WireError::EmptyFrame)));
    let mut reader = FrameReader::new(&[0u8, 0, 0, 0][..]);
    assert!(matches!(reader.read_frame(), Err(WireError::EmptyFrame)));
}

// Event body offsets: type 0, seq 1..9, timestamp 9..17, level 17, flags 18.
const LEVEL_AT: usize = 17;
const FLAGS_AT: usize = 18;

#[test]
fn unknown_level() {
    let mut b = body(&OwnedFrame::Event(full_event()));
    b[LEVEL_AT] = 9;
    let err = Frame::decode(&b).expect_err("level");
    assert!(
        matches!(
            err,
            WireError::UnknownLevel {
                found: 9,
                offset: LEVEL_AT
            }
        ),
        "{err}"
    );
}

#[test]
fn unknown_flags() {
    let mut b = body(&OwnedFrame::Event(full_event()));
    b[FLAGS_AT] |= 0x80;
    let err = Frame::decode(&b).expect_err("flags");
    assert!(
        matches!(
            err,
            WireError::UnknownFlags {
                offset: FLAGS_AT,
                ..
            }
        ),
        "{err}"
    );
}

/// An event with exactly one field and no message or spans, and the offset
/// of that field's tag.
fn one_field_event(value: OwnedValue) -> (Vec<u8>, usize) {
    let mut e = full_event();
    e.message = None;
    e.spans.clear();
    e.fields = vec![OwnedField {
        name: "f".into(),
        value,
    }];
    let b = body(&OwnedFrame::Event(e));
    let tag_at = b
        .windows(6)
        .rposition(|w| w == [1, 0, 0, 0, b'f', Tag::Bool as u8])
        .map_or(0, |i| i + 5);
    (b, tag_at)
}

#[test]
fn unknown_value_tag() {
    let (mut b, tag_at) = one_field_event(OwnedValue::Bool(true));
    b[tag_at] = 0x42;
    let err = Frame::decode(&b).expect_err("tag");
    assert!(
        matches!(err, WireError::UnknownValueTag { found: 0x42, offset } if offset == tag_at),
        "{err}"
    );
}

/// A field's errors come from the slow path the fast one falls back to:
/// a name that is not UTF-8, and a value cut short, each named and placed.
#[test]
fn a_bad_field_name_and_a_truncated_value_are_named() {
    let (mut b, tag_at) = one_field_event(OwnedValue::Bool(true));
    b[tag_at - 1] = 0xff; // the name `f`
    let err = Frame::decode(&b).expect_err("utf-8");
    assert!(
        matches!(err, WireError::InvalidUtf8 { what: "field.name", offset } if offset == tag_at - 1),
        "{err}"
    );
    let (b, _) = one_field_event(OwnedValue::U64(7));
    let tag_at = b
        .windows(6)
        .rposition(|w| w == [1, 0, 0, 0, b'f', Tag::U64 as u8])
        .map(|i| i + 5)
        .expect("the field");
    // The event's fields blob ends with the field: cut the body there,
    // and the blob's length with it, so the value alone is short.
    let mut cut = b[..tag_at + 5].to_vec();
    let blob_len_at = tag_at - 5 - 4;
    let len = u32::from_le_bytes(cut[blob_len_at..blob_len_at + 4].try_into().expect("4"));
    cut[blob_len_at..blob_len_at + 4].copy_from_slice(&(len - 4).to_le_bytes());
    let err = Frame::decode(&cut).expect_err("short");
    assert!(
        matches!(
            err,
            WireError::Truncated { what: "field.value", offset, needed: 8, available: 4 }
                if offset == tag_at + 1
        ),
        "{err}"
    );
}

#[test]
fn invalid_bool() {
    let (mut b, tag_at) = one_field_event(OwnedValue::Bool(true));
    b[tag_at + 1] = 2;
    let err = Frame::decode(&b).expect_err("bool");
    assert!(
        matches!(err, WireError::InvalidBool { found: 2, offset } if offset == tag_at + 1),
        "{err}"
    );
}

#[test]
fn unknown_drop_reason() {
    let mut b = body(&OwnedFrame::Dropped(Dropped {
        reason: DropReason::Oversized,
        count: 1,
    }));
    b[1] = 0;
    let err = Frame::decode(&b).expect_err("reason");
    assert!(
        matches!(
            err,
            WireError::UnknownDropReason {
                found: 0,
                offset: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn trailing_bytes() {
    let mut b = body(&OwnedFrame::Goodbye(Goodbye { last_seq: 1 }));
    b.push(0);
    let err = Frame::decode(&b).expect_err("trailing");
    assert!(
        matches!(
            err,
            WireError::TrailingBytes {
                what: "frame",
                offset: 9,
                extra: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn stream_ends_inside_a_frame() {
    let bytes = encode(&OwnedFrame::Goodbye(Goodbye { last_seq: 1 }));
    let mut reader = FrameReader::new(&bytes[..2]);
    assert!(matches!(
        reader.read_frame(),
        Err(WireError::UnexpectedEof {
            part: "length prefix",
            got: 2,
            expected: 4
        })
    ));
    let mut reader = FrameReader::new(&bytes[..6]);
    assert!(matches!(
        reader.read_frame(),
        Err(WireError::UnexpectedEof {
            part: "body",
            got: 2,
            expected: 9
        })
    ));
}

#[test]
fn oversized_length_is_rejected_before_allocating() {
    // Declares u32::MAX bytes and sends a few: rejected at the prefix.
    let bytes = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
    let mut reader = FrameReader::new(&bytes[..]);
    let err = reader.read_frame().expect_err("oversized");
    assert!(
        matches!(
            err,
            WireError::Oversized {
                len: 0xffff_ffff,
                limit: DEFAULT_MAX_FRAME_SIZE
            }
        ),
        "{err}"
    );
    assert_eq!(reader.buffer_capacity(), 0);

    // Under the limit but more than arrives: the buffer grows with the data,
    // not with the declaration.
    let mut bytes = (900_000u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&[2; 10]);
    let mut reader = FrameReader::new(&bytes[..]);
    assert!(matches!(
        reader.read_frame(),
        Err(WireError::UnexpectedEof { .. })
    ));
    assert!(
        reader.buffer_capacity() <= 64 * 1024,
        "{}",
        reader.buffer_capacity()
    );
}

/// A length prefix and a body of `len` bytes (a goodbye type byte, then
/// zeros: framed correctly, though too long to decode).
fn raw_frame(len: u32) -> Vec<u8> {
    let mut b = len.to_le_bytes().to_vec();
    b.push(0x04);
    b.resize(4 + len as usize, 0);
    b
}

/// Found by the `wire_stream` fuzz target: `Vec::resize` grows capacity
/// geometrically, so a 250-byte body after a 200-byte one took 400 bytes
/// under a 300-byte limit, and a 100 KiB body grown in 64 KiB steps took
/// 128 KiB. The buffer holds no more than the largest body it has read.
#[test]
fn buffer_never_grows_past_the_largest_body() {
    let mut stream = raw_frame(200);
    stream.extend(raw_frame(250));
    let mut reader = FrameReader::with_max_frame_size(&stream[..], 300);
    for expected in [200, 250] {
        let body = reader.read_raw().expect("framed").expect("a body");
        assert_eq!(body.len(), expected);
        assert_eq!(reader.buffer_capacity(), expected);
    }

    let stream = raw_frame(100 * 1024);
    let mut reader = FrameReader::new(&stream[..]);
    reader.read_raw().expect("framed").expect("a body");
    assert_eq!(reader.buffer_capacity(), 100 * 1024);
}

#[test]
fn limit_applies_to_the_body_exactly() {
    let bytes = encode(&OwnedFrame::Goodbye(Goodbye { last_seq: 1 }));
    assert!(
        FrameReader::with_max_frame_size(&bytes[..], 9)
            .read_frame()
            .is_ok()
    );
    assert!(matches!(
        FrameReader::with_max_frame_size(&bytes[..], 8).read_frame(),
        Err(WireError::Oversized { len: 9, limit: 8 })
    ));
}

/// A reader handing out `bytes` in chunks of the given sizes (cycling),
/// with `WouldBlock` before each chunk.
struct Chunked<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
    block: bool,
}

impl<'a> Chunked<'a> {
    fn new(bytes: &'a [u8], sizes: Vec<usize>) -> Self {
        Self {
            bytes,
            sizes,
            next: 0,
            block: false,
        }
    }
}

impl std::io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.block = !self.block;
        if self.block {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let size = self.sizes[self.next % self.sizes.len()];
        self.next += 1;
        let n = size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

#[test]
fn reader_resumes_after_would_block() {
    let frames = sample_frames().map(|(_, frame)| frame);
    let mut stream = Vec::new();
    for f in &frames {
        f.encode(&mut stream);
    }
    // One byte at a time, `WouldBlock` before each.
    let mut reader = FrameReader::new(Chunked::new(&stream, vec![1]));
    let mut back = Vec::new();
    let mut blocks = 0;
    loop {
        match reader.read_frame() {
            Ok(Some(f)) => back.push(f.into_owned()),
            Ok(None) => break,
            Err(WireError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => blocks += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(back, frames);
    assert!(blocks > stream.len() / 2);
}

#[test]
fn spec_example_bytes() {
    // The annotated example in docs/wire.md; keep the two in step.
    let e = OwnedEvent {
        seq: 1,
        timestamp_ns: 1_700_000_000_000_000_000,
        level: Level::INFO,
        target: "app".into(),
        module_path: None,
        file: None,
        line: Some(7),
        thread_id: 42,
        thread_name: None,
        message: Some("hi".into()),
        fields: vec![OwnedField {
            name: "n".into(),
            value: OwnedValue::I64(5),
        }],
        spans: vec![OwnedSpan {
            name: "req".into(),
            fields: vec![OwnedField {
                name: "id".into(),
                value: OwnedValue::Bool(true),
            }],
        }],
    };
    let hex: String = encode(&OwnedFrame::Event(e))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        concat!(
            "61000000",
            "02",
            "0100000000000000",
            "00002a36fe9c9717",
            "02",
            "04",
            "2a00000000000000",
            "07000000",
            "03000000617070",
            "01000000",
            "03000000726571",
            "08000000",
            "020000006964",
            "06",
            "01",
            "20000000",
            "070000006d657373616765",
            "08",
            "020000006869",
            "010000006e",
            "01",
            "0500000000000000",
        )
    );
}
