//! [`LevelFormatter`]: one line template per level, as acrilog's
//! `LevelBasedFormatter`, parsed once and rendered without re-parsing.
//!
//! The same formatter serves two paths: inside a plain
//! `tracing_subscriber::fmt` layer (it implements
//! [`FormatEvent`](tracing_subscriber::fmt::FormatEvent)), and inside the sink
//! on records decoded from workers' frames ([`LevelFormatter::format_record`]
//! on any [`RecordView`]). Both go through the same rendering code.
//!
//! Templates use Python `logging`'s syntax (`%(levelname)-8s`, so an acrilog
//! template pastes unchanged) or a native one (`{level:<8}`); the full table of
//! placeholders is in `docs/formatter.md`.
//!
//! ```
//! use tracing_mplog_sink::format::{FormatLevel, LevelFormatter};
//! use tracing_subscriber::{fmt, prelude::*};
//!
//! let formatter = LevelFormatter::builder()
//!     .format(FormatLevel::Debug, "[ %(asctime)s ][ %(levelname)s ][ %(message)s ][ %(module)s.%(funcName)s(%(lineno)d) ]")
//!     .default_format("[ %(asctime)s ][ %(levelname)s ][ %(message)s ]")
//!     .datefmt("%Y-%m-%d,%H:%M:%S.%f")
//!     .build()?;
//! let subscriber = tracing_subscriber::registry().with(fmt::layer().event_format(formatter));
//! tracing::subscriber::with_default(subscriber, || tracing::info!(user = 7, "saved"));
//! # Ok::<(), tracing_mplog_sink::format::FormatError>(())
//! ```

mod builder;
mod choice;
mod datefmt;
mod event;
mod json;
mod percent;
mod pyformat;
mod pyprintable;
mod template;
pub(crate) mod text;

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::Arc;

use tracing_core::Level;

pub use builder::{Builder, DEFAULT_DATEFMT, DEFAULT_TEMPLATE, FormatError};
#[cfg(feature = "sink")]
pub(crate) use choice::Lines;
pub use choice::{LineFormat, UnknownLineFormat};
pub use datefmt::DatefmtError;
#[cfg(feature = "forward-syslog")]
pub(crate) use json::rfc3339_micros_in_utc;
pub use json::{JsonFields, JsonFormatter};
pub use template::{MAX_PADDING, TemplateError};

use crate::clock::Clock;
use crate::record::RecordView;
use crate::zone::Zone;
use datefmt::DateFormat;
use pyformat::{Conv, PySpec, Value};
use template::{Align, Field, Piece, PyKind, Spec};

/// Formats records with a template chosen by their level.
///
/// Cheap to clone (the compiled templates are shared). Build it with
/// [`LevelFormatter::builder`].
#[derive(Clone, Debug)]
pub struct LevelFormatter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Indexed by [`level_index`]: TRACE, DEBUG, INFO, WARN, ERROR.
    levels: [Vec<Piece>; 5],
    datefmt: DateFormat,
    zone: Zone,
    clock: Arc<dyn Clock>,
    process_name: String,
    host: String,
}

/// Which level a template is for: one of the five levels, or `Default` for
/// every level without its own template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FormatLevel {
    /// `TRACE` events.
    Trace,
    /// `DEBUG` events.
    Debug,
    /// `INFO` events.
    Info,
    /// `WARN` events.
    Warn,
    /// `ERROR` events.
    Error,
    /// Every level without a template of its own.
    Default,
}

impl From<Level> for FormatLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::TRACE => FormatLevel::Trace,
            Level::DEBUG => FormatLevel::Debug,
            Level::INFO => FormatLevel::Info,
            Level::WARN => FormatLevel::Warn,
            Level::ERROR => FormatLevel::Error,
        }
    }
}

impl fmt::Display for FormatLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FormatLevel::Trace => "trace",
            FormatLevel::Debug => "debug",
            FormatLevel::Info => "info",
            FormatLevel::Warn => "warn",
            FormatLevel::Error => "error",
            FormatLevel::Default => "default",
        })
    }
}

/// A level name that is not `trace`, `debug`, `info`, `warn`, `error` or
/// `default`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown level `{0}` (expected trace, debug, info, warn, error or default)")]
pub struct ParseFormatLevelError(String);

impl FromStr for FormatLevel {
    type Err = ParseFormatLevelError;

    /// Parses `trace|debug|info|warn|error|default` in any case (also
    /// `warning`, as Python spells it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "trace" => FormatLevel::Trace,
            "debug" => FormatLevel::Debug,
            "info" => FormatLevel::Info,
            "warn" | "warning" => FormatLevel::Warn,
            "error" => FormatLevel::Error,
            "default" => FormatLevel::Default,
            _ => return Err(ParseFormatLevelError(s.to_owned())),
        })
    }
}

/// TRACE 0 … ERROR 4: the wire's level byte.
fn level_index(level: Level) -> usize {
    usize::from(tracing_mplog::wire::level_to_u8(level))
}

impl LevelFormatter {
    /// A builder; see [`Builder`] for the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Appends one rendered line, with its trailing `'\n'`, for `rec` to
    /// `out`.
    ///
    /// ```
    /// use tracing_mplog_sink::format::LevelFormatter;
    /// # use tracing_mplog_sink::record::RecordView;
    /// # fn docs(record: &dyn RecordView) -> Result<(), Box<dyn std::error::Error>> {
    /// let formatter = LevelFormatter::builder().default_format("{level:<5} {message}").build()?;
    /// let mut line = String::new();
    /// formatter.format_record(record, &mut line)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Only when the record's own `write_*` methods fail.
    pub fn format_record<R: RecordView + ?Sized>(&self, rec: &R, out: &mut String) -> fmt::Result {
        let inner = &*self.inner;
        let line_start = out.len();
        for piece in &inner.levels[level_index(rec.level())] {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Field(field, spec) => {
                    let start = out.len();
                    inner.render_field(*field, spec, rec, out)?;
                    if !spec.is_plain() {
                        apply_spec(out, start, *field, spec);
                    }
                }
                Piece::Py(field, spec) => inner.render_py(*field, spec, rec, out)?,
            }
        }
        // Python's `Formatter.format`: a traceback and a stack follow the
        // line, each after a line break unless the text ends with one.
        for extra in [rec.exc_text(), rec.stack_info()].into_iter().flatten() {
            if !extra.is_empty() {
                if out.len() == line_start || !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(extra);
            }
        }
        out.push('\n');
        Ok(())
    }
}

/// A spec that changes nothing, for text rendered before Python formatting.
const PLAIN: Spec = Spec::padded(Align::Left, 0, None);

impl Inner {
    /// A Python-syntax placeholder: the value with the type a Python
    /// `LogRecord` gives it, `%`-formatted as CPython does.
    fn render_py<R: RecordView + ?Sized>(
        &self,
        field: Field,
        spec: &PySpec,
        rec: &R,
        out: &mut String,
    ) -> fmt::Result {
        let value = match field.py_kind() {
            PyKind::Float => Value::Float(if field == Field::Created {
                rec.created()
            } else {
                rec.msecs()
            }),
            PyKind::Int => Value::Int(match field {
                Field::LevelNo => i128::from(rec.level_no()),
                Field::Line => i128::from(rec.line().unwrap_or(0)),
                Field::Pid => i128::from(rec.pid()),
                _ => i128::from(rec.thread_id()),
            }),
            PyKind::Text => {
                let start = out.len();
                self.render_field(field, &PLAIN, rec, out)?;
                if spec.conv == Conv::Str {
                    pyformat::finish(out, start, spec);
                } else {
                    // `repr()`/`ascii()` rewrite the text: rare, so a copy.
                    let text = out.split_off(start);
                    pyformat::render(Value::Str(&text), spec, out);
                }
                return Ok(());
            }
        };
        pyformat::render(value, spec, out);
        Ok(())
    }

    fn render_field<R: RecordView + ?Sized>(
        &self,
        field: Field,
        spec: &Spec,
        rec: &R,
        out: &mut String,
    ) -> fmt::Result {
        match field {
            Field::Time => {
                let (second, nanos) = rec.unix_time();
                self.datefmt.render_unix(second, nanos, &self.zone, out);
            }
            Field::Created => render_created(
                rec.timestamp().unix_timestamp_nanos(),
                spec.precision.unwrap_or(6),
                out,
            ),
            Field::Msecs => text::push_u64(out, (rec.unix_time().1 / 1_000_000).into()),
            Field::Level => out.push_str(rec.level_name()),
            Field::LevelNo => text::push_i64(out, rec.level_no()),
            Field::Message => {
                let before = out.len();
                rec.write_message(out)?;
                if rec.has_fields() {
                    if out.len() > before {
                        out.push(' ');
                    }
                    rec.push_fields(out)?;
                }
            }
            Field::Msg => rec.write_message(out)?,
            Field::Fields => rec.push_fields(out)?,
            Field::Spans => rec.write_spans(out)?,
            Field::FuncName => out.push_str(rec.innermost_span().unwrap_or("<module>")),
            Field::Target => out.push_str(rec.target()),
            Field::Module => out.push_str(rec.module_path().unwrap_or(rec.target())),
            Field::Pathname => out.push_str(rec.file().unwrap_or("")),
            Field::Filename => {
                let file = rec.file().unwrap_or("");
                let name = rec.file_name();
                out.push_str(
                    name.unwrap_or_else(|| file.rsplit(['/', '\\']).next().unwrap_or(file)),
                );
            }
            Field::Line => text::push_u64(out, rec.line().unwrap_or(0).into()),
            Field::Pid => text::push_u64(out, rec.pid().into()),
            Field::ProcessName => out.push_str(rec.process_name()),
            Field::ThreadName => out.push_str(rec.thread_name().unwrap_or("<unnamed>")),
            Field::ThreadId => text::push_u64(out, rec.thread_id()),
            Field::Host => out.push_str(rec.host()),
        }
        Ok(())
    }
}

/// `secs.fraction` with `places` decimals, rounded half up, from nanoseconds
/// since the epoch (integer arithmetic: an `f64` loses the microseconds).
fn render_created(nanos: i128, places: usize, out: &mut String) {
    let places9 = places.min(9);
    let scale = 10i128.pow(9 - places9 as u32);
    let scaled = (nanos + scale / 2).div_euclid(scale);
    let unit = 10i128.pow(places9 as u32);
    let (secs, frac) = (scaled.div_euclid(unit), scaled.rem_euclid(unit));
    let _ = write!(out, "{secs}");
    if places > 0 {
        let _ = write!(out, ".{frac:0places9$}");
        out.extend(std::iter::repeat_n('0', places - places9));
    }
}

/// Applies width, alignment, padding and truncation to the text appended
/// since `start`.
fn apply_spec(out: &mut String, start: usize, field: Field, spec: &Spec) {
    if let (Some(max), false) = (spec.precision, field == Field::Created) {
        if let Some((cut, _)) = out[start..].char_indices().nth(max) {
            out.truncate(start + cut);
        }
    }
    let len = out[start..].chars().count();
    if len >= spec.width {
        return;
    }
    let pad = spec.width - len;
    if spec.zero {
        let at = if out[start..].starts_with('-') {
            start + 1
        } else {
            start
        };
        out.insert_str(at, &"0".repeat(pad));
        return;
    }
    let fill = |n: usize| std::iter::repeat_n(spec.fill, n).collect::<String>();
    match spec.align {
        Align::Left => out.push_str(&fill(pad)),
        Align::Right => out.insert_str(start, &fill(pad)),
        Align::Center => {
            out.insert_str(start, &fill(pad / 2));
            out.push_str(&fill(pad - pad / 2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_rounds_with_integers() {
        let mut s = String::new();
        render_created(1_481_992_784_953_189_500, 6, &mut s);
        assert_eq!(s, "1481992784.953190");
        s.clear();
        render_created(1_481_992_784_953_189_500, 0, &mut s);
        assert_eq!(s, "1481992785");
        s.clear();
        render_created(1_481_992_784_953_189_500, 10, &mut s);
        assert_eq!(s, "1481992784.9531895000");
    }

    #[test]
    fn level_names_parse() {
        for (s, l) in [
            ("TRACE", FormatLevel::Trace),
            ("warning", FormatLevel::Warn),
            ("Default", FormatLevel::Default),
        ] {
            assert_eq!(s.parse::<FormatLevel>(), Ok(l));
        }
        assert!("fatal".parse::<FormatLevel>().is_err());
    }
}
