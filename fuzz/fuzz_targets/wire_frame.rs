//! Arbitrary bytes as one frame body into `Frame::decode`.
//!
//! Decoding must never panic. When the bytes decode, the frame's views must
//! be readable to the end, and the owned copy must survive a round trip:
//! `decode(encode(x)) == x` for `x = decode(bytes).into_owned()` (compared by
//! value, and by the bytes of a second encoding so a NaN field, which is not
//! equal to itself, is checked bit for bit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracing_core::Level;
use tracing_mplog::wire::{
    DropReason, Dropped, Frame, Goodbye, OwnedEvent, OwnedField, OwnedFrame, OwnedHello, OwnedSpan,
    OwnedValue, VERSION,
};

/// `encode` and `has_nan`, shared with the wire tests.
#[path = "../../tracing-mplog/src/wire/tests/fixtures.rs"]
mod fixtures;

use fixtures::{encode, has_nan};

fuzz_target!(|body: &[u8]| {
    let Ok(frame) = Frame::decode(body) else {
        return;
    };
    if let Frame::Event(e) = frame {
        // A validated view's iterators cannot fail; walk them all.
        let _ = e.message();
        for f in e.fields() {
            let _ = f.value.to_string();
        }
        let spans = e.spans();
        let expected = spans.len();
        let mut seen = 0;
        for s in spans {
            seen += 1;
            for f in s.fields() {
                let _ = f.value.to_string();
            }
        }
        assert_eq!(seen, expected, "span count and spans disagree");
    }

    let owned = frame.into_owned();
    let first = encode(&owned);
    let declared = u32::from_le_bytes([first[0], first[1], first[2], first[3]]);
    assert_eq!(declared as usize, first.len() - 4, "length prefix");
    let again = match Frame::decode(&first[4..]) {
        Ok(f) => f.into_owned(),
        Err(e) => panic!("re-encoded frame does not decode: {e}\n{owned:?}"),
    };
    assert_eq!(encode(&again), first, "second encoding differs");
    if !has_nan(&owned) {
        assert_eq!(again, owned);
    }
});
