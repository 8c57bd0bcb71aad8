//! Tests whose real peer (rsyslog, Prometheus, Python) may be missing.

/// For a test whose peer is missing (`missing` says what, and what to
/// install): outside CI prints the one line `skipped: MISSING`; with `CI`
/// set it panics, so that CI cannot skip the test silently (`.ci/run`
/// installs the peers).
pub fn skip_unless_ci(missing: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{missing}, and CI is set (.ci/run installs it)"
    );
    eprintln!("skipped: {missing}");
}
