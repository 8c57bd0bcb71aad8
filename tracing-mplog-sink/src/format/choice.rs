//! [`LineFormat`]: whether the sink writes its files with the per-level
//! templates or as JSON lines, and the formatter that does it.

use std::fmt;
use std::str::FromStr;

#[cfg(feature = "sink")]
use super::{JsonFormatter, LevelFormatter};
#[cfg(feature = "sink")]
use crate::record::RecordView;

/// How the sink writes each line of every file
/// ([`sink::Builder::line_format`](crate::sink::Builder::line_format),
/// `mplog-sink --format json`, config `format = "json"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LineFormat {
    /// The per-level templates of the [`LevelFormatter`](super::LevelFormatter) (the default).
    #[default]
    Text,
    /// One JSON object per line, as [`JsonFormatter`](super::JsonFormatter) writes it.
    Json,
}

impl LineFormat {
    /// Its name: `text` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LineFormat::Text => "text",
            LineFormat::Json => "json",
        }
    }
}

impl fmt::Display for LineFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name other than `text` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown line format `{0}`: expected text or json")]
pub struct UnknownLineFormat(pub String);

impl FromStr for LineFormat {
    type Err = UnknownLineFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LineFormat::Text),
            "json" => Ok(LineFormat::Json),
            _ => Err(UnknownLineFormat(s.to_owned())),
        }
    }
}

/// The formatter of the sink's lines: the templates or JSON.
#[cfg(feature = "sink")]
#[derive(Clone, Debug)]
pub(crate) enum Lines {
    Text(LevelFormatter),
    Json(JsonFormatter),
}

#[cfg(feature = "sink")]
impl Lines {
    /// The formatter `format` asks for; JSON has no templates to use.
    pub(crate) fn new(format: LineFormat, text: LevelFormatter) -> Self {
        match format {
            LineFormat::Text => Lines::Text(text),
            LineFormat::Json => Lines::Json(JsonFormatter::new()),
        }
    }

    /// Appends the line of `rec` to `out`.
    pub(crate) fn format_record(&self, rec: &dyn RecordView, out: &mut String) -> fmt::Result {
        match self {
            Lines::Text(f) => f.format_record(rec, out),
            Lines::Json(f) => {
                f.format_record(rec, out);
                Ok(())
            }
        }
    }
}
