//! Examples and cross-process tests for tracing-mplog.
//!
//! The library half holds what the package's own programs share: the test
//! worker (`src/bin/mplog-test-worker.rs`) and the soak (`examples/soak`)
//! read their command lines with [`flags`].

/// One `--flag value` pair of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The flag, as given (`--events`).
    pub name: String,
    /// The word after it.
    pub value: String,
}

impl Flag {
    /// The value as a whole number; the error names the flag and the value.
    pub fn number(&self) -> Result<u64, String> {
        self.value
            .parse::<u64>()
            .map_err(|e| format!("{} {}: {e}", self.name, self.value))
    }

    /// The error for a flag the program does not know.
    pub fn unknown(&self) -> String {
        format!("unknown flag {}", self.name)
    }
}

/// The `--flag value` pairs of `args` (the program's name left out), for
/// command lines whose every flag takes a value; an error for a flag
/// without one.
pub fn flags(args: impl IntoIterator<Item = String>) -> impl Iterator<Item = Result<Flag, String>> {
    let mut args = args.into_iter();
    std::iter::from_fn(move || {
        let name = args.next()?;
        Some(match args.next() {
            Some(value) => Ok(Flag { name, value }),
            None => Err(format!("{name} needs a value")),
        })
    })
}
