//! The end-to-end bench (`examples/bench`) still runs and still counts: a
//! small run of every scenario, and a small scaling run with its chart, in a
//! folder of their own. Nothing here is about speed.

#[path = "peers/rsyslog.rs"]
mod rsyslog;
mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use mplog_test_support::{binary_beside, wait_exit};
use support::WORKER;

/// The bench example, built by `cargo test --workspace` with the other
/// examples into the test worker's target folder (no test runs cargo).
fn bench_exe() -> PathBuf {
    binary_beside(WORKER, "examples/bench", "cargo build --example bench")
}

/// The arguments of a small table run: 2 workers × 3 000 events, `runs`
/// runs, in `root`, then `more`.
fn small<'a>(root: &'a str, runs: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--workers",
        "2",
        "--events",
        "3000",
        "--runs",
        runs,
        "--root",
        root,
    ];
    args.extend_from_slice(more);
    args
}

/// Runs the bench with `args`, killed after `limit`; returns its stdout.
fn run(args: &[&str], limit: Duration) -> (bool, String) {
    let mut child = Command::new(bench_exe())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the bench");
    wait_exit(&mut child, limit, "the bench to finish");
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    (out.status.success(), stdout)
}

#[test]
fn every_scenario_runs_counts_every_line_and_prints_the_targets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().expect("utf-8 temp path");
    let (ok, out) = run(&small(root, "2", &[]), Duration::from_secs(300));
    assert!(ok, "{out}");
    for scenario in [
        "pipeline",
        "pipeline-consolidated",
        "baseline-a",
        "baseline-b",
        "floor",
    ] {
        let row = out
            .lines()
            .find(|l| l.starts_with(&format!("| {scenario} |")))
            .unwrap_or_else(|| panic!("no row for {scenario} in:\n{out}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // | name | runs | events | ... | lost | duplicated | peak RSS | load |
        assert_eq!(cells[2], "2", "runs: {row}");
        assert_eq!(cells[3], "6000", "events: {row}");
        assert_eq!(cells[cells.len() - 5], "0", "lost: {row}");
        assert_eq!(cells[cells.len() - 4], "0", "duplicated: {row}");
    }
    // The issues' targets next to the figures, the CPU per event too.
    for target in [
        "consolidated + per-process ≥ 2.0× baseline A",
        "sink CPU per event ≤ 500 ns (pipeline)",
        "worker CPU per event ≤ 350 ns (pipeline)",
    ] {
        assert!(out.contains(target), "no `{target}` in:\n{out}");
    }
    assert!(out.contains("load before:"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
}

#[test]
fn the_forwarding_rows_deliver_every_record_to_rsyslog_and_the_otlp_receiver() {
    // The bench starts the tests' rsyslog harness, TLS input included.
    if let Some(missing) = rsyslog::missing() {
        rsyslog::skip_unless_ci(&missing);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().expect("utf-8 temp path");
    let only = "pipeline-forward,pipeline-forward-syslog,pipeline-forward-otlp";
    let (ok, out) = run(
        &small(root, "1", &["--only", only]),
        Duration::from_secs(300),
    );
    // A record missing at rsyslog or the receiver fails the scenario.
    assert!(ok, "{out}");
    for scenario in [
        "pipeline-forward",
        "pipeline-forward-syslog",
        "pipeline-forward-otlp",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("| {scenario} |"))),
            "no row for {scenario} in:\n{out}"
        );
    }
}

#[test]
fn the_scaling_run_draws_its_chart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().expect("utf-8 temp path");
    let svg = dir.path().join("scaling.svg");
    let (ok, out) = run(
        &[
            "--scaling",
            "1,2,4",
            "--scaling-total",
            "4000",
            "--runs",
            "1",
            "--root",
            root,
            "--svg",
            svg.to_str().expect("utf-8 temp path"),
        ],
        Duration::from_secs(300),
    );
    assert!(ok, "{out}");
    for workers in [1, 2, 4] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("| {workers} |"))),
            "no row for {workers} workers in:\n{out}"
        );
    }
    let chart = std::fs::read_to_string(&svg).expect("the chart");
    assert!(
        chart.starts_with("<svg"),
        "{}",
        &chart[..chart.len().min(200)]
    );
    assert!(chart.contains("baseline A"), "no legend in the chart");
}
