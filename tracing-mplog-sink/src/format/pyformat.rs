//! Python `%`-formatting of one value, byte for byte as CPython 3.11's
//! `str % mapping` renders it (`Objects/unicodeobject.c`:
//! `unicode_format_arg_format` and `unicode_format_arg_output`,
//! `_PyUnicode_FormatLong`, `PyOS_double_to_string`).
//!
//! A template's `%(name)[flags][width][.precision]conversion` is parsed into
//! a [`PySpec`] once; the value is then a Python `str`, `int` or `float`
//! ([`Value`]) and is rendered here.

use std::fmt::Write as _;

use super::pyprintable::is_printable;

/// A `%` conversion character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conv {
    /// `s`: `str()`.
    Str,
    /// `r`: `repr()`.
    Repr,
    /// `a`: `ascii()`.
    Ascii,
    /// `d`, `i`, `u`: a decimal integer (`int()` of a float).
    Dec,
    /// `o`: octal.
    Oct,
    /// `x`: hexadecimal, lowercase.
    Hex,
    /// `X`: hexadecimal, uppercase.
    HexUpper,
    /// `e`, `E`: exponent notation.
    Exp { upper: bool },
    /// `f`, `F`: fixed point.
    Fixed { upper: bool },
    /// `g`, `G`: general.
    General { upper: bool },
}

impl Conv {
    /// The conversion of `c`, if supported (`c` itself is not).
    pub(crate) fn from_char(c: char) -> Option<Self> {
        Some(match c {
            's' => Conv::Str,
            'r' => Conv::Repr,
            'a' => Conv::Ascii,
            'd' | 'i' | 'u' => Conv::Dec,
            'o' => Conv::Oct,
            'x' => Conv::Hex,
            'X' => Conv::HexUpper,
            'e' | 'E' => Conv::Exp { upper: c == 'E' },
            'f' | 'F' => Conv::Fixed { upper: c == 'F' },
            'g' | 'G' => Conv::General { upper: c == 'G' },
            _ => return None,
        })
    }

    /// Whether the conversion is a number's (takes the sign flags and `0`).
    pub(crate) fn is_numeric(self) -> bool {
        !matches!(self, Conv::Str | Conv::Repr | Conv::Ascii)
    }

    /// Whether the conversion needs an integer (Python raises `TypeError`
    /// on a float).
    pub(crate) fn needs_integer(self) -> bool {
        matches!(self, Conv::Oct | Conv::Hex | Conv::HexUpper)
    }
}

/// Flags, width, precision and conversion of one `%(name)…` placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PySpec {
    /// `-`: pad on the right.
    pub(crate) left: bool,
    /// `0`: pad numbers with zeros after the sign.
    pub(crate) zero: bool,
    /// `+`: a sign on positive numbers too.
    pub(crate) plus: bool,
    /// ` `: a space before positive numbers.
    pub(crate) space: bool,
    /// `#`: the alternate form (`0x`, `0o`, always a decimal point).
    pub(crate) alt: bool,
    /// Minimum width in characters.
    pub(crate) width: usize,
    /// Text: maximum characters; integers: minimum digits; floats: digits.
    pub(crate) precision: Option<usize>,
    /// The conversion.
    pub(crate) conv: Conv,
}

impl PySpec {
    /// `%(name)s`: no flags, width or precision; the parser and the tests
    /// start from it.
    pub(crate) fn plain() -> Self {
        PySpec {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alt: false,
            width: 0,
            precision: None,
            conv: Conv::Str,
        }
    }
}

/// A value as a Python `LogRecord` attribute holds it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    /// A `str`.
    Str(&'a str),
    /// An `int`.
    Int(i128),
    /// A `float`.
    Float(f64),
}

/// Appends `value` formatted with `spec` to `out`, as `"%…" % value` in
/// CPython. The template parser has refused the pairs Python raises on
/// (a number conversion of a `str`, `%x` of a `float`).
pub(crate) fn render(value: Value<'_>, spec: &PySpec, out: &mut String) {
    let start = out.len();
    match (spec.conv, value) {
        (Conv::Str, Value::Str(s)) => out.push_str(s),
        (Conv::Repr, Value::Str(s)) => repr_str(s, false, out),
        (Conv::Ascii, Value::Str(s)) => repr_str(s, true, out),
        (Conv::Str | Conv::Repr | Conv::Ascii, Value::Int(n)) => {
            let _ = write!(out, "{n}");
        }
        (Conv::Str | Conv::Repr | Conv::Ascii, Value::Float(x)) => float_repr(x, out),
        (Conv::Exp { .. } | Conv::Fixed { .. } | Conv::General { .. }, Value::Int(n)) => {
            format_float(n as f64, spec, out);
        }
        (Conv::Exp { .. } | Conv::Fixed { .. } | Conv::General { .. }, Value::Float(x)) => {
            format_float(x, spec, out);
        }
        // `int()` of a float truncates toward zero.
        (_, Value::Float(x)) => format_int(x.trunc() as i128, spec, out),
        (_, Value::Int(n)) => format_int(n, spec, out),
        // Refused by the parser; rendered as `str` should one slip through.
        (_, Value::Str(s)) => out.push_str(s),
    }
    finish(out, start, spec);
}

/// Truncation (text conversions with a precision) and padding of the value
/// written since `start`: what [`render`] does once the value is written.
/// The caller that wrote a `str` for `%s` itself calls this directly.
pub(crate) fn finish(out: &mut String, start: usize, spec: &PySpec) {
    if !spec.conv.is_numeric() {
        if let Some(max) = spec.precision {
            if let Some((cut, _)) = out[start..].char_indices().nth(max) {
                out.truncate(start + cut);
            }
        }
    }
    // Without a width, only a sign flag can change a number.
    if spec.width > 0 || (spec.conv.is_numeric() && (spec.plus || spec.space)) {
        pad(out, start, spec);
    }
}

/// Width, sign and zero padding, as `unicode_format_arg_output`: the text
/// since `start` is the formatted value (with its `-` and `0x`, if any).
fn pad(out: &mut String, start: usize, spec: &PySpec) {
    let numeric = spec.conv.is_numeric();
    let body = &out[start..];
    let (mut sign, digits_at) = match body.as_bytes().first() {
        Some(&c @ (b'-' | b'+')) if numeric => (Some(c as char), 1),
        _ if numeric && spec.plus => (Some('+'), 0),
        _ if numeric && spec.space => (Some(' '), 0),
        _ => (None, 0),
    };
    let len = body[digits_at..].chars().count() + usize::from(sign.is_some());
    if len >= spec.width {
        if digits_at == 0 {
            if let Some(c) = sign.take() {
                out.insert(start, c);
            }
        }
        return;
    }
    let fill = spec.width - len;
    if spec.left {
        if digits_at == 0 {
            if let Some(c) = sign {
                out.insert(start, c);
            }
        }
        out.extend(std::iter::repeat_n(' ', fill));
        return;
    }
    if numeric && spec.zero {
        // Sign, then the `0x`/`0o` prefix, then zeros, then the digits.
        let prefix = match spec.conv {
            Conv::Oct | Conv::Hex | Conv::HexUpper if spec.alt => 2,
            _ => 0,
        };
        let zeros_at = start + digits_at + prefix;
        out.insert_str(zeros_at, &"0".repeat(fill));
        if digits_at == 0 {
            if let Some(c) = sign {
                out.insert(start, c);
            }
        }
        return;
    }
    let mut head = " ".repeat(fill);
    if digits_at == 0 {
        if let Some(c) = sign {
            head.push(c);
        }
    }
    out.insert_str(start, &head);
}

/// `_PyUnicode_FormatLong`: `[-][0x]digits`, the digits zero-extended to the
/// precision. Writes straight into `out` (no allocation unless zeros are
/// inserted).
fn format_int(n: i128, spec: &PySpec, out: &mut String) {
    let magnitude = n.unsigned_abs();
    if n < 0 {
        out.push('-');
    }
    if spec.alt {
        match spec.conv {
            Conv::Oct => out.push_str("0o"),
            Conv::Hex => out.push_str("0x"),
            Conv::HexUpper => out.push_str("0X"),
            _ => {}
        }
    }
    let digits_at = out.len();
    let _ = match spec.conv {
        Conv::Oct => write!(out, "{magnitude:o}"),
        Conv::Hex => write!(out, "{magnitude:x}"),
        Conv::HexUpper => write!(out, "{magnitude:X}"),
        // Every value here fits in 64 bits; their `Display` is the faster.
        _ => match u64::try_from(magnitude) {
            Ok(small) => write!(out, "{small}"),
            Err(_) => write!(out, "{magnitude}"),
        },
    };
    let written = out.len() - digits_at;
    if let Some(precision) = spec.precision.filter(|&p| p > written) {
        out.insert_str(digits_at, &"0".repeat(precision - written));
    }
}

/// Mantissa digits (no point) and decimal exponent of `x` rounded to
/// `significant` digits (at least 1), correctly rounded, ties to even (as
/// Rust's and CPython's float formatting both round).
fn scientific(x: f64, significant: usize) -> (String, i32) {
    let text = format!("{:.*e}", significant.max(1) - 1, x.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    (mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}

/// `e+05`, `E-123`: the exponent with its sign and at least two digits.
fn push_exponent(exp: i32, upper: bool, out: &mut String) {
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.unsigned_abs());
}

/// `inf`, `nan` (upper case for `E`, `F`, `G`); `true` if `x` was one.
fn non_finite(x: f64, upper: bool, out: &mut String) -> bool {
    if x.is_finite() {
        return false;
    }
    if x.is_nan() {
        out.push_str(if upper { "NAN" } else { "nan" });
    } else {
        if x < 0.0 {
            out.push('-');
        }
        out.push_str(if upper { "INF" } else { "inf" });
    }
    true
}

/// `PyOS_double_to_string(x, conv, precision, alt ? Py_DTSF_ALT : 0)`.
fn format_float(x: f64, spec: &PySpec, out: &mut String) {
    let precision = spec.precision.unwrap_or(6);
    let (Conv::Exp { upper } | Conv::Fixed { upper } | Conv::General { upper }) = spec.conv else {
        return;
    };
    if non_finite(x, upper, out) {
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    match spec.conv {
        Conv::Fixed { .. } => {
            let _ = write!(out, "{:.*}", precision, x.abs());
            if spec.alt && precision == 0 {
                out.push('.');
            }
        }
        Conv::Exp { .. } => {
            let (digits, exp) = scientific(x, precision + 1);
            out.push_str(&digits[..1]);
            if precision > 0 || spec.alt {
                out.push('.');
            }
            out.push_str(&digits[1..]);
            push_exponent(exp, upper, out);
        }
        _ => {
            let significant = precision.max(1);
            let (digits, exp) = scientific(x, significant);
            if (-4..significant as i32).contains(&exp) {
                layout_fixed(&digits, exp, !spec.alt, spec.alt, out);
            } else {
                let mut mantissa = digits;
                if !spec.alt {
                    trim_zeros(&mut mantissa, 1);
                }
                out.push_str(&mantissa[..1]);
                if mantissa.len() > 1 || spec.alt {
                    out.push('.');
                }
                out.push_str(&mantissa[1..]);
                push_exponent(exp, upper, out);
            }
        }
    }
}

/// Drops trailing `'0'`s from `digits`, keeping at least `keep` digits.
fn trim_zeros(digits: &mut String, keep: usize) {
    let kept = digits.trim_end_matches('0').len().max(keep);
    digits.truncate(kept);
}

/// `digits` (`d1 d2 …`, the value `d1.d2… × 10^exp`) in positional notation;
/// trailing fraction zeros dropped if `trim`; the point kept alone if `point`.
fn layout_fixed(digits: &str, exp: i32, trim: bool, point: bool, out: &mut String) {
    let (int, frac) = if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() >= int_len {
            (digits[..int_len].to_owned(), digits[int_len..].to_owned())
        } else {
            let mut int = digits.to_owned();
            int.extend(std::iter::repeat_n('0', int_len - digits.len()));
            (int, String::new())
        }
    } else {
        let mut frac = "0".repeat(exp.unsigned_abs() as usize - 1);
        frac.push_str(digits);
        ("0".to_owned(), frac)
    };
    let frac = if trim {
        frac.trim_end_matches('0')
    } else {
        &frac
    };
    out.push_str(&int);
    if !frac.is_empty() || point {
        out.push('.');
    }
    out.push_str(frac);
}

/// `repr(x)` of a float: the shortest digits that read back as `x`,
/// positional when the exponent is in `-4..16` (with `.0` if whole),
/// else `1e+16`, `1.5e-05`.
pub(crate) fn float_repr(x: f64, out: &mut String) {
    if non_finite(x, false, out) {
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    let text = format!("{:e}", x.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let digits = mantissa.replace('.', "");
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let before = out.len();
        layout_fixed(&digits, exp, true, true, out);
        if out.ends_with('.') && out.len() > before {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        push_exponent(exp, false, out);
    }
}

/// `repr(s)` (or `ascii(s)` if `ascii`) of a `str`, as `unicode_repr`.
pub(crate) fn repr_str(s: &str, ascii: bool, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if !ascii && !c.is_ascii() && is_printable(c) => out.push(c),
            c => {
                let n = u32::from(c);
                let _ = match n {
                    0..=0xFF => write!(out, "\\x{n:02x}"),
                    0x100..=0xFFFF => write!(out, "\\u{n:04x}"),
                    _ => write!(out, "\\U{n:08x}"),
                };
            }
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> PySpec {
        let mut s = PySpec::plain();
        let mut chars = text.chars().peekable();
        while let Some(&c) = chars.peek() {
            match c {
                '-' => s.left = true,
                '0' => s.zero = true,
                '+' => s.plus = true,
                ' ' => s.space = true,
                '#' => s.alt = true,
                _ => break,
            }
            chars.next();
        }
        let rest: String = chars.collect();
        let (num, conv) = rest.split_at(rest.len() - 1);
        let (w, p) = match num.split_once('.') {
            Some((w, p)) => (w, Some(p.parse().unwrap_or(0))),
            None => (num, None),
        };
        s.width = w.parse().unwrap_or(0);
        s.precision = p;
        s.conv = Conv::from_char(conv.chars().next().expect("conversion")).expect("known");
        s
    }

    fn fmt(value: Value<'_>, text: &str) -> String {
        let mut out = String::from(">");
        render(value, &spec(text), &mut out);
        out.split_off(1)
    }

    /// Expected values printed by CPython 3.11 (`'%…' % value`).
    #[test]
    fn integers_as_cpython() {
        let n = Value::Int(26);
        let m = Value::Int(-26);
        for (t, v, want) in [
            ("#.0e", n, "3.e+01"),
            ("#.0f", n, "26."),
            ("#.1g", n, "3.e+01"),
            ("-+08.2f", n, "+26.00  "),
            ("+d", n, "+26"),
            (" 05d", n, " 0026"),
            ("#-8x", n, "0x1a    "),
            ("#08X", n, "0X00001A"),
            (".3s", n, "26"),
            ("08.3d", n, "00000026"),
            ("-08d", m, "-26     "),
            ("05s", m, "  -26"),
            ("#o", m, "-0o32"),
            (".0g", m, "-3e+01"),
            ("g", m, "-26"),
            ("010s", Value::Int(20), "        20"),
        ] {
            assert_eq!(fmt(v, t), want, "%{t}");
        }
    }

    #[test]
    fn floats_as_cpython() {
        let created = Value::Float(1_865_442_959.7);
        for (t, v, want) in [
            ("d", created, "1865442959"),
            ("s", created, "1865442959.7"),
            ("r", Value::Float(953.0), "953.0"),
            ("s", Value::Float(1e16), "1e+16"),
            ("s", Value::Float(1e-5), "1e-05"),
            ("s", Value::Float(0.0001), "0.0001"),
            ("s", Value::Float(-0.0), "-0.0"),
            (".2f", Value::Float(0.125), "0.12"),
            ("e", Value::Float(0.0), "0.000000e+00"),
            ("g", Value::Float(1e-5), "1e-05"),
            ("g", Value::Float(123456.0), "123456"),
            ("g", Value::Float(1234567.0), "1.23457e+06"),
            ("#g", Value::Float(1.5), "1.50000"),
            ("G", Value::Float(f64::INFINITY), "INF"),
            ("+010.3f", Value::Float(-2.5), "-00002.500"),
        ] {
            assert_eq!(fmt(v, t), want, "%{t}");
        }
    }

    #[test]
    fn strings_as_cpython() {
        let s = Value::Str("é\0'\"\u{2028}𝄞");
        assert_eq!(fmt(s, "r"), "'é\\x00\\'\"\\u2028𝄞'");
        assert_eq!(fmt(s, "a"), "'\\xe9\\x00\\'\"\\u2028\\U0001d11e'");
        assert_eq!(fmt(Value::Str("it's"), "r"), "\"it's\"");
        assert_eq!(fmt(Value::Str("hello"), "10.3r"), "       'he");
        assert_eq!(fmt(Value::Str("INFO"), "-6r"), "'INFO'");
        assert_eq!(fmt(Value::Str("ab"), "05s"), "   ab");
    }
}
