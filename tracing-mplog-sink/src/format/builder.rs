//! [`Builder`] for [`LevelFormatter`] and its [`FormatError`].

use std::sync::Arc;

use super::datefmt::{DateFormat, DatefmtError};
use super::template::{self, Piece, TemplateError};
use super::{FormatLevel, Inner, LevelFormatter};
use crate::clock::{Clock, SystemClock};
use crate::zone::Zone;

/// The template used for levels without one when no `default` is given.
pub const DEFAULT_TEMPLATE: &str =
    "%(asctime)s %(levelname)-5s %(processName)s[%(process)d] %(name)s: %(message)s";

/// The `datefmt` used when none is given: Python `logging`'s `asctime`
/// shape, with milliseconds.
pub const DEFAULT_DATEFMT: &str = "%Y-%m-%d %H:%M:%S,%3f";

/// Why a [`LevelFormatter`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A level's template is malformed or names an unknown placeholder.
    #[error("format for level `{level}`: template {template:?}: {source}")]
    Template {
        /// The level the template was given for.
        level: FormatLevel,
        /// The template as given.
        template: String,
        /// What is wrong with it.
        #[source]
        source: TemplateError,
    },
    /// The `datefmt` has an unsupported directive.
    #[error("datefmt {datefmt:?}: {source}")]
    Datefmt {
        /// The `datefmt` as given.
        datefmt: String,
        /// What is wrong with it.
        #[source]
        source: DatefmtError,
    },
    /// The process name could not be found for in-process formatting.
    #[error(
        "process_name: cannot find the executable's name ({reason}); set it with Builder::process_name"
    )]
    ProcessName {
        /// The operating system's reason.
        reason: String,
    },
}

/// Configures a [`LevelFormatter`].
///
/// | Setting | Default | Meaning |
/// |---|---|---|
/// | [`format`](Self::format) | none | the template for one level (or `Default`) |
/// | [`default_format`](Self::default_format) | [`DEFAULT_TEMPLATE`] | the template for levels without one |
/// | [`datefmt`](Self::datefmt) | [`DEFAULT_DATEFMT`] | strftime for `asctime`; `%f` = microseconds |
/// | [`zone`](Self::zone) / [`utc`](Self::utc) | the system's local time ([`Zone::local_or_utc`]) | the time zone dates are shown in |
/// | [`clock`](Self::clock) | [`SystemClock`] | the event time of in-process events (`FormatEvent`) |
/// | [`process_name`](Self::process_name) | env `TRACING_MPLOG_PROCESS_NAME`, else the executable's file stem | `processName` of in-process events |
///
/// A later template for the same level replaces an earlier one. Templates
/// and `datefmt` are checked by [`build`](Self::build).
///
/// ```
/// use tracing_mplog_sink::format::{FormatLevel, LevelFormatter};
///
/// let formatter = LevelFormatter::builder()
///     .format(FormatLevel::Error, "{time} {level} {message} ({file}:{line})")
///     .default_format("{time} {level:<5} {message}")
///     .datefmt("%H:%M:%S.%f")
///     .utc(true)
///     .build()?;
/// # drop(formatter);
/// let err = LevelFormatter::builder().format(FormatLevel::Info, "%(bogus)s").build().unwrap_err();
/// assert!(err.to_string().contains("`bogus`"));
/// # Ok::<(), tracing_mplog_sink::format::FormatError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    formats: Vec<(FormatLevel, String)>,
    datefmt: String,
    zone: Option<Zone>,
    clock: Arc<dyn Clock>,
    process_name: Option<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with every default (table above).
    pub fn new() -> Self {
        Builder {
            formats: Vec::new(),
            datefmt: DEFAULT_DATEFMT.to_owned(),
            zone: None,
            clock: Arc::new(SystemClock),
            process_name: None,
        }
    }

    /// Sets the template for `level` (`FormatLevel::Default`: for every level
    /// without one).
    pub fn format(mut self, level: FormatLevel, template: impl Into<String>) -> Self {
        self.formats.push((level, template.into()));
        self
    }

    /// Sets the template for every level without one; same as
    /// `format(FormatLevel::Default, template)`.
    pub fn default_format(self, template: impl Into<String>) -> Self {
        self.format(FormatLevel::Default, template)
    }

    /// Sets the strftime format of `asctime`/`time`. `%f` renders
    /// microseconds (`%3f` milliseconds, `%9f` nanoseconds); see
    /// `docs/formatter.md` for every directive.
    pub fn datefmt(mut self, datefmt: impl Into<String>) -> Self {
        self.datefmt = datefmt.into();
        self
    }

    /// Shows dates in `zone`.
    pub fn zone(mut self, zone: Zone) -> Self {
        self.zone = Some(zone);
        self
    }

    /// Shows dates in UTC (`true`) or in the system's local time (`false`).
    pub fn utc(mut self, utc: bool) -> Self {
        self.zone = if utc { Some(Zone::utc()) } else { None };
        self
    }

    /// Reads the time of in-process events from `clock`.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets `processName` for in-process events.
    pub fn process_name(mut self, name: impl Into<String>) -> Self {
        self.process_name = Some(name.into());
        self
    }

    /// Whether [`process_name`](Self::process_name) was set.
    #[cfg(feature = "sink")]
    pub(crate) fn has_process_name(&self) -> bool {
        self.process_name.is_some()
    }

    /// Parses every template and the `datefmt`.
    ///
    /// # Errors
    ///
    /// [`FormatError::Template`] naming the level, template and placeholder;
    /// [`FormatError::Datefmt`] naming the directive.
    pub fn build(&self) -> Result<LevelFormatter, FormatError> {
        let parse = |level: FormatLevel, t: &str| {
            template::parse(t).map_err(|source| FormatError::Template {
                level,
                template: t.to_owned(),
                source,
            })
        };
        let mut default: Vec<Piece> = parse(FormatLevel::Default, DEFAULT_TEMPLATE)?;
        let mut levels: [Option<Vec<Piece>>; 5] = Default::default();
        for (level, t) in &self.formats {
            let pieces = parse(*level, t)?;
            match level {
                FormatLevel::Default => default = pieces,
                FormatLevel::Trace => levels[0] = Some(pieces),
                FormatLevel::Debug => levels[1] = Some(pieces),
                FormatLevel::Info => levels[2] = Some(pieces),
                FormatLevel::Warn => levels[3] = Some(pieces),
                FormatLevel::Error => levels[4] = Some(pieces),
            }
        }
        let levels = levels.map(|l| l.unwrap_or_else(|| default.clone()));
        let datefmt =
            DateFormat::compile(&self.datefmt).map_err(|source| FormatError::Datefmt {
                datefmt: self.datefmt.clone(),
                source,
            })?;
        let process_name = match &self.process_name {
            Some(name) => name.clone(),
            None => tracing_mplog::origin::default_process_name().map_err(|e| {
                FormatError::ProcessName {
                    reason: e.to_string(),
                }
            })?,
        };
        Ok(LevelFormatter {
            inner: Arc::new(Inner {
                levels,
                datefmt,
                zone: self.zone.clone().unwrap_or_else(Zone::local_or_utc),
                clock: Arc::clone(&self.clock),
                process_name,
                host: tracing_mplog::origin::hostname(),
            }),
        })
    }
}
