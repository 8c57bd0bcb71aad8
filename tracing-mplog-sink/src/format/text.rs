//! Writing values straight into a `String`, byte for byte what `Display`
//! (integers, booleans) and `Debug` (strings, floats) print, without the
//! `fmt` machinery: a decimal integer is a table lookup per two digits, a
//! string that needs no escaping is copied between its quotes. What has no
//! fast path here (a float, a string to escape) goes through `write!`, so
//! the text never differs (the property tests below compare both for
//! random values).

#[cfg(feature = "sink")]
use std::fmt::Write as _;

#[cfg(feature = "sink")]
use tracing_mplog::wire::Value;

/// "00", "01", … "99": two decimal digits per lookup.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The most digits a `u128` has.
const MAX_DIGITS: usize = 39;

/// Appends the ASCII bytes `digits` (decimal digits and a sign, as this
/// module writes them) to `out`.
fn push_ascii(out: &mut String, digits: &[u8]) {
    debug_assert!(digits.is_ascii());
    // SAFETY: only this module's digit buffers come here, which hold ASCII
    // digits and `-` alone: appending ASCII keeps a `String` UTF-8.
    unsafe { out.as_mut_vec() }.extend_from_slice(digits);
}

/// Writes `v` in decimal into the end of `buf`; returns where it starts.
fn digits_u64(mut v: u64, buf: &mut [u8; MAX_DIGITS + 1]) -> usize {
    let mut at = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + v as u8;
    }
    at
}

#[cfg(feature = "sink")]
/// Writes `v` in decimal into the end of `buf`; returns where it starts.
fn digits_u128(mut v: u128, buf: &mut [u8; MAX_DIGITS + 1]) -> usize {
    // Nineteen digits at a time through the u64 path: the last 19 (and
    // then the next 19) are zero-padded, the highest part is not.
    const TEN19: u128 = 10_000_000_000_000_000_000;
    let mut end = buf.len();
    while v >= TEN19 {
        let low = (v % TEN19) as u64;
        v /= TEN19;
        let mut part = [0u8; MAX_DIGITS + 1];
        let from = digits_u64(low, &mut part);
        let width = 19;
        let at = end - width;
        buf[at..end].fill(b'0');
        buf[end - (part.len() - from)..end].copy_from_slice(&part[from..]);
        end = at;
    }
    let mut part = [0u8; MAX_DIGITS + 1];
    let from = digits_u64(v as u64, &mut part);
    let at = end - (part.len() - from);
    buf[at..end].copy_from_slice(&part[from..]);
    at
}

/// Appends `v` as `Display` prints it.
pub(crate) fn push_u64(out: &mut String, v: u64) {
    let mut buf = [0u8; MAX_DIGITS + 1];
    let at = digits_u64(v, &mut buf);
    push_ascii(out, &buf[at..]);
}

/// Appends `v` as `Display` prints it.
pub(crate) fn push_i64(out: &mut String, v: i64) {
    let mut buf = [0u8; MAX_DIGITS + 1];
    let mut at = digits_u64(v.unsigned_abs(), &mut buf);
    if v < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    push_ascii(out, &buf[at..]);
}

#[cfg(feature = "sink")]
/// Appends `v` as `Display` prints it.
pub(crate) fn push_u128(out: &mut String, v: u128) {
    let mut buf = [0u8; MAX_DIGITS + 1];
    let at = digits_u128(v, &mut buf);
    push_ascii(out, &buf[at..]);
}

#[cfg(feature = "sink")]
/// Appends `v` as `Display` prints it.
pub(crate) fn push_i128(out: &mut String, v: i128) {
    let mut buf = [0u8; MAX_DIGITS + 1];
    let mut at = digits_u128(v.unsigned_abs(), &mut buf);
    if v < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    push_ascii(out, &buf[at..]);
}

/// Appends `n` as `{:0width$}` prints it (the parts of a date and the
/// fraction of a second).
pub(crate) fn push_padded(out: &mut String, n: u32, width: usize) {
    let mut buf = [0u8; MAX_DIGITS + 1];
    let at = digits_u64(u64::from(n), &mut buf);
    let len = buf.len() - at;
    out.reserve(width.max(len));
    for _ in len..width {
        out.push('0');
    }
    push_ascii(out, &buf[at..]);
}

/// Appends `s` as `{:?}` prints a `str`: quoted, escaped. A string of
/// printable ASCII without `"` and `\` is copied as it is; any other goes
/// through `Debug` itself.
#[cfg(feature = "sink")]
pub(crate) fn push_debug_str(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Writing into a String cannot fail.
        let _ = write!(out, "{s:?}");
    }
}

/// Appends a field's value as `tracing_subscriber::fmt` prints it (what
/// `Value`'s `Display` writes).
#[cfg(feature = "sink")]
pub(crate) fn push_value(out: &mut String, value: &Value<'_>) {
    match *value {
        Value::I64(v) => push_i64(out, v),
        Value::U64(v) => push_u64(out, v),
        Value::I128(v) => push_i128(out, v),
        Value::U128(v) => push_u128(out, v),
        Value::Bool(v) => out.push_str(if v { "true" } else { "false" }),
        Value::Str(v) => push_debug_str(out, v),
        Value::Debug(v) => out.push_str(v),
        // Floats (and any kind added later): as `Display` prints them.
        ref other => {
            let _ = write!(out, "{other}");
        }
    }
}

// The tests compare every writer, some of which only the sink uses.
#[cfg(all(test, feature = "sink"))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn with(f: impl FnOnce(&mut String)) -> String {
        let mut s = String::from("x");
        f(&mut s);
        s.split_off(1)
    }

    #[test]
    fn integers_at_the_edges() {
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            u64::MAX / 10,
            u64::MAX,
        ] {
            assert_eq!(with(|s| push_u64(s, v)), v.to_string());
        }
        for v in [0, -1, 1, -9, -10, -100, i64::MIN, i64::MIN + 1, i64::MAX] {
            assert_eq!(with(|s| push_i64(s, v)), v.to_string());
        }
        let ten19 = 10u128.pow(19);
        for v in [
            0,
            ten19 - 1,
            ten19,
            ten19 + 1,
            ten19 * ten19,
            ten19 * ten19 - 1,
            u128::from(u64::MAX) + 1,
            u128::MAX,
        ] {
            assert_eq!(with(|s| push_u128(s, v)), v.to_string());
        }
        for v in [
            0,
            -1,
            i128::MIN,
            i128::MIN + 1,
            i128::MAX,
            -(10i128.pow(19)),
        ] {
            assert_eq!(with(|s| push_i128(s, v)), v.to_string());
        }
        assert_eq!(with(|s| push_padded(s, 7, 6)), "000007");
        assert_eq!(with(|s| push_padded(s, 953_189, 6)), "953189");
        assert_eq!(with(|s| push_padded(s, 0, 3)), "000");
        assert_eq!(with(|s| push_padded(s, 2024, 4)), "2024");
    }

    #[test]
    fn strings_that_need_escaping_go_through_debug() {
        for s in [
            "",
            "plain",
            "say \"hi\"",
            "back\\slash",
            "tab\tnew\nline",
            "é",
            "\u{7f}",
            "'",
        ] {
            assert_eq!(with(|out| push_debug_str(out, s)), format!("{s:?}"));
        }
    }

    proptest! {
        #[test]
        fn integers_print_as_display(a: u64, b: i64, c: u128, d: i128, small in 0u64..1000) {
            prop_assert_eq!(with(|s| push_u64(s, a)), a.to_string());
            prop_assert_eq!(with(|s| push_u64(s, small)), small.to_string());
            prop_assert_eq!(with(|s| push_i64(s, b)), b.to_string());
            prop_assert_eq!(with(|s| push_u128(s, c)), c.to_string());
            prop_assert_eq!(with(|s| push_u128(s, u128::from(a))), a.to_string());
            prop_assert_eq!(with(|s| push_i128(s, d)), d.to_string());
        }

        #[test]
        fn padded_numbers_print_as_zero_padded_display(
            (width, n) in (0usize..10).prop_flat_map(|w| (Just(w), 0..10u32.saturating_pow(w as u32 + 1))),
            any_n: u32,
        ) {
            prop_assert_eq!(with(|s| push_padded(s, n, width)), format!("{n:0width$}"));
            prop_assert_eq!(with(|s| push_padded(s, any_n, width)), format!("{any_n:0width$}"));
        }

        #[test]
        fn strings_print_as_debug(s in any::<String>(), ascii in "[ -~]{0,40}") {
            prop_assert_eq!(with(|out| push_debug_str(out, &s)), format!("{s:?}"));
            prop_assert_eq!(with(|out| push_debug_str(out, &ascii)), format!("{ascii:?}"));
        }
    }

    proptest! {
        #[test]
        fn values_print_as_their_display(a: u64, b: i64, c: u128, d: i128, f: f64, t: bool, s in any::<String>()) {
            for v in [
                Value::U64(a),
                Value::I64(b),
                Value::U128(c),
                Value::I128(d),
                Value::F64(f),
                Value::Bool(t),
                Value::Str(&s),
                Value::Debug(&s),
            ] {
                prop_assert_eq!(with(|out| push_value(out, &v)), v.to_string());
            }
        }
    }
}
