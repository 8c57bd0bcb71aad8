//! The rotation tests: the usual setup (a temporary folder, a fake clock,
//! UTC names), writing records, files of an earlier run, and what is on
//! disk by file name.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tempfile::TempDir;
use time::OffsetDateTime;
use tracing_mplog_sink::clock::ManualClock;
use tracing_mplog_sink::rotate::{Builder, RotatingFile};

/// A temporary folder holding the log file `t.log`, and a fake clock.
pub struct Setup {
    pub dir: TempDir,
    pub clock: ManualClock,
}

impl Setup {
    /// A fresh folder; the clock reads `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            clock: ManualClock::new(start),
        }
    }

    /// A builder on this clock with boundaries and names in UTC (set
    /// `zone` on it for anything else).
    pub fn builder(&self) -> Builder {
        RotatingFile::builder().utc(true).clock(self.clock.clone())
    }

    /// `dir/t.log`.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("t.log")
    }

    /// Builds `builder` at `dir/t.log`.
    pub fn build(&self, builder: Builder) -> RotatingFile {
        builder.build(self.path()).expect("build")
    }

    /// What is in the folder; see [`listing`].
    pub fn listing(&self) -> Vec<(String, String)> {
        listing(self.dir.path())
    }
}

/// Writes one record through the shared handle, as a `MakeWriter` user does.
pub fn write(file: &RotatingFile, record: &str) {
    (&*file)
        .write_all(record.as_bytes())
        .expect("write a record");
}

/// A file as an earlier run left it: `content`, last written at `modified`.
pub fn leave_file(path: &Path, content: &str, modified: OffsetDateTime) {
    fs::write(path, content).expect("write a file of an earlier run");
    File::options()
        .write(true)
        .open(path)
        .expect("open it")
        .set_modified(SystemTime::from(modified))
        .expect("set its modification time");
}

/// A file's modification time.
pub fn modified(path: &Path) -> OffsetDateTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("modification time")
        .into()
}

/// Every file in `dir` (not recursive), name → content; `.gz` files are
/// decompressed (and must be valid gzip).
pub fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("list the log folder") {
        let entry = entry.expect("folder entry");
        let name = entry.file_name().into_string().expect("UTF-8 file name");
        let bytes = fs::read(entry.path()).expect("read a log file");
        let text = if name.ends_with(".gz") {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .expect("valid gzip");
            text
        } else {
            String::from_utf8(bytes).expect("UTF-8 content")
        };
        out.insert(name, text);
    }
    out
}

/// `files` as (name, content) pairs of string slices, for `assert_eq!`.
pub fn listing(dir: &Path) -> Vec<(String, String)> {
    files(dir).into_iter().collect()
}

/// Owned (name, content) pairs from literals.
pub fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(n, c)| ((*n).to_owned(), (*c).to_owned()))
        .collect();
    v.sort();
    v
}
