//! Names of rotated files, and finding them on disk.
//!
//! A rotated file is named `<file name>.<stamp>.<seq>[.gz]`, for example
//! `app.log.2024-03-10_00-00-00.0000` then `app.log.2024-03-10_00-00-00.0001`
//! for a second size rotation in the same period, and
//! `app.log.2024-03-11_00-00-00.0000.gz` once compressed:
//!
//! - `stamp` is the start of the period the file belongs to on the zone's
//!   wall clock, `YYYY-MM-DD_HH-MM-SS` (with `when=never`, the rotation
//!   instant);
//! - `seq` counts rotations that share a stamp, zero-padded to 4 digits.
//!
//! Names only grow: a stamp earlier than the last one used (a DST
//! fall-back, a clock set back) reuses the last stamp with the next
//! sequence number, and a name that exists (compressed or not) is skipped.
//! So sorting names sorts files chronologically, and nothing is overwritten.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use time::PrimitiveDateTime;

const STAMP_LEN: usize = "YYYY-MM-DD_HH-MM-SS".len();
const SEQ_WIDTH: usize = 4;
const GZ: &str = ".gz";
const TMP: &str = ".tmp";

/// A civil time as it appears in file names.
pub(crate) fn stamp(civil: PrimitiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}_{:02}-{:02}-{:02}",
        civil.year(),
        u8::from(civil.month()),
        civil.day(),
        civil.hour(),
        civil.minute(),
        civil.second()
    )
}

/// `<base>.<stamp>.<seq>` (without `.gz`).
pub(crate) fn rotated_name(base: &str, stamp: &str, seq: u64) -> String {
    format!("{base}.{stamp}.{seq:0SEQ_WIDTH$}")
}

/// The temporary name a compression writes to before renaming to `.gz`.
pub(crate) fn gz_tmp_path(rotated: &Path) -> PathBuf {
    let mut name = rotated.as_os_str().to_owned();
    name.push(GZ);
    name.push(TMP);
    PathBuf::from(name)
}

/// `rotated` with `.gz` appended.
pub(crate) fn gz_path(rotated: &Path) -> PathBuf {
    let mut name = rotated.as_os_str().to_owned();
    name.push(GZ);
    PathBuf::from(name)
}

/// A rotated file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rotated {
    pub(crate) path: PathBuf,
    pub(crate) stamp: String,
    pub(crate) seq: u64,
    pub(crate) gz: bool,
    /// An unfinished compression (`.gz.tmp`), left by a crash.
    pub(crate) tmp: bool,
}

impl Rotated {
    /// Chronological order: stamp, then sequence number.
    pub(crate) fn key(&self) -> (&str, u64) {
        (&self.stamp, self.seq)
    }
}

fn is_stamp(s: &str) -> bool {
    s.len() == STAMP_LEN
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 | 13 | 16 => b == b'-',
            10 => b == b'_',
            _ => b.is_ascii_digit(),
        })
}

/// Parses a file name of the rotated-file pattern for `base`.
pub(crate) fn parse(base: &str, name: &str) -> Option<(String, u64, bool, bool)> {
    let rest = name.strip_prefix(base)?.strip_prefix('.')?;
    let (rest, tmp) = match rest.strip_suffix(TMP) {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (rest, gz) = match rest.strip_suffix(GZ) {
        Some(r) => (r, true),
        None => (rest, false),
    };
    if tmp && !gz {
        return None;
    }
    let (stamp, seq) = rest.split_once('.')?;
    if !is_stamp(stamp) || seq.len() < SEQ_WIDTH || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stamp.to_owned(), seq.parse().ok()?, gz, tmp))
}

/// Every rotated file of `base` in `dir`, oldest first. A missing folder
/// has none.
pub(crate) fn list(dir: &Path, base: &str) -> io::Result<Vec<Rotated>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((stamp, seq, gz, tmp)) = parse(base, name) {
            found.push(Rotated {
                path: entry.path(),
                stamp,
                seq,
                gz,
                tmp,
            });
        }
    }
    found.sort_by(|a, b| a.key().cmp(&b.key()).then(a.gz.cmp(&b.gz)));
    Ok(found)
}

/// Hands out rotated names that only grow and never exist yet.
#[derive(Debug)]
pub(crate) struct Namer {
    dir: PathBuf,
    base: String,
    last: Option<(String, u64)>,
}

impl Namer {
    /// Starts after the newest rotated file already in `dir`.
    pub(crate) fn new(dir: &Path, base: &str) -> io::Result<Self> {
        let last = list(dir, base)?
            .into_iter()
            .filter(|r| !r.tmp)
            .map(|r| (r.stamp, r.seq))
            .max();
        Ok(Self {
            dir: dir.to_owned(),
            base: base.to_owned(),
            last,
        })
    }

    /// The path for the next file rotated out of the period stamped
    /// `stamp`; call [`Namer::commit`] once the rename succeeded.
    pub(crate) fn next(&self, stamp: String) -> (PathBuf, String, u64) {
        let (stamp, mut seq) = match &self.last {
            Some((last, last_seq)) if *last >= stamp => (last.clone(), last_seq + 1),
            _ => (stamp, 0),
        };
        loop {
            let path = self.dir.join(rotated_name(&self.base, &stamp, seq));
            let taken =
                path.symlink_metadata().is_ok() || gz_path(&path).symlink_metadata().is_ok();
            if !taken {
                return (path, stamp, seq);
            }
            seq += 1;
        }
    }

    /// Records that `stamp.seq` is now used.
    pub(crate) fn commit(&mut self, stamp: String, seq: u64) {
        self.last = Some((stamp, seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_parse_back_and_sort_chronologically() {
        let s = stamp(datetime!(2024-03-10 07:05:09));
        assert_eq!(s, "2024-03-10_07-05-09");
        let name = rotated_name("app.log", &s, 3);
        assert_eq!(name, "app.log.2024-03-10_07-05-09.0003");
        assert_eq!(parse("app.log", &name), Some((s.clone(), 3, false, false)));
        assert_eq!(
            parse("app.log", &format!("{name}.gz")),
            Some((s.clone(), 3, true, false))
        );
        assert_eq!(
            parse("app.log", &format!("{name}.gz.tmp")),
            Some((s.clone(), 3, true, true))
        );
        for other in [
            "app.log",
            "app.log.1",
            "app.log.2024-03-10",
            "app.log.2024-03-10_07-05-09",
            "app.log.2024-03-10_07-05-09.01",
            "app.log.2024-03-10_07-05-09.0001.tmp",
            "app.log.2024-03-10_07:05:09.0001",
            "app.logx.2024-03-10_07-05-09.0001",
            "other.log.2024-03-10_07-05-09.0001",
        ] {
            assert_eq!(parse("app.log", other), None, "{other}");
        }
        let mut names = [
            rotated_name("a", &stamp(datetime!(2024-03-10 00:00)), 1),
            rotated_name("a", &stamp(datetime!(2023-12-31 23:59:59)), 0),
            rotated_name("a", &stamp(datetime!(2024-03-10 00:00)), 0),
            rotated_name("a", &stamp(datetime!(2024-03-09 10:00)), 12),
        ];
        names.sort();
        let keys: Vec<_> = names.iter().filter_map(|n| parse("a", n)).collect();
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        assert_eq!(keys, sorted);
    }

    #[test]
    fn namer_skips_existing_names_and_never_goes_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s1 = stamp(datetime!(2024-01-01 00:00));
        let s0 = stamp(datetime!(2023-12-31 00:00));
        fs::write(dir.path().join(rotated_name("t.log", &s1, 0)), "x").expect("write");
        fs::write(
            dir.path()
                .join(format!("{}.gz", rotated_name("t.log", &s1, 1))),
            "x",
        )
        .expect("write");
        let mut namer = Namer::new(dir.path(), "t.log").expect("namer");
        // Continues after the newest on disk.
        let (path, st, seq) = namer.next(s1.clone());
        assert_eq!((st.as_str(), seq), (s1.as_str(), 2));
        assert!(path.ends_with("t.log.2024-01-01_00-00-00.0002"));
        namer.commit(st, seq);
        // An earlier stamp reuses the last one.
        let (_, st, seq) = namer.next(s0);
        assert_eq!((st.as_str(), seq), (s1.as_str(), 3));
        // A name taken behind our back is skipped.
        fs::write(dir.path().join(rotated_name("t.log", &s1, 3)), "x").expect("write");
        let (_, _, seq) = namer.next(s1);
        assert_eq!(seq, 4);
    }
}
