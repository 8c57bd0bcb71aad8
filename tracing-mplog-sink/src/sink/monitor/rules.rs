//! [`AlertRule`]: one `[[alert]]` table, checked whole at start.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use globset::{Glob, GlobMatcher};
use regex::Regex;
use tracing_core::Level;

/// What an alert rule fires on (the `on` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertOn {
    /// A process's connection ended without a goodbye (killed, crashed).
    UncleanDisconnect,
    /// A connected process logged nothing for [`AlertRule::after`].
    Silence,
    /// At least [`AlertRule::count`] records at [`AlertRule::level`] or
    /// above within [`AlertRule::window`], per process.
    Level,
    /// A written line matches [`AlertRule::regex`].
    Match,
    /// A worker reported events it dropped.
    Dropped,
}

impl AlertOn {
    /// The name used in the config file and the firing's `on` field.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertOn::UncleanDisconnect => "unclean-disconnect",
            AlertOn::Silence => "silence",
            AlertOn::Level => "level",
            AlertOn::Match => "match",
            AlertOn::Dropped => "dropped",
        }
    }
}

impl fmt::Display for AlertOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertOn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "unclean-disconnect" => AlertOn::UncleanDisconnect,
            "silence" => AlertOn::Silence,
            "level" => AlertOn::Level,
            "match" => AlertOn::Match,
            "dropped" => AlertOn::Dropped,
            other => {
                return Err(format!(
                    "unknown `{other}` (one of unclean-disconnect, silence, level, match, dropped)"
                ));
            }
        })
    }
}

/// An alert rule and its actions (see `docs/monitoring.md`).
///
/// | field | default | meaning |
/// |---|---|---|
/// | `process` | every process | glob on the process name |
/// | `level`, `count`, `window` | `ERROR`, 1, 1 min | `level` rules: this many records at `level` or above within `window` |
/// | `after` | 30 s | `silence` rules: how long a connected process must log nothing |
/// | `regex` | — (required for `match`) | on each written line |
/// | `cooldown` | 1 min | at most one firing per rule and process per cooldown |
/// | `log` | none | append the firing as a JSON line (relative to the log folder) |
/// | `command` | none | run it: the firing as JSON on stdin, `MPLOG_ALERT_*` in its environment |
/// | `webhook` | none | POST the firing as JSON to this `http://` URL |
///
/// ```
/// use tracing_mplog_sink::sink::{AlertOn, AlertRule};
/// let mut rule = AlertRule::new("panics", AlertOn::Match);
/// rule.regex = Some("panicked at".into());
/// rule.log = Some("alerts.jsonl".into());
/// assert!(rule.validate().is_ok());
/// rule.regex = Some("(".into());
/// assert_eq!(rule.validate().unwrap_err().key, "regex");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlertRule {
    /// The rule's name (`alert` of every firing).
    pub name: String,
    /// What it fires on.
    pub on: AlertOn,
    /// Glob on the process name; `None`: every process.
    pub process: Option<String>,
    /// `level` rules: the least severe level counted.
    pub level: Level,
    /// `level` rules: records needed within `window`.
    pub count: u64,
    /// `level` rules: the sliding window.
    pub window: Duration,
    /// `silence` rules: quiet time before firing.
    pub after: Duration,
    /// `match` rules: the regular expression (regex crate syntax).
    pub regex: Option<String>,
    /// At most one firing per rule and process per cooldown.
    pub cooldown: Duration,
    /// Action: a JSON-lines file, relative to the log folder.
    pub log: Option<PathBuf>,
    /// Action: a program and its arguments.
    pub command: Vec<String>,
    /// Action: an `http://HOST:PORT/PATH` URL to POST to.
    pub webhook: Option<String>,
}

/// A rule that cannot work, naming the rule and the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alert `{rule}`: key `{key}`: {reason}")]
#[non_exhaustive]
pub struct AlertError {
    /// The rule's name.
    pub rule: String,
    /// The key at fault.
    pub key: &'static str,
    /// Why.
    pub reason: String,
}

impl AlertRule {
    /// A rule with the defaults of the table and no action.
    pub fn new(name: impl Into<String>, on: AlertOn) -> Self {
        AlertRule {
            name: name.into(),
            on,
            process: None,
            level: Level::ERROR,
            count: 1,
            window: Duration::from_secs(60),
            after: Duration::from_secs(30),
            regex: None,
            cooldown: Duration::from_secs(60),
            log: None,
            command: Vec::new(),
            webhook: None,
        }
    }

    /// Checks every key.
    ///
    /// # Errors
    ///
    /// [`AlertError`] naming the first key at fault.
    pub fn validate(&self) -> Result<(), AlertError> {
        Compiled::new(self).map(|_| ())
    }

    fn error(&self, key: &'static str, reason: impl Into<String>) -> AlertError {
        AlertError {
            rule: self.name.clone(),
            key,
            reason: reason.into(),
        }
    }
}

/// A checked rule with its glob and regex compiled.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) rule: AlertRule,
    pub(crate) glob: Option<GlobMatcher>,
    pub(crate) regex: Option<Regex>,
    pub(crate) webhook: Option<Url>,
}

/// A parsed `http://` URL.
#[derive(Debug, Clone)]
pub(crate) struct Url {
    /// `host:port`, for connecting and the `Host` header.
    pub(crate) authority: String,
    pub(crate) path: String,
}

impl Compiled {
    pub(crate) fn new(rule: &AlertRule) -> Result<Self, AlertError> {
        if rule.name.is_empty() {
            return Err(rule.error("name", "must not be empty"));
        }
        let glob = match &rule.process {
            Some(p) => Some(
                Glob::new(p)
                    .map_err(|e| rule.error("process", format!("bad glob {p:?}: {e}")))?
                    .compile_matcher(),
            ),
            None => None,
        };
        let regex = match &rule.regex {
            Some(r) => {
                Some(Regex::new(r).map_err(|e| rule.error("regex", format!("bad regex: {e}")))?)
            }
            None if rule.on == AlertOn::Match => {
                return Err(rule.error("regex", "required for on = \"match\""));
            }
            None => None,
        };
        if rule.on == AlertOn::Level {
            if rule.count == 0 {
                return Err(rule.error("count", "must be at least 1"));
            }
            if rule.window.is_zero() {
                return Err(rule.error("window", "must be longer than 0"));
            }
        }
        if rule.on == AlertOn::Silence && rule.after.is_zero() {
            return Err(rule.error("after", "must be longer than 0"));
        }
        if rule.command.first().is_some_and(String::is_empty) {
            return Err(rule.error("command", "the program name is empty"));
        }
        if rule.log.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(rule.error("log", "the file name is empty"));
        }
        let webhook = match &rule.webhook {
            Some(url) => Some(parse_url(url).map_err(|why| rule.error("webhook", why))?),
            None => None,
        };
        Ok(Compiled {
            rule: rule.clone(),
            glob,
            regex,
            webhook,
        })
    }

    /// Whether the rule watches a process of this name.
    pub(crate) fn applies_to(&self, process: &str) -> bool {
        self.glob.as_ref().is_none_or(|g| g.is_match(process))
    }
}

fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'))
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok(Url {
        authority,
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_key_is_named() {
        let mut r = AlertRule::new("x", AlertOn::Match);
        assert_eq!(r.validate().expect_err("an error").key, "regex");
        r.regex = Some("a".into());
        r.process = Some("w[".into());
        assert_eq!(r.validate().expect_err("an error").key, "process");
        r.process = Some("w*".into());
        r.webhook = Some("https://x/".into());
        assert_eq!(r.validate().expect_err("an error").key, "webhook");
        r.webhook = Some("http://127.0.0.1:9/hook".into());
        assert!(r.validate().is_ok());
        assert!("nope".parse::<AlertOn>().is_err());
        assert_eq!("silence".parse::<AlertOn>(), Ok(AlertOn::Silence));
    }

    #[test]
    fn urls_get_a_port_and_a_path() {
        let u = parse_url("http://localhost").expect("valid");
        assert_eq!(
            (u.authority.as_str(), u.path.as_str()),
            ("localhost:80", "/")
        );
        let u = parse_url("http://[::1]:81/a/b").expect("valid");
        assert_eq!(
            (u.authority.as_str(), u.path.as_str()),
            ("[::1]:81", "/a/b")
        );
    }
}
