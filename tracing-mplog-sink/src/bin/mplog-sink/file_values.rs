//! Readers of config-file values: each checks the TOML type and returns
//! the value, or the reason as a `String` (the caller names the file, the
//! key and the value). Strings go through the flags' own parsers
//! ([`crate::values`]), so a value means the same in both places.

use std::path::PathBuf;
use std::time::Duration;

use time::Time;
use tracing_mplog::Endpoint;
use tracing_mplog_sink::FormatLevel;

use crate::args;
use crate::values::{self, FormatArg, KeyArg};

/// A string, turned into a path.
pub(crate) fn path(value: &toml::Value) -> Result<PathBuf, String> {
    string(value).map(PathBuf::from)
}

/// A string, as is.
pub(crate) fn text(value: &toml::Value) -> Result<String, String> {
    string(value).map(str::to_owned)
}

/// A string, read by the flag's parser `parse`.
pub(crate) fn parsed<T>(
    value: &toml::Value,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, String> {
    string(value).and_then(parse)
}

/// A value as it would be written in the file, for error messages.
pub(crate) fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) => "an array".to_owned(),
        toml::Value::Table(_) => "a table".to_owned(),
    }
}

/// A string.
pub(crate) fn string(value: &toml::Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, found {}", value.type_str()))
}

/// `true` or `false`.
pub(crate) fn boolean(value: &toml::Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("expected true or false, found {}", value.type_str()))
}

/// A whole number ≥ 1 (or a string of one).
pub(crate) fn interval(value: &toml::Value) -> Result<u32, String> {
    match value {
        toml::Value::Integer(n) => values::check_interval(*n),
        toml::Value::String(s) => values::parse_interval(s),
        other => Err(format!(
            "expected a whole number ≥ 1, found {}",
            other.type_str()
        )),
    }
}

/// A whole number ≥ 0.
pub(crate) fn backup_count(value: &toml::Value) -> Result<usize, String> {
    match value {
        toml::Value::Integer(n) => {
            usize::try_from(*n).map_err(|_| "must not be negative".to_owned())
        }
        other => Err(format!(
            "expected a whole number ≥ 0, found {}",
            other.type_str()
        )),
    }
}

/// Bytes, or a size string such as `"10M"`.
pub(crate) fn size(value: &toml::Value) -> Result<u64, String> {
    match value {
        toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| "must not be negative".to_owned()),
        toml::Value::String(s) => values::parse_size(s),
        other => Err(format!(
            "expected a number of bytes or a string such as \"10M\", found {}",
            other.type_str()
        )),
    }
}

/// Seconds, or a duration string such as `"7d"`.
pub(crate) fn duration(value: &toml::Value) -> Result<Duration, String> {
    match value {
        toml::Value::Integer(n) => values::parse_duration(&n.to_string()),
        toml::Value::String(s) => values::parse_duration(s),
        other => Err(format!(
            "expected seconds or a string such as \"7d\", found {}",
            other.type_str()
        )),
    }
}

/// `"03:30"` or a TOML local time `03:30:00`.
pub(crate) fn at_time(value: &toml::Value) -> Result<Time, String> {
    match value {
        toml::Value::String(s) => values::parse_at_time(s),
        toml::Value::Datetime(d) if d.date.is_none() && d.offset.is_none() => {
            values::parse_at_time(&d.to_string())
        }
        other => Err(format!(
            "expected \"HH:MM[:SS]\", found {}",
            other.type_str()
        )),
    }
}

/// A string (one endpoint) or a list of endpoints.
pub(crate) fn endpoints(value: &toml::Value) -> Result<Vec<Endpoint>, String> {
    match value {
        toml::Value::String(s) => Ok(vec![args::parse_endpoint(s)?]),
        toml::Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| string(item).and_then(args::parse_endpoint))
            .collect(),
        other => Err(format!(
            "expected an endpoint or a non-empty list of endpoints, found {}",
            other.type_str()
        )),
    }
}

/// A whole number ≥ 1 (`max-connections`, `max-open-files`).
pub(crate) fn count(value: &toml::Value) -> Result<usize, String> {
    match value {
        toml::Value::Integer(n) => match usize::try_from(*n) {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err("expected a whole number ≥ 1".to_owned()),
        },
        other => Err(format!(
            "expected a whole number ≥ 1, found {}",
            other.type_str()
        )),
    }
}

/// A string (one key or `none`) or a list of keys.
pub(crate) fn process_keys(value: &toml::Value) -> Result<Vec<KeyArg>, String> {
    let keys = match value {
        toml::Value::String(s) => vec![values::parse_process_key(s)?],
        toml::Value::Array(items) => items
            .iter()
            .map(|item| string(item).and_then(values::parse_process_key))
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "expected a string or a list of strings, found {}",
                other.type_str()
            ));
        }
    };
    values::resolve_process_keys(&keys)?;
    Ok(keys)
}

/// A table level → template.
pub(crate) fn formats(value: &toml::Value) -> Result<Vec<FormatArg>, String> {
    let table = match value {
        toml::Value::Table(table) => table,
        toml::Value::String(s) => {
            return s.parse().map(|l| vec![FormatArg::Lines(l)]).map_err(|_| {
                format!("expected \"json\", \"text\" or a table of templates, found {s:?}")
            });
        }
        _ => {
            return Err(format!(
                "expected \"json\" or a table such as {{ info = \"%(message)s\" }}, found {}",
                value.type_str()
            ));
        }
    };
    let mut out: Vec<(FormatLevel, String)> = Vec::with_capacity(table.len());
    for (level_text, template) in table {
        let level = values::parse_format_level(level_text)?;
        let template = string(template).map_err(|e| format!("level `{level_text}`: {e}"))?;
        if out.iter().any(|(l, _)| *l == level) {
            return Err(format!("level `{level}` given twice"));
        }
        out.push((level, template.to_owned()));
    }
    Ok(out
        .into_iter()
        .map(|(level, template)| FormatArg::Template(level, template))
        .collect())
}
