//! Template parsing: a template string becomes a list of [`Piece`]s once, at
//! build time, so formatting a record never parses anything.
//!
//! Two syntaxes are accepted. A template containing `%(` is read in Python
//! `logging` syntax (`%(levelname)-8s`, `%(process)6d`, `%%`; parsed in
//! [`super::percent`], rendered by [`super::pyformat`] as CPython renders
//! it), where braces are plain text; any other template is read in the
//! native syntax (`{level}`, `{level:<8}`, `{{`), where `%` is plain text.

use std::fmt;

use super::percent::parse_percent;
use super::pyformat::PySpec;

/// What a placeholder renders. See `docs/formatter.md` for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    /// The event time, formatted with `datefmt`.
    Time,
    /// Seconds since the Unix epoch, with a fraction.
    Created,
    /// The millisecond part of the event time.
    Msecs,
    /// `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`.
    Level,
    /// 5, 10, 20, 30, 40 (Python's numbers, `TRACE` = 5).
    LevelNo,
    /// The message followed by the other fields, as `fmt` prints them.
    Message,
    /// The message alone.
    Msg,
    /// The fields other than the message alone.
    Fields,
    /// The span scope, `outer{a=1}:inner`.
    Spans,
    /// The innermost span's name, or `<module>` outside any span.
    FuncName,
    /// The event's target.
    Target,
    /// The module path.
    Module,
    /// The source file as recorded.
    Pathname,
    /// The source file's last component.
    Filename,
    /// The source line.
    Line,
    /// The process id.
    Pid,
    /// The process name.
    ProcessName,
    /// The thread name.
    ThreadName,
    /// The thread id.
    ThreadId,
    /// The host name.
    Host,
}

/// The type a Python `LogRecord` gives an attribute: what `%`-formatting
/// accepts for it and how it renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PyKind {
    /// A `str`.
    Text,
    /// An `int`.
    Int,
    /// A `float` (`created`, `msecs`).
    Float,
}

impl Field {
    /// The Python type of the value.
    pub(crate) fn py_kind(self) -> PyKind {
        match self {
            Field::Created | Field::Msecs => PyKind::Float,
            Field::LevelNo | Field::Line | Field::Pid | Field::ThreadId => PyKind::Int,
            _ => PyKind::Text,
        }
    }

    /// Whether the value is a number (right-aligned by default, may be
    /// zero-padded, accepts `%d`).
    fn is_numeric(self) -> bool {
        matches!(
            self,
            Field::Created
                | Field::Msecs
                | Field::LevelNo
                | Field::Line
                | Field::Pid
                | Field::ThreadId
        )
    }
}

/// Every accepted placeholder name: the Python `logging` name and the native
/// one, both usable in either syntax.
pub(crate) const NAMES: &[(&str, Field)] = &[
    ("asctime", Field::Time),
    ("time", Field::Time),
    ("created", Field::Created),
    ("msecs", Field::Msecs),
    ("levelname", Field::Level),
    ("level", Field::Level),
    ("levelno", Field::LevelNo),
    ("message", Field::Message),
    ("msg", Field::Msg),
    ("fields", Field::Fields),
    ("spans", Field::Spans),
    ("funcName", Field::FuncName),
    ("span", Field::FuncName),
    ("name", Field::Target),
    ("target", Field::Target),
    ("module", Field::Module),
    ("module_path", Field::Module),
    ("pathname", Field::Pathname),
    ("file", Field::Pathname),
    ("filename", Field::Filename),
    ("lineno", Field::Line),
    ("line", Field::Line),
    ("process", Field::Pid),
    ("pid", Field::Pid),
    ("processName", Field::ProcessName),
    ("process_name", Field::ProcessName),
    ("threadName", Field::ThreadName),
    ("thread_name", Field::ThreadName),
    ("thread", Field::ThreadId),
    ("thread_id", Field::ThreadId),
    ("host", Field::Host),
];

/// Python `logging` attributes that have no `tracing` equivalent, with what
/// to use instead (shown in the error).
const NO_EQUIVALENT: &[(&str, &str)] = &[
    ("relativeCreated", "use asctime or created"),
    ("args", "tracing has no format arguments; use fields"),
    ("exc_info", "record the error as a field"),
    ("exc_text", "record the error as a field"),
    ("stack_info", "tracing records no stack"),
    ("taskName", "use spans"),
];

/// Alignment of a rendered value inside its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
    Center,
}

/// Width, alignment, padding and truncation of one placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) align: Align,
    pub(crate) fill: char,
    /// Pad with zeros after the sign (numbers only).
    pub(crate) zero: bool,
    pub(crate) width: usize,
    /// Strings: maximum characters; `Created`: decimals.
    pub(crate) precision: Option<usize>,
}

impl Spec {
    /// Padding with spaces to `width` (aligned by `align`), cut to
    /// `precision`: what `%(name)-8.3s` and `{name:<8.3}` ask.
    pub(crate) const fn padded(align: Align, width: usize, precision: Option<usize>) -> Self {
        Spec {
            align,
            fill: ' ',
            zero: false,
            width,
            precision,
        }
    }

    /// Whether rendering needs any post-processing.
    pub(crate) fn is_plain(&self) -> bool {
        self.width == 0 && self.precision.is_none()
    }
}

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(String),
    /// A placeholder in the native syntax.
    Field(Field, Spec),
    /// A placeholder in Python syntax, rendered as CPython renders it.
    Py(Field, PySpec),
}

/// Why a template was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A placeholder name that is not in the table.
    #[error("unknown placeholder `{name}` (known: {})", known_names())]
    UnknownPlaceholder {
        /// The name as written.
        name: String,
    },
    /// A Python `logging` attribute that has no `tracing` equivalent.
    #[error("placeholder `{name}` has no tracing equivalent: {hint}")]
    NoEquivalent {
        /// The name as written.
        name: String,
        /// What to use instead.
        hint: &'static str,
    },
    /// A numeric conversion (`%d`, `%f`) on a text placeholder.
    #[error("placeholder `{name}` is text, it cannot be formatted with `%{conversion}`")]
    NotNumeric {
        /// The placeholder name.
        name: String,
        /// The conversion character.
        conversion: char,
    },
    /// An integer conversion (`%o`, `%x`, `%X`) on a float placeholder
    /// (`created`, `msecs`): Python raises `TypeError` there.
    #[error(
        "placeholder `{name}` is a float, it cannot be formatted with `%{conversion}` (use %d)"
    )]
    NotInteger {
        /// The placeholder name.
        name: String,
        /// The conversion character.
        conversion: char,
    },
    /// A width, or the decimals of `created`, over [`MAX_PADDING`]: that much
    /// padding would be built for every line (a width of 10^16 aborted the
    /// process on the first record).
    #[error("placeholder `{name}`: {what} {found} is over the limit of {limit}")]
    TooWide {
        /// The placeholder name as written.
        name: String,
        /// `"width"` or `"decimals"`.
        what: &'static str,
        /// The number in the template.
        found: usize,
        /// [`MAX_PADDING`].
        limit: usize,
    },
    /// Malformed syntax at a byte offset.
    #[error("at byte {at}: {what}")]
    Syntax {
        /// Byte offset into the template.
        at: usize,
        /// What was expected or found.
        what: String,
    },
}

fn known_names() -> String {
    NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

pub(crate) fn lookup(name: &str) -> Result<Field, TemplateError> {
    if let Some((_, f)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(*f);
    }
    if let Some((_, hint)) = NO_EQUIVALENT.iter().find(|(n, _)| *n == name) {
        return Err(TemplateError::NoEquivalent {
            name: name.to_owned(),
            hint,
        });
    }
    Err(TemplateError::UnknownPlaceholder {
        name: name.to_owned(),
    })
}

/// The largest width (and number of `created` decimals) a template may ask
/// for. Padding is built for every rendered line, so the limit bounds what a
/// template can make each line cost; truncation (`.precision` on text)
/// allocates nothing and is not limited.
pub const MAX_PADDING: usize = 4096;

/// Refuses padding beyond [`MAX_PADDING`]: a `width`, or a precision that
/// pads (`padding_precision`: the decimals of a number).
fn check_padding(
    name: &str,
    width: usize,
    padding_precision: Option<usize>,
) -> Result<(), TemplateError> {
    let too_wide = |what, found| TemplateError::TooWide {
        name: name.to_owned(),
        what,
        found,
        limit: MAX_PADDING,
    };
    if width > MAX_PADDING {
        return Err(too_wide("width", width));
    }
    match padding_precision {
        Some(places) if places > MAX_PADDING => Err(too_wide("decimals", places)),
        _ => Ok(()),
    }
}

/// Refuses a spec whose padding would exceed [`MAX_PADDING`].
fn bounded(name: &str, field: Field, spec: Spec) -> Result<Spec, TemplateError> {
    let decimals = spec.precision.filter(|_| field == Field::Created);
    check_padding(name, spec.width, decimals).map(|()| spec)
}

/// Refuses a Python spec whose padding would exceed [`MAX_PADDING`]: its
/// width, or the precision of a number conversion (decimals of a float,
/// leading zeros of an integer).
pub(crate) fn bounded_py(name: &str, spec: PySpec) -> Result<PySpec, TemplateError> {
    let decimals = spec.precision.filter(|_| spec.conv.is_numeric());
    check_padding(name, spec.width, decimals).map(|()| spec)
}

pub(crate) fn syntax(at: usize, what: impl fmt::Display) -> TemplateError {
    TemplateError::Syntax {
        at,
        what: what.to_string(),
    }
}

/// Parses a template in whichever syntax it uses.
pub(crate) fn parse(template: &str) -> Result<Vec<Piece>, TemplateError> {
    let pieces = if template.contains("%(") {
        parse_percent(template)?
    } else {
        parse_braces(template)?
    };
    Ok(merge_literals(pieces))
}

fn merge_literals(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match (out.last_mut(), p) {
            (Some(Piece::Literal(prev)), Piece::Literal(s)) => prev.push_str(&s),
            (_, Piece::Literal(s)) if s.is_empty() => {}
            (_, p) => out.push(p),
        }
    }
    out
}

/// Reads decimal digits at `i`; returns the number and the index after them.
pub(crate) fn digits(s: &str, mut i: usize) -> Result<(Option<usize>, usize), TemplateError> {
    let start = i;
    let b = s.as_bytes();
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return Ok((None, i));
    }
    s[start..i]
        .parse()
        .map(|n| (Some(n), i))
        .map_err(|_| syntax(start, "number too large"))
}

/// Native syntax: `{name}`, `{name:[[fill]align][0][width][.precision]}`,
/// `{{`, `}}`.
fn parse_braces(t: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = t.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                chars.next();
                lit.push('}');
            }
            '}' => return Err(syntax(at, "unmatched `}` (write `}}` for a literal brace)")),
            '{' => {
                let body_start = at + 1;
                let close = t[body_start..]
                    .find('}')
                    .map(|p| body_start + p)
                    .ok_or_else(|| syntax(at, "unclosed `{` (write `{{` for a literal brace)"))?;
                let body = &t[body_start..close];
                let (name, spec) = match body.split_once(':') {
                    Some((n, s)) => (n, Some(s)),
                    None => (body, None),
                };
                let name = name.trim();
                if name.is_empty() {
                    return Err(syntax(at, "empty placeholder `{}`"));
                }
                let field = lookup(name)?;
                let spec =
                    parse_native_spec(spec.unwrap_or(""), field, body_start + name.len() + 1)?;
                let spec = bounded(name, field, spec)?;
                pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                pieces.push(Piece::Field(field, spec));
                while chars.peek().is_some_and(|&(i, _)| i <= close) {
                    chars.next();
                }
            }
            c => lit.push(c),
        }
    }
    pieces.push(Piece::Literal(lit));
    Ok(pieces)
}

fn parse_native_spec(spec: &str, field: Field, at: usize) -> Result<Spec, TemplateError> {
    let align_of = |c: char| match c {
        '<' => Some(Align::Left),
        '>' => Some(Align::Right),
        '^' => Some(Align::Center),
        _ => None,
    };
    let align = if field.is_numeric() {
        Align::Right
    } else {
        Align::Left
    };
    let mut out = Spec::padded(align, 0, None);
    let mut rest = spec;
    let mut it = rest.chars();
    match (it.next(), it.next()) {
        (Some(f), Some(a)) if align_of(a).is_some() => {
            out.fill = f;
            out.align = align_of(a).unwrap_or(out.align);
            rest = &rest[f.len_utf8() + 1..];
        }
        (Some(a), _) if align_of(a).is_some() => {
            out.align = align_of(a).unwrap_or(out.align);
            rest = &rest[1..];
        }
        _ => {}
    }
    if let Some(r) = rest.strip_prefix('0') {
        out.zero = field.is_numeric();
        if !out.zero {
            out.fill = '0';
        }
        rest = r;
    }
    let (width, n) = digits(rest, 0)?;
    out.width = width.unwrap_or(0);
    rest = &rest[n..];
    if let Some(r) = rest.strip_prefix('.') {
        let (p, n) = digits(r, 0)?;
        out.precision = Some(p.ok_or_else(|| syntax(at, "expected digits after `.`"))?);
        rest = &r[n..];
    }
    if !rest.is_empty() {
        return Err(syntax(
            at,
            format!("unsupported format spec `{spec}` (use [[fill]<|>|^][0][width][.precision])"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(f: Field, align: Align, width: usize) -> Piece {
        Piece::Field(f, Spec::padded(align, width, None))
    }

    #[test]
    fn percent_syntax_keeps_braces_as_text() {
        let p = parse("[%(levelname)-8s] %(lineno)d {x}").expect("parses");
        let kinds: Vec<_> = p
            .iter()
            .map(|piece| match piece {
                Piece::Literal(s) => s.clone(),
                Piece::Py(f, spec) => format!("{f:?}/{}/{:?}", spec.width, spec.left),
                Piece::Field(f, spec) => format!("{f:?}/{}/{:?}", spec.width, spec.align),
            })
            .collect();
        assert_eq!(kinds, ["[", "Level/8/Left", "] ", "Line/0/Right", " {x}"]);
    }

    #[test]
    fn brace_syntax_with_spec() {
        let p = parse("{level:<8}|{pid:>6}|{{lit}}%").expect("parses");
        assert_eq!(
            p,
            vec![
                field(Field::Level, Align::Left, 8),
                Piece::Literal("|".into()),
                field(Field::Pid, Align::Right, 6),
                Piece::Literal("|{lit}%".into()),
            ]
        );
    }

    #[test]
    fn zero_padding_only_for_numbers() {
        let p = parse("{pid:06}|{level:06}").expect("parses");
        assert!(matches!(
            p[0],
            Piece::Field(
                Field::Pid,
                Spec {
                    zero: true,
                    width: 6,
                    ..
                }
            )
        ));
        assert!(matches!(
            p[2],
            Piece::Field(
                Field::Level,
                Spec {
                    zero: false,
                    fill: '0',
                    ..
                }
            )
        ));
        let e = parse("%(levelname)05d").expect_err("text with %d");
        assert!(e.to_string().contains("`levelname`"), "{e}");
    }
}
