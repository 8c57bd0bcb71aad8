//! Reading what landed in log files: strictly once the writer has stopped,
//! or the complete lines so far while it writes.

use std::fs;
use std::path::{Path, PathBuf};

/// The text of the file at `path`; panics naming the path if it cannot be
/// read.
pub fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The complete lines of `text`, which a writer may still be writing: an
/// unterminated last line is left out (the rest of it is on its way).
pub fn complete_lines(text: &str) -> std::str::Lines<'_> {
    let end = text.rfind('\n').map_or(0, |i| i + 1);
    text[..end].lines()
}

/// Every line of the file at `path`, for the final read once the writer
/// has stopped: panics if the file cannot be read or ends in a torn line.
/// Polls of a file being written use [`lines_so_far`].
pub fn lines(path: impl AsRef<Path>) -> Vec<String> {
    let path = path.as_ref();
    let text = read(path);
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} ends in a torn line",
        path.display()
    );
    text.lines().map(str::to_owned).collect()
}

/// The complete lines of the file at `path` so far (see
/// [`complete_lines`]); none if it does not exist (yet, or any more).
pub fn lines_so_far(path: impl AsRef<Path>) -> Vec<String> {
    fs::read_to_string(path)
        .map(|text| complete_lines(&text).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The files of the log `base` in `logdir`, in write order: the rotated
/// ones (`{base}.…`, whose names sort chronologically), then `base` itself
/// if it exists.
pub fn log_files(logdir: &Path, base: &str) -> Vec<PathBuf> {
    let rotated_prefix = format!("{base}.");
    let mut files: Vec<PathBuf> = fs::read_dir(logdir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&rotated_prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let active = logdir.join(base);
    if active.exists() {
        files.push(active);
    }
    files
}

/// Every line of the log `base` in `logdir`, rotated files first (see
/// [`log_files`]), read strictly as [`lines`] does; none if there is no
/// such log.
pub fn log_lines(logdir: &Path, base: &str) -> Vec<String> {
    log_files(logdir, base).iter().flat_map(lines).collect()
}

/// The complete lines of the log `base` in `logdir` so far, for polls
/// while the sink writes (see [`lines_so_far`]); a file rotated away
/// between listing and reading is skipped.
pub fn log_lines_so_far(logdir: &Path, base: &str) -> Vec<String> {
    log_files(logdir, base)
        .iter()
        .flat_map(lines_so_far)
        .collect()
}

/// The names of the files directly in `dir`, sorted; panics if it cannot
/// be listed.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("folder entry")
                .file_name()
                .into_string()
                .expect("UTF-8 file name")
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_left_out_until_it_ends() {
        assert_eq!(complete_lines("a\nb\nc").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(complete_lines("a\nb\n").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(complete_lines("a").count(), 0);
    }

    #[test]
    fn a_log_reads_rotated_files_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("all.log"), "3\n").expect("write");
        fs::write(dir.path().join("all.log.2024-01-01_00-00-01"), "2\n").expect("write");
        fs::write(dir.path().join("all.log.2024-01-01_00-00-00"), "1\n").expect("write");
        fs::write(dir.path().join("other.log"), "x\n").expect("write");
        assert_eq!(log_lines(dir.path(), "all.log"), ["1", "2", "3"]);
        fs::write(dir.path().join("all.log"), "3\n4").expect("write");
        assert_eq!(log_lines_so_far(dir.path(), "all.log"), ["1", "2", "3"]);
        assert!(std::panic::catch_unwind(|| log_lines(dir.path(), "all.log")).is_err());
        assert!(log_lines(dir.path(), "none.log").is_empty());
    }
}
