//! Templates in Python `logging` syntax:
//! `%(name)[flags][width][.precision][length]conversion` and `%%`, read as
//! CPython's `str % mapping` reads them, so every template Python accepts
//! either renders as Python renders it or is refused here (never rendered
//! differently).
//!
//! Refused, with the reason: a number conversion of a text placeholder
//! (Python raises `TypeError`), `%o`/`%x`/`%X` of `created` or `msecs`
//! (floats: `TypeError`), `%c`, and `*` widths (Python needs a tuple for
//! those).

use super::pyformat::{Conv, PySpec};
use super::template::{
    Align, Field, Piece, PyKind, Spec, TemplateError, bounded_py, digits, lookup, syntax,
};

/// Parses a Python-syntax template.
pub(crate) fn parse_percent(t: &str) -> Result<Vec<Piece>, TemplateError> {
    let b = t.as_bytes();
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let mut lit_start = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        lit.push_str(&t[lit_start..i]);
        let at = i;
        match b.get(i + 1) {
            Some(b'%') => {
                lit.push('%');
                i += 2;
                lit_start = i;
                continue;
            }
            Some(b'(') => {}
            _ => return Err(syntax(at, "expected `%(name)` or `%%` after `%`")),
        }
        let name_start = i + 2;
        let close = t[name_start..]
            .find(')')
            .map(|p| name_start + p)
            .ok_or_else(|| syntax(at, "unclosed `%(`"))?;
        let name = &t[name_start..close];
        let field = lookup(name)?;
        i = close + 1;
        let (spec, next) = conversion(t, i, name, field)?;
        i = next;
        lit_start = i;
        pieces.push(Piece::Literal(std::mem::take(&mut lit)));
        pieces.push(piece(field, bounded_py(name, spec)?));
    }
    lit.push_str(&t[lit_start..]);
    pieces.push(Piece::Literal(lit));
    if !logging_accepts(t) {
        return Err(syntax(
            0,
            "Python's logging.Formatter refuses this template (ValueError): no placeholder \
             without a length modifier and with digits after its `.`",
        ));
    }
    Ok(pieces)
}

/// The piece for a placeholder. `%s` of a text value, and a plain `%d` of
/// an integer (all non-negative), render the same through the native path,
/// which writes in place: those become native pieces, so the common
/// templates cost what they did before CPython's rules were followed.
fn piece(field: Field, spec: PySpec) -> Piece {
    let native =
        |align, width, precision| Piece::Field(field, Spec::padded(align, width, precision));
    let plain_number = !(spec.zero || spec.plus || spec.space || spec.alt);
    match (field.py_kind(), spec.conv) {
        (PyKind::Text, Conv::Str) => native(
            if spec.left { Align::Left } else { Align::Right },
            spec.width,
            spec.precision,
        ),
        (PyKind::Int, Conv::Dec) if plain_number && spec.width == 0 && spec.precision.is_none() => {
            native(Align::Right, 0, None)
        }
        _ => Piece::Py(field, spec),
    }
}

/// `logging.PercentStyle.validate`: the template must contain at least one
/// match of `%\(\w+\)[#0+ -]*(\*|\d+)?(\.(\*|\d+))?[diouxefgcrsa%]`
/// (case-insensitive), searched anywhere in the text.
fn logging_accepts(t: &str) -> bool {
    let b = t.as_bytes();
    let digits_at = |mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    let star_or_digits = |i: usize| {
        if b.get(i) == Some(&b'*') {
            Some(i + 1)
        } else {
            digits_at(i)
        }
    };
    t.match_indices("%(").any(|(at, _)| {
        let name_start = at + 2;
        let name_len = t[name_start..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(t.len() - name_start);
        let mut i = name_start + name_len;
        if name_len == 0 || b.get(i) != Some(&b')') {
            return false;
        }
        i += 1;
        while matches!(b.get(i), Some(b'#' | b'0' | b'+' | b' ' | b'-')) {
            i += 1;
        }
        // `(\*|\d+)?` is greedy; a regex would also try without it, but a
        // digit or `*` cannot be a conversion either way.
        i = star_or_digits(i).unwrap_or(i);
        if b.get(i) == Some(&b'.') {
            if let Some(next) = star_or_digits(i + 1) {
                i = next;
            }
        }
        b.get(i)
            .is_some_and(|c| b"diouxefgcrsa%".contains(&c.to_ascii_lowercase()))
    })
}

/// Reads `[flags][width][.precision][length]conversion` at `i`, after
/// `%(name)`; returns the spec and the index after it.
fn conversion(
    t: &str,
    mut i: usize,
    name: &str,
    field: Field,
) -> Result<(PySpec, usize), TemplateError> {
    let b = t.as_bytes();
    let mut spec = PySpec::plain();
    while let Some(&c) = b.get(i) {
        match c {
            b'-' => spec.left = true,
            b'0' => spec.zero = true,
            b'+' => spec.plus = true,
            b' ' => spec.space = true,
            b'#' => spec.alt = true,
            _ => break,
        }
        i += 1;
    }
    if b.get(i) == Some(&b'*') {
        return Err(syntax(
            i,
            "a `*` width or precision takes its value from a tuple; write the number",
        ));
    }
    let (width, next) = digits(t, i)?;
    spec.width = width.unwrap_or(0);
    i = next;
    if b.get(i) == Some(&b'.') {
        if b.get(i + 1) == Some(&b'*') {
            return Err(syntax(
                i + 1,
                "a `*` width or precision takes its value from a tuple; write the number",
            ));
        }
        let (p, next) = digits(t, i + 1)?;
        spec.precision = Some(p.unwrap_or(0));
        i = next;
    }
    // One length modifier, which Python accepts and ignores.
    if matches!(b.get(i), Some(b'h' | b'l' | b'L')) {
        i += 1;
    }
    let c = t[i..]
        .chars()
        .next()
        .ok_or_else(|| syntax(i, format!("missing conversion after `%({name})`")))?;
    spec.conv = match Conv::from_char(c) {
        Some(conv) => conv,
        None if c == 'c' => {
            return Err(syntax(
                i,
                "conversion `%c` is not supported (it prints the character of a number)",
            ));
        }
        None => return Err(syntax(i, format!("unsupported conversion `%{c}`"))),
    };
    let numeric = spec.conv.is_numeric();
    match field.py_kind() {
        PyKind::Text if numeric => {
            return Err(TemplateError::NotNumeric {
                name: name.to_owned(),
                conversion: c,
            });
        }
        PyKind::Float if spec.conv.needs_integer() => {
            return Err(TemplateError::NotInteger {
                name: name.to_owned(),
                conversion: c,
            });
        }
        _ => {}
    }
    Ok((spec, i + c.len_utf8()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(t: &str) -> PySpec {
        match parse_percent(t).expect("parses").as_slice() {
            [Piece::Literal(a), Piece::Py(_, spec), Piece::Literal(b)]
                if a.is_empty() && b.is_empty() =>
            {
                *spec
            }
            other => panic!("{t}: {other:?}"),
        }
    }

    #[test]
    fn flags_width_precision_length() {
        let s = one("%(process)-+ #08.3d");
        assert!(s.left && s.plus && s.space && s.alt && s.zero);
        assert_eq!((s.width, s.precision, s.conv), (8, Some(3), Conv::Dec));
        assert_eq!(
            parse_percent("%(created).f %(levelno)d").expect("one valid")[1],
            Piece::Py(
                Field::Created,
                PySpec {
                    precision: Some(0),
                    conv: Conv::Fixed { upper: false },
                    ..one("%(created)f")
                }
            )
        );
        assert_eq!(one("%(levelno)X").conv, Conv::HexUpper);
    }

    #[test]
    fn plain_text_and_integers_take_the_native_path() {
        let p =
            parse_percent("%(levelname)-8s%(message).3s%(lineno)d%(process)5d").expect("parses");
        let native =
            |f, align, width, precision| Piece::Field(f, Spec::padded(align, width, precision));
        assert_eq!(
            p[1..p.len() - 1],
            [
                native(Field::Level, Align::Left, 8, None),
                Piece::Literal(String::new()),
                native(Field::Message, Align::Right, 0, Some(3)),
                Piece::Literal(String::new()),
                native(Field::Line, Align::Right, 0, None),
                Piece::Literal(String::new()),
                Piece::Py(Field::Pid, one("%(process)5d")),
            ]
        );
    }

    #[test]
    fn refused_as_python_refuses() {
        for (t, what) in [
            ("%(levelname)d", "is text"),
            ("%(message)g", "is text"),
            ("%(created)x", "is a float"),
            ("%(msecs)o", "is a float"),
            ("%(levelno)c", "`%c`"),
            ("%(levelno)*d", "`*`"),
            ("%(levelno).*d", "`*`"),
            ("%(levelno)lld", "unsupported conversion `%l`"),
            ("%(levelno)", "missing conversion"),
            ("%(levelno)ld", "logging.Formatter refuses"),
            ("%(levelno).d", "logging.Formatter refuses"),
        ] {
            let e = parse_percent(t).expect_err(t).to_string();
            assert!(e.contains(what), "{t}: {e}");
        }
    }
}
