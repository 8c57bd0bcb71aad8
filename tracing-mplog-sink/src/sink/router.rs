//! Which files a record goes to, and what they are called.
//!
//! - consolidated file: `{logdir}/{prefix.}{name}{.suffix}.log`;
//! - per-key file: `{logdir}/{prefix.}{key}{.suffix}.log`, where `key` joins
//!   the values of the configured [`ProcessKey`]s with `.` in the order
//!   given (keys `[Name, Pid]` give `worker-1.4242`).
//!
//! Dots separate only non-empty parts. Key values are sanitised for file
//! names by [`sanitize`]. A record whose per-key file is the consolidated
//! file is written there once.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::record::RecordView;

/// A record attribute whose value selects a per-key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcessKey {
    /// The process name from the worker's hello (`name`).
    Name,
    /// The process id (`pid`).
    Pid,
    /// The event's target (`target`).
    Target,
    /// The host name from the worker's hello (`host`).
    Host,
}

impl fmt::Display for ProcessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProcessKey::Name => "name",
            ProcessKey::Pid => "pid",
            ProcessKey::Target => "target",
            ProcessKey::Host => "host",
        })
    }
}

/// A text that is not `name`, `pid`, `target` or `host`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown process key `{0}` (expected name, pid, target or host)")]
pub struct ParseProcessKeyError(String);

impl FromStr for ProcessKey {
    type Err = ParseProcessKeyError;

    /// Parses `name|pid|target|host`, in any case.
    ///
    /// ```
    /// use tracing_mplog_sink::ProcessKey;
    /// assert_eq!("PID".parse::<ProcessKey>(), Ok(ProcessKey::Pid));
    /// assert!("thread".parse::<ProcessKey>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "name" => ProcessKey::Name,
            "pid" => ProcessKey::Pid,
            "target" => ProcessKey::Target,
            "host" => ProcessKey::Host,
            _ => return Err(ParseProcessKeyError(s.to_owned())),
        })
    }
}

/// Makes a key value usable as (part of) a file name: `/`, `\`, NUL and
/// control characters become `_`, a leading `.` becomes `_` (no hidden
/// files, no `..`), and an empty value becomes `unknown`.
pub(crate) fn sanitize(value: &str, out: &mut String) {
    if value.is_empty() {
        out.push_str("unknown");
        return;
    }
    for (i, c) in value.chars().enumerate() {
        let bad = c == '/' || c == '\\' || c.is_control() || (i == 0 && c == '.');
        out.push(if bad { '_' } else { c });
    }
}

/// The naming and routing rules, fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct Router {
    logdir: PathBuf,
    prefix: String,
    suffix: String,
    keys: Vec<ProcessKey>,
    consolidated: Option<PathBuf>,
    /// The sink's own file when there is no consolidated one.
    own: PathBuf,
}

impl Router {
    pub(crate) fn new(
        logdir: &Path,
        name: &str,
        prefix: &str,
        suffix: &str,
        keys: Vec<ProcessKey>,
        consolidate: bool,
    ) -> Self {
        let mut this = Router {
            logdir: logdir.to_owned(),
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            keys,
            consolidated: None,
            own: PathBuf::new(),
        };
        let mut stem = String::new();
        sanitize(name, &mut stem);
        this.own = this.path_for(&stem);
        if consolidate {
            this.consolidated = Some(this.own.clone());
        }
        this
    }

    fn path_for(&self, key: &str) -> PathBuf {
        let mut file = String::new();
        for part in [self.prefix.as_str(), key, self.suffix.as_str()] {
            if part.is_empty() {
                continue;
            }
            if !file.is_empty() {
                file.push('.');
            }
            file.push_str(part);
        }
        file.push_str(".log");
        self.logdir.join(file)
    }

    /// The consolidated file, if any.
    pub(crate) fn consolidated(&self) -> Option<&Path> {
        self.consolidated.as_deref()
    }

    /// Where the sink's own messages go: the consolidated file if any,
    /// else the per-key file named after the sink.
    pub(crate) fn own_file(&self) -> &Path {
        &self.own
    }

    /// Writes the per-key file's key of `rec` (the sanitised values joined
    /// with `.`) into `out`; `false` when no key is configured.
    pub(crate) fn key(&self, rec: &dyn RecordView, out: &mut String) -> bool {
        self.key_of(rec.process_name(), rec.pid(), rec.target(), rec.host(), out)
    }

    /// [`key`](Self::key) from the parts a key can use.
    pub(crate) fn key_of(
        &self,
        name: &str,
        pid: u32,
        target: &str,
        host: &str,
        out: &mut String,
    ) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        out.clear();
        let mut value = String::new();
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            value.clear();
            match key {
                ProcessKey::Name => value.push_str(name),
                ProcessKey::Pid => {
                    let _ = write!(value, "{pid}");
                }
                ProcessKey::Target => value.push_str(target),
                ProcessKey::Host => value.push_str(host),
            }
            sanitize(&value, out);
        }
        true
    }

    /// Whether the key changes from record to record (it uses the target),
    /// rather than being fixed by the connection's hello.
    pub(crate) fn key_per_record(&self) -> bool {
        self.keys.contains(&ProcessKey::Target)
    }

    /// The per-key file for `key` (from [`key`](Self::key)), or `None` when
    /// it is the consolidated file (so a record is written there once).
    pub(crate) fn key_file(&self, key: &str) -> Option<PathBuf> {
        let path = self.path_for(key);
        if self.consolidated.as_deref() == Some(path.as_path()) {
            return None;
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(v: &str) -> String {
        let mut s = String::new();
        sanitize(v, &mut s);
        s
    }

    #[test]
    fn sanitize_replaces_separators_controls_and_leading_dot() {
        assert_eq!(clean("a/b\\c"), "a_b_c");
        assert_eq!(clean("x\0y\nz"), "x_y_z");
        assert_eq!(clean(".."), "_.");
        assert_eq!(clean(".hidden"), "_hidden");
        assert_eq!(clean(""), "unknown");
        assert_eq!(clean("worker-1"), "worker-1");
    }

    #[test]
    fn process_keys_print_and_parse_back() {
        for key in [
            ProcessKey::Name,
            ProcessKey::Pid,
            ProcessKey::Target,
            ProcessKey::Host,
        ] {
            assert_eq!(key.to_string().parse::<ProcessKey>(), Ok(key));
            assert_eq!(
                key.to_string().to_uppercase().parse::<ProcessKey>(),
                Ok(key)
            );
        }
        let err = "tid".parse::<ProcessKey>().expect_err("unknown");
        assert!(err.to_string().contains("`tid`"), "{err}");
    }

    #[test]
    fn names_join_non_empty_parts_with_dots() {
        let r = Router::new(Path::new("/l"), "app", "", "", vec![], true);
        assert_eq!(r.consolidated(), Some(Path::new("/l/app.log")));
        let r = Router::new(Path::new("/l"), "app", "pre", "suf", vec![], false);
        assert_eq!(r.consolidated(), None);
        assert_eq!(r.own_file(), Path::new("/l/pre.app.suf.log"));
        assert_eq!(r.path_for("w.1"), Path::new("/l/pre.w.1.suf.log"));
    }
}
