//! Fitting an event over the frame limit into it: the longest strings of
//! the event (message, string fields, span fields) are cut, each at a UTF-8
//! character boundary, until the encoded frame fits, and the message ends
//! with a marker saying how many bytes were cut (`… [truncated N bytes]`).
//! The result is an ordinary event frame: every sink decodes it.
//!
//! Cold path: only events over the limit come here, so it decodes the
//! frame the layer encoded and encodes it again rather than teaching the
//! hot encoder to cut.

use crate::wire::{Frame, OwnedEvent, OwnedFrame, OwnedValue};

/// Room left for the marker when cutting, so that one cut usually fits.
const MARKER_ROOM: usize = 40;

/// The marker appended to the message of a truncated event.
pub(crate) fn marker(cut: usize) -> String {
    format!("… [truncated {cut} bytes]")
}

/// Re-encodes the event frame `frame` (length prefix included, seq not yet
/// set) so that its body is at most `max` bytes. Returns how many bytes of
/// its strings were cut, or `None` if it cannot be made to fit (its bulk is
/// not in strings that can be cut): the caller then drops it as oversized,
/// and `frame` is left as it was.
pub(crate) fn truncate_frame(frame: &mut Vec<u8>, max: usize) -> Option<usize> {
    let Ok(Frame::Event(view)) = Frame::decode(frame.get(4..)?) else {
        return None;
    };
    let mut event = OwnedEvent::from(view);
    let (cut, fitted) = fit(&mut event, max)?;
    frame.clear();
    frame.extend_from_slice(&fitted);
    Some(cut)
}

/// Cuts `event` until its frame body is at most `max` bytes: the bytes cut
/// and the encoded frame.
fn fit(event: &mut OwnedEvent, max: usize) -> Option<(usize, Vec<u8>)> {
    let mut base = event.message.take().unwrap_or_default();
    let mut cut = 0;
    let mut out = Vec::new();
    // Each round empties or shortens the longest string: bounded by the
    // number of strings (plus the rounds that only shorten).
    let strings =
        1 + event.fields.len() + event.spans.iter().map(|s| s.fields.len()).sum::<usize>();
    for _ in 0..=strings.saturating_mul(2) {
        event.message = if cut == 0 {
            Some(base.clone())
        } else {
            Some(format!("{base}{}", marker(cut)))
        };
        out.clear();
        OwnedFrame::Event(event.clone()).encode(&mut out);
        let body = out.len().saturating_sub(4);
        if body <= max {
            return Some((cut, out));
        }
        let over = body - max;
        let longest = std::iter::once(&mut base)
            .chain(
                event
                    .fields
                    .iter_mut()
                    .filter_map(|f| text_mut(&mut f.value)),
            )
            .chain(
                event
                    .spans
                    .iter_mut()
                    .flat_map(|s| s.fields.iter_mut())
                    .filter_map(|f| text_mut(&mut f.value)),
            )
            .max_by_key(|s| s.len())?;
        if longest.is_empty() {
            return None;
        }
        let keep = floor_boundary(longest, longest.len().saturating_sub(over + MARKER_ROOM));
        cut += longest.len() - keep;
        longest.truncate(keep);
    }
    None
}

/// The text of a string or `Debug` value, to cut.
fn text_mut(value: &mut OwnedValue) -> Option<&mut String> {
    match value {
        OwnedValue::Str(s) | OwnedValue::Debug(s) => Some(s),
        _ => None,
    }
}

/// The largest character boundary of `s` at or below `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{OwnedField, OwnedSpan};
    use tracing_core::Level;

    fn event(message: &str, fields: Vec<OwnedField>, spans: Vec<OwnedSpan>) -> Vec<u8> {
        let mut out = Vec::new();
        OwnedFrame::Event(OwnedEvent {
            seq: 0,
            timestamp_ns: 1,
            level: Level::INFO,
            target: "t".into(),
            module_path: None,
            file: Some("src/x.rs".into()),
            line: Some(3),
            thread_id: 1,
            thread_name: Some("main".into()),
            message: Some(message.into()),
            fields,
            spans,
        })
        .encode(&mut out);
        out
    }

    fn decoded(frame: &[u8]) -> OwnedEvent {
        match Frame::decode(&frame[4..]).expect("the sink decodes it") {
            Frame::Event(e) => OwnedEvent::from(e),
            other => panic!("not an event: {other:?}"),
        }
    }

    fn field(name: &str, text: &str) -> OwnedField {
        OwnedField {
            name: name.into(),
            value: OwnedValue::Str(text.into()),
        }
    }

    #[test]
    fn a_long_message_is_cut_with_the_count_in_its_marker() {
        let text = format!("big {}", "x".repeat(10_000));
        let mut frame = event(&text, vec![], vec![]);
        let cut = truncate_frame(&mut frame, 1_000).expect("fits");
        assert!(frame.len() - 4 <= 1_000, "{}", frame.len());
        let e = decoded(&frame);
        let message = e.message.expect("message");
        assert!(message.starts_with("big xxx"), "{message}");
        assert!(message.ends_with(&marker(cut)), "{message}");
        let kept = message.len() - marker(cut).len();
        assert_eq!(kept + cut, text.len(), "what is kept and cut is the whole");
        assert_eq!(e.file.as_deref(), Some("src/x.rs"), "the rest is intact");
    }

    #[test]
    fn multibyte_text_is_cut_at_a_character_boundary() {
        // 3-byte characters: no cut lands on a boundary by chance.
        let text = "€".repeat(5_000);
        let mut frame = event("m", vec![field("user", &text)], vec![]);
        let cut = truncate_frame(&mut frame, 2_001).expect("fits");
        let e = decoded(&frame);
        let OwnedValue::Str(user) = &e.fields[0].value else {
            panic!("a string field")
        };
        assert!(user.chars().all(|c| c == '€'), "whole characters only");
        assert_eq!(user.len() + cut, text.len());
        assert_eq!(
            e.message.as_deref(),
            Some(format!("m{}", marker(cut)).as_str())
        );
    }

    #[test]
    fn the_longest_strings_go_first_spans_included() {
        let span = OwnedSpan {
            name: "job".into(),
            fields: vec![field("payload", &"s".repeat(8_000))],
        };
        let mut frame = event(
            "short",
            vec![field("a", &"a".repeat(3_000)), field("n", "7")],
            vec![span],
        );
        truncate_frame(&mut frame, 4_000).expect("fits");
        let e = decoded(&frame);
        let OwnedValue::Str(payload) = &e.spans[0].fields[0].value else {
            panic!("a string")
        };
        assert!(payload.len() < 1_000, "the span's payload was the longest");
        assert!(
            e.message
                .as_deref()
                .is_some_and(|m| m.starts_with("short…"))
        );
        assert_eq!(e.fields[1], field("n", "7"), "short fields stay");
    }

    #[test]
    fn an_event_whose_bulk_is_not_text_is_left_to_be_dropped() {
        let many: Vec<OwnedField> = (0..2_000)
            .map(|i| OwnedField {
                name: format!("f{i}"),
                value: OwnedValue::U64(i),
            })
            .collect();
        let mut frame = event("", many, vec![]);
        let before = frame.clone();
        assert_eq!(truncate_frame(&mut frame, 1_000), None);
        assert_eq!(frame, before, "untouched");
    }
}
