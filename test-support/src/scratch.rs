//! A temporary folder for one test: the sink's socket and log folder in
//! it, and its files read back.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::files;

/// A temporary folder (removed when dropped) with the usual places: the
/// socket `run/sink.sock` (its folder made by whoever binds it) and the
/// log folder `logs/`.
#[derive(Debug)]
pub struct Scratch {
    /// The folder.
    pub dir: TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }
}

impl Scratch {
    /// A new, empty folder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The socket: `run/sink.sock`.
    pub fn socket(&self) -> PathBuf {
        self.path().join("run").join("sink.sock")
    }

    /// `unix:` and the socket's path: the endpoint's text.
    pub fn unix_endpoint(&self) -> String {
        format!("unix:{}", self.socket().display())
    }

    /// The log folder: `logs/`.
    pub fn logdir(&self) -> PathBuf {
        self.path().join("logs")
    }

    /// `logs/{file}`.
    pub fn log(&self, file: &str) -> PathBuf {
        self.logdir().join(file)
    }

    /// Writes `text` to `name` in the folder (a config, a token); its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Every line of `logs/{file}`, read strictly (see [`crate::lines`]).
    pub fn lines(&self, file: &str) -> Vec<String> {
        files::lines(self.log(file))
    }

    /// The complete lines of `logs/{file}` so far (see
    /// [`crate::lines_so_far`]).
    pub fn lines_so_far(&self, file: &str) -> Vec<String> {
        files::lines_so_far(self.log(file))
    }

    /// The files of the log `base` in `logs/` (see [`crate::log_files`]).
    pub fn log_files(&self, base: &str) -> Vec<PathBuf> {
        files::log_files(&self.logdir(), base)
    }

    /// Every line of the log `base`, rotated files first (see
    /// [`crate::log_lines`]).
    pub fn log_lines(&self, base: &str) -> Vec<String> {
        files::log_lines(&self.logdir(), base)
    }

    /// The complete lines of the log `base` so far (see
    /// [`crate::log_lines_so_far`]).
    pub fn log_lines_so_far(&self, base: &str) -> Vec<String> {
        files::log_lines_so_far(&self.logdir(), base)
    }

    /// The names of the files in `logs/`, sorted.
    pub fn file_names(&self) -> Vec<String> {
        files::file_names(&self.logdir())
    }
}
