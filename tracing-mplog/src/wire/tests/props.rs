//! Property tests: generated frames round-trip; arbitrary bytes never panic
//! the decoder or the reader, and chunked reads match whole ones.

use proptest::prelude::*;
use tracing_core::Level;

use super::fixtures::has_nan;
use super::*;

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![
        Just(Level::TRACE),
        Just(Level::DEBUG),
        Just(Level::INFO),
        Just(Level::WARN),
        Just(Level::ERROR),
    ]
}

fn value() -> impl Strategy<Value = OwnedValue> {
    prop_oneof![
        any::<i64>().prop_map(OwnedValue::I64),
        any::<u64>().prop_map(OwnedValue::U64),
        any::<i128>().prop_map(OwnedValue::I128),
        any::<u128>().prop_map(OwnedValue::U128),
        // NaN != NaN would fail the equality check, not the codec.
        any::<f64>()
            .prop_filter("not NaN", |f| !f.is_nan())
            .prop_map(OwnedValue::F64),
        any::<bool>().prop_map(OwnedValue::Bool),
        ".{0,12}".prop_map(OwnedValue::Str),
        ".{0,12}".prop_map(OwnedValue::Debug),
    ]
}

fn fields() -> impl Strategy<Value = Vec<OwnedField>> {
    // `message` is the one name the decoder treats specially.
    let name = "[a-z_.]{1,8}".prop_filter("not the message", |n| n != "message");
    prop::collection::vec(
        (name, value()).prop_map(|(name, value)| OwnedField { name, value }),
        0..5,
    )
}

prop_compose! {
    fn arb_event()(
        seq in any::<u64>(),
        timestamp_ns in any::<i64>(),
        level in level(),
        target in ".{0,16}",
        module_path in proptest::option::of(".{0,16}"),
        file in proptest::option::of(".{0,16}"),
        line in proptest::option::of(any::<u32>()),
        thread_id in any::<u64>(),
        thread_name in proptest::option::of(".{0,8}"),
        message in proptest::option::of(".{0,24}"),
        fields in fields(),
        spans in prop::collection::vec(
            (".{0,8}", fields()).prop_map(|(name, fields)| OwnedSpan { name, fields }),
            0..4,
        ),
    ) -> OwnedEvent {
        OwnedEvent {
            seq, timestamp_ns, level, target, module_path, file, line, thread_id,
            thread_name, message, fields, spans,
        }
    }
}

fn arb_frame() -> impl Strategy<Value = OwnedFrame> {
    prop_oneof![
        (
            any::<u64>(),
            any::<u32>(),
            any::<i64>(),
            ".{0,12}",
            ".{0,12}",
            prop_oneof![Just(None), ".{0,12}".prop_map(Some)],
        )
            .prop_map(
                |(capabilities, pid, start_time_ns, process_name, host, token)| {
                    // Version 1 has no token; version 2 has one (maybe empty).
                    OwnedFrame::Hello(OwnedHello {
                        version: if token.is_some() { VERSION } else { 1 },
                        capabilities,
                        pid,
                        start_time_ns,
                        process_name,
                        host,
                        token: token.unwrap_or_default(),
                    })
                }
            ),
        arb_event().prop_map(OwnedFrame::Event),
        (
            prop_oneof![
                Just(DropReason::ChannelFull),
                Just(DropReason::Oversized),
                Just(DropReason::Truncated)
            ],
            any::<u64>()
        )
            .prop_map(|(reason, count)| OwnedFrame::Dropped(Dropped { reason, count })),
        any::<u64>().prop_map(|last_seq| OwnedFrame::Goodbye(Goodbye { last_seq })),
    ]
}

proptest! {
    #[test]
    fn frames_round_trip(frames in prop::collection::vec(arb_frame(), 1..6)) {
        let mut stream = Vec::new();
        for f in &frames {
            f.encode(&mut stream);
        }
        let mut reader = FrameReader::new(&stream[..]);
        let mut back = Vec::new();
        while let Some(frame) = reader.read_frame().expect("valid stream") {
            back.push(frame.into_owned());
        }
        prop_assert_eq!(back, frames);
    }

    /// Whatever decodes survives a round trip: the owned copy encodes,
    /// decodes again to the same frame, and encodes to the same bytes (the
    /// byte check also covers NaN fields, which are not equal to themselves).
    #[test]
    fn arbitrary_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let Ok(frame) = Frame::decode(&bytes) else {
            return Ok(());
        };
        if let Frame::Event(e) = frame {
            // Iterating a validated view must not fail either.
            let _ = (e.fields().count(), e.spans().map(|s| s.fields().count()).sum::<usize>());
        }
        let owned = frame.into_owned();
        let first = encode(&owned);
        let again = Frame::decode(&first[4..]).expect("a re-encoded frame decodes").into_owned();
        prop_assert_eq!(encode(&again), first);
        if !has_nan(&owned) {
            prop_assert_eq!(again, owned);
        }
    }

    #[test]
    fn mutated_events_never_panic(
        event in arb_event(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = body(&OwnedFrame::Event(event));
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let len = cut.index(bytes.len() + 1);
        if let Ok(Frame::Event(e)) = Frame::decode(&bytes[..len]) {
            let _ = OwnedFrame::Event(e.into());
        }
    }

    /// A stream of real frames with a few bytes changed, read whole and
    /// read in arbitrary chunks with `WouldBlock` between them: the same
    /// frames and the same final error either way, and the buffer within
    /// the limit.
    #[test]
    fn chunked_reads_resume_where_they_stopped(
        frames in prop::collection::vec(arb_frame(), 1..5),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        chunks in prop::collection::vec(1..20usize, 1..8),
    ) {
        let mut stream = Vec::new();
        for f in &frames {
            f.encode(&mut stream);
        }
        for (at, b) in flips {
            let i = at.index(stream.len());
            stream[i] = b;
        }
        let mut whole = FrameReader::with_max_frame_size(&stream[..], 400);
        let mut chunked = FrameReader::with_max_frame_size(
            Chunked::new(&stream, chunks),
            400,
        );
        prop_assert_eq!(read_outcomes(&mut whole), read_outcomes(&mut chunked));
        prop_assert!(chunked.buffer_capacity() <= 400);
    }

    #[test]
    fn arbitrary_streams_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut reader = FrameReader::with_max_frame_size(&bytes[..], 300);
        for _ in 0..8 {
            match reader.read_frame() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        prop_assert!(reader.buffer_capacity() <= 300);
    }
}

/// Reads until the stream ends or loses step with frame boundaries,
/// retrying `WouldBlock`: each frame by its owned encoding, each error by
/// its `Debug` text. Errors inside a frame body keep the stream in step, so
/// reading goes on after them.
fn read_outcomes<R: std::io::Read>(reader: &mut FrameReader<R>) -> Vec<Result<Vec<u8>, String>> {
    let mut out = Vec::new();
    loop {
        match reader.read_frame() {
            Ok(Some(frame)) => out.push(Ok(encode(&frame.into_owned()))),
            Ok(None) => return out,
            Err(WireError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(
                e @ (WireError::Io(_)
                | WireError::UnexpectedEof { .. }
                | WireError::Oversized { .. }),
            ) => {
                out.push(Err(format!("{e:?}")));
                return out;
            }
            Err(e) => out.push(Err(format!("{e:?}"))),
        }
    }
}
