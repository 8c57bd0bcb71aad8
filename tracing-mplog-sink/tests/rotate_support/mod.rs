//! Helpers shared by the rotation tests: what is on disk, by file name.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

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
