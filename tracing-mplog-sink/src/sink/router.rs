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
//!
//! Any key is a file: a key whose file name would be too long (with room
//! for the rotated files' suffixes, see [`FILE_NAME_MAX`]) is cut and given
//! the suffix `~` + 8 hex digits of a stable hash (FNV-1a) of its values;
//! a key whose sanitised name is already taken by another key in this run
//! (`a/b` and `a_b` both sanitise to `a_b`) gets the same suffix. The
//! writer keeps the claims ([`Router::key_file_for`]).

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

/// The longest active file name, in bytes: `NAME_MAX` (255) less room for
/// what rotation appends (`.YYYY-MM-DD_HH-MM-SS.NNNN.gz.tmp`, 32 bytes, and
/// a few digits more for sequence numbers past 9999).
pub(crate) const FILE_NAME_MAX: usize = 255 - 40;

/// The shortest room for a key that the fixed parts of a name must leave.
const MIN_KEY_ROOM: usize = 24;

/// Marks, inside a key, the hash of its values when sanitising changed them
/// (a NUL cannot survive [`sanitize`], so it cannot occur in a key).
const ALTERED: char = '\0';

/// The start of a 64-bit FNV-1a hash.
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The stable 64-bit FNV-1a hash `h` continued over `bytes` (the same in
/// every run and on every platform, unlike the standard library's).
fn fnv1a(mut h: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
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
    /// The longest key that fits [`FILE_NAME_MAX`] with prefix and suffix.
    key_room: usize,
}

impl Router {
    /// The rules; `Err` names the setting whose text leaves no room for a
    /// file name.
    pub(crate) fn new(
        logdir: &Path,
        name: &str,
        prefix: &str,
        suffix: &str,
        keys: Vec<ProcessKey>,
        consolidate: bool,
    ) -> Result<Self, (&'static str, String)> {
        let fixed = [prefix, suffix]
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| p.len() + 1)
            .sum::<usize>()
            + ".log".len();
        let key_room = FILE_NAME_MAX.saturating_sub(fixed);
        if key_room < MIN_KEY_ROOM {
            let field = if prefix.len() >= suffix.len() {
                "file_prefix"
            } else {
                "file_suffix"
            };
            return Err((
                field,
                format!(
                    "prefix and suffix take {fixed} of the {FILE_NAME_MAX} bytes a log file name may have; \
                     keys need at least {MIN_KEY_ROOM}"
                ),
            ));
        }
        let mut this = Router {
            logdir: logdir.to_owned(),
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            keys,
            consolidated: None,
            own: PathBuf::new(),
            key_room,
        };
        let mut stem = String::new();
        sanitize(name, &mut stem);
        if stem.len() > key_room {
            return Err((
                "name",
                format!(
                    "{} bytes; with prefix and suffix, a log file name may hold at most {key_room}",
                    stem.len()
                ),
            ));
        }
        this.own = this.path_for(&stem);
        if consolidate {
            this.consolidated = Some(this.own.clone());
        }
        Ok(this)
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

    /// [`key`](Self::key) from the parts a key can use. When sanitising
    /// changed a value, the key carries the hash of the values as they were
    /// (after an internal marker; [`key_file_for`](Self::key_file_for)
    /// reads it).
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
        let value_of = |key: &ProcessKey, value: &mut String| {
            value.clear();
            match key {
                ProcessKey::Name => value.push_str(name),
                ProcessKey::Pid => {
                    let _ = write!(value, "{pid}");
                }
                ProcessKey::Target => value.push_str(target),
                ProcessKey::Host => value.push_str(host),
            }
        };
        let mut altered = false;
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            value_of(key, &mut value);
            let at = out.len();
            sanitize(&value, out);
            altered |= out[at..] != value;
        }
        if altered {
            // Only then is the hash needed: of the values as they were,
            // NUL between them.
            let mut hash = FNV_START;
            for (i, key) in self.keys.iter().enumerate() {
                if i > 0 {
                    hash = fnv1a(hash, [0]);
                }
                value_of(key, &mut value);
                hash = fnv1a(hash, value.bytes());
            }
            let _ = write!(out, "{ALTERED}{hash:016x}");
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
    /// `taken` tells whether another key already writes to a path in this
    /// run; such a key, and one too long for a file name, gets a suffix
    /// from its hash (a second number after it in the unlikely case that
    /// this is taken too).
    pub(crate) fn key_file_for(&self, key: &str, taken: impl Fn(&Path) -> bool) -> Option<PathBuf> {
        let (plain, hash) = match key.split_once(ALTERED) {
            Some((plain, hash)) => (plain, u64::from_str_radix(hash, 16).unwrap_or(0)),
            None => (key, fnv1a(FNV_START, key.bytes())),
        };
        if plain.len() <= self.key_room {
            let path = self.path_for(plain);
            if self.consolidated.as_deref() == Some(path.as_path()) {
                return None;
            }
            if !taken(&path) {
                return Some(path);
            }
        }
        let short = ((hash >> 32) ^ hash) as u32;
        let mut n = 0u32;
        loop {
            let tail = if n == 0 {
                format!("~{short:08x}")
            } else {
                format!("~{short:08x}-{n}")
            };
            let mut cut = self.key_room.saturating_sub(tail.len()).min(plain.len());
            while !plain.is_char_boundary(cut) {
                cut -= 1;
            }
            let path = self.path_for(&format!("{}{tail}", &plain[..cut]));
            if n >= 1000 || !taken(&path) {
                return Some(path);
            }
            n += 1;
        }
    }

    /// [`key_file_for`](Self::key_file_for) with no path taken.
    #[cfg(test)]
    pub(crate) fn key_file(&self, key: &str) -> Option<PathBuf> {
        self.key_file_for(key, |_| false)
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
        let r = Router::new(Path::new("/l"), "app", "", "", vec![], true).expect("router");
        assert_eq!(r.consolidated(), Some(Path::new("/l/app.log")));
        let r = Router::new(Path::new("/l"), "app", "pre", "suf", vec![], false).expect("router");
        assert_eq!(r.consolidated(), None);
        assert_eq!(r.own_file(), Path::new("/l/pre.app.suf.log"));
        assert_eq!(r.path_for("w.1"), Path::new("/l/pre.w.1.suf.log"));
    }

    fn key(r: &Router, name: &str) -> String {
        let mut k = String::new();
        assert!(r.key_of(name, 42, "t", "h", &mut k));
        k
    }

    /// Files in `/l` named by process name, `all` the consolidated one.
    fn named_router(prefix: &str, consolidate: bool) -> Router {
        Router::new(
            Path::new("/l"),
            "all",
            prefix,
            "",
            vec![ProcessKey::Name],
            consolidate,
        )
        .expect("router")
    }

    fn name_of(path: &Path) -> String {
        path.file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned()
    }

    #[test]
    fn a_key_too_long_for_a_file_name_is_cut_with_a_stable_hash() {
        let r = named_router("pre", true);
        let long = "é".repeat(150); // 300 bytes
        let path = r.key_file(&key(&r, &long)).expect("a per-key file");
        let name = name_of(&path);
        assert!(name.len() <= FILE_NAME_MAX, "{} bytes", name.len());
        assert!(name.starts_with("pre.éé"), "{name}");
        let tail = name
            .trim_end_matches(".log")
            .rsplit_once('~')
            .expect("hash")
            .1;
        assert_eq!(tail.len(), 8, "{name}");
        // Stable: the same name from another router (another run), and
        // another name for another long key.
        let again = named_router("pre", true);
        assert_eq!(again.key_file(&key(&again, &long)), Some(path.clone()));
        let other = format!("{long}x");
        assert_ne!(r.key_file(&key(&r, &other)), Some(path));
        // Short keys keep their plain names.
        assert_eq!(
            r.key_file(&key(&r, "job-1")),
            Some(PathBuf::from("/l/pre.job-1.log"))
        );
    }

    #[test]
    fn keys_whose_sanitised_names_collide_get_apart() {
        let r = named_router("", false);
        let first = r.key_file(&key(&r, "a/b")).expect("file");
        assert_eq!(first, Path::new("/l/a_b.log"));
        // `a_b` needs no sanitising, but its name is taken: it gets a hash.
        let taken = |p: &Path| p == first;
        let second = r.key_file_for(&key(&r, "a_b"), taken).expect("file");
        assert_ne!(second, first);
        assert!(name_of(&second).starts_with("a_b~"), "{second:?}");
        // `a\b` too, with another hash.
        let third = r.key_file_for(&key(&r, "a\\b"), taken).expect("file");
        assert!(name_of(&third).starts_with("a_b~"), "{third:?}");
        assert_ne!(third, second);
    }

    #[test]
    fn fixed_parts_that_leave_no_room_name_their_setting() {
        let long = "p".repeat(300);
        let err = Router::new(Path::new("/l"), "all", &long, "", vec![], true).expect_err("long");
        assert_eq!(err.0, "file_prefix");
        let err = Router::new(Path::new("/l"), &long, "", "", vec![], true).expect_err("long");
        assert_eq!(err.0, "name");
    }
}
