//! JSON log files with real processes: the `mplog-sink` binary with
//! `format = "json"` (config file) or `--format json`, and test workers in
//! `json-twin` mode, which log typed events in spans to the sink and the
//! same events to `tracing_subscriber::fmt().json()` in a file of their
//! own. Every line of every file must parse, and match fmt's line for the
//! same event key by key, apart from the keys the sink adds and what only
//! the two processes' clocks and thread numbering can differ in.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

use mplog_test_support::{RunningSink, SpawnGuarded, wait_ok};
use support::{Setup, sink_bin};

const EVENTS: u64 = 12;

/// One line's object.
type Object = Map<String, Value>;
/// The log folder's files, by name, with their objects.
type Files = Vec<(String, Vec<Object>)>;

/// The JSON objects of a file, each line checked to parse.
fn objects(path: &Path) -> Vec<Map<String, Value>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("{}: not a JSON object: {other:?}\n{l}", path.display()),
        })
        .collect()
}

/// Runs the sink (`args` and a config file `config`) with two json-twin
/// workers; returns the log folder's files' objects by file name, and
/// each worker's fmt().json() objects.
fn run(s: &Setup, config: &str, args: &[&str]) -> (Files, [Vec<Object>; 2]) {
    let file = s.path().join("sink.toml");
    std::fs::write(&file, config).expect("write the config");
    let mut cmd = Command::new(sink_bin());
    cmd.arg(format!("--listen=unix:{}", s.socket().display()))
        .arg(format!("--logdir={}", s.logdir().display()))
        .arg(format!("--config={}", file.display()))
        .args(["--name", "all", "--consolidate", "--process-key", "name"])
        .args(args);
    let sink = RunningSink::start(cmd);
    sink.wait_prefix("listening on unix:");
    let twin = |id: u64| s.path().join(format!("fmt-{id}.json"));
    let mode = |id: u64| format!("json-twin:{}", twin(id).display());
    drop((
        wait_ok(s.worker(1, EVENTS, &["--mode", &mode(1)]).spawn_guarded()),
        wait_ok(s.worker(2, EVENTS, &["--mode", &mode(2)]).spawn_guarded()),
    ));
    let stderr = sink.stop();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(s.logdir()).expect("the log folder") {
        let path = entry.expect("an entry").path();
        // The acknowledgement marks (`.all.seq`) are no log file.
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        files.push((name.unwrap_or_default(), objects(&path)));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!files.is_empty(), "no files; sink stderr:\n{stderr}");
    (files, [objects(&twin(1)), objects(&twin(2))])
}

/// Checks `ours` (the sink's line) against `theirs` (fmt's, same event).
fn same_event(ours: &Map<String, Value>, theirs: &Map<String, Value>, worker: &str) {
    let mut ours = ours.clone();
    let mut theirs = theirs.clone();
    assert_eq!(ours.remove("process"), Some(Value::from(worker)));
    assert!(ours.remove("pid").is_some_and(|p| p.as_u64().is_some()));
    assert!(ours.remove("host").is_some_and(|h| h.is_string()));
    // Both RFC 3339 in UTC with microseconds, read by two layers of the
    // same process a moment apart.
    let shape = |v: Option<Value>| {
        let s = v
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let digits: String = s
            .chars()
            .map(|c| if c.is_ascii_digit() { '0' } else { c })
            .collect();
        (digits, s.get(..16).map(str::to_owned))
    };
    let (o, t) = (
        shape(ours.remove("timestamp")),
        shape(theirs.remove("timestamp")),
    );
    assert_eq!(o.0, "0000-00-00T00:00:00.000000Z");
    assert_eq!(o, t, "timestamps");
    // fmt numbers threads as std does (ThreadId(1)); a frame carries the
    // OS thread id: the same shape, not the same number.
    let (o, t) = (
        shape(ours.remove("threadId")),
        shape(theirs.remove("threadId")),
    );
    let id_shape = |s: &str| s.replace('0', "");
    assert_eq!(id_shape(&o.0), "ThreadId()");
    assert_eq!(id_shape(&t.0), "ThreadId()");
    assert_eq!(
        Value::Object(ours.clone()),
        Value::Object(theirs.clone()),
        "\n ours:   {ours:?}\n theirs: {theirs:?}"
    );
}

fn check(files: &[(String, Vec<Map<String, Value>>)], twins: &[Vec<Map<String, Value>>; 2]) {
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["all.log", "worker-1.log", "worker-2.log"]);
    for (i, twin) in twins.iter().enumerate() {
        let worker = format!("worker-{}", i + 1);
        assert_eq!(
            twin.len() as u64,
            EVENTS + 2,
            "{worker}'s fmt().json() lines"
        );
        let of_worker = |objs: &[Map<String, Value>]| -> Vec<Map<String, Value>> {
            objs.iter()
                .filter(|o| o.get("process") == Some(&Value::from(worker.as_str())))
                .cloned()
                .collect()
        };
        let consolidated = of_worker(&files[0].1);
        let own = &files[i + 1].1;
        assert_eq!(&consolidated, own, "{worker}: all.log and its own file");
        assert_eq!(own.len(), twin.len(), "{worker}: one line per event");
        for (ours, theirs) in own.iter().zip(twin) {
            same_event(ours, theirs, &worker);
        }
    }
}

#[test]
fn json_files_match_fmt_json_for_the_same_events() {
    let s = Setup::new();
    let (files, twins) = run(&s, "format = \"json\"\n", &[]);
    check(&files, &twins);
    // What the comparison covered: typed fields, both spans, no message.
    let w1 = &files[1].1;
    assert_eq!(w1[0]["fields"]["ratio"], Value::from(0.25));
    assert_eq!(w1[0]["spans"][1]["name"], "step");
    assert_eq!(w1[0]["span"]["n"], Value::from(1));
    let last = &w1[w1.len() - 1];
    assert!(last["fields"].get("message").is_none(), "{last:?}");
    assert_eq!(w1[w1.len() - 2]["fields"]["nan"], Value::Null);
}

#[test]
fn the_format_flag_chooses_json_over_the_files_templates() {
    let s = Setup::new();
    let (files, twins) = run(
        &s,
        "[format]\ndefault = \"%(message)s\"\n",
        &["--format", "json"],
    );
    check(&files, &twins);
}
