//! Differential test: Python-syntax templates render byte for byte as
//! CPython's `logging.Formatter` renders them.
//!
//! A few thousand random templates (every conversion, flags `#0- +`, widths,
//! precisions, `%%`, on text, integer and float placeholders) and random
//! records are made from a fixed seed, rendered by
//! `LevelFormatter::format_record`, and sent as JSON to one `python3`
//! process (standard library only) that renders the same records with
//! `logging.Formatter(template).formatMessage`: `created` and `msecs` as
//! `LogRecord` computes them from the nanoseconds, `asctime` with
//! `datetime.strftime` as acrilog does, UTC. Level names are ours on both
//! sides (`WARN`, see `docs/formatter.md`). A template we refuse must be one
//! Python raises on. Skipped, with a message, where `python3` is absent.

use std::fmt;
use std::io::{Read, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use mplog_test_support::wait_exit;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing_core::Level;
use tracing_mplog_sink::format::LevelFormatter;
use tracing_mplog_sink::record::RecordView;

const CASES: usize = 3000;
const SEED: u64 = 0x6d70_6c6f_6731_3006;
const PYTHON_TIMEOUT: Duration = Duration::from_secs(300);

/// Renders every case of the JSON list read from stdin; prints a JSON list
/// of `{"ok": line}` or `{"error": "TypeError: …"}`.
const PYTHON: &str = r#"
import datetime, json, logging, sys

UTC = datetime.timezone.utc
results = []
for case in json.load(sys.stdin):
    ns = case["ns"]
    values = dict(case["values"])
    values["created"] = ns / 1e9
    values["msecs"] = (ns % 1_000_000_000) // 1_000_000 + 0.0
    when = datetime.datetime.fromtimestamp(ns // 10**9, tz=UTC).replace(
        microsecond=(ns // 1000) % 10**6)
    values["asctime"] = values["time"] = when.strftime(case["datefmt"])
    record = logging.makeLogRecord(values)
    try:
        formatter = logging.Formatter(case["template"], style="%")
        results.append({"ok": formatter.formatMessage(record)})
    except Exception as e:
        results.append({"error": f"{type(e).__name__}: {e}"})
json.dump(results, sys.stdout)
"#;

/// A seeded SplitMix64: the same cases on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Characters for text values: quotes and backslashes, control characters,
/// Latin-1, non-printable and printable BMP, astral, unassigned.
const CHARS: &[char] = &[
    'a',
    'Z',
    '0',
    ' ',
    '\'',
    '"',
    '\\',
    '%',
    '{',
    '}',
    '\n',
    '\t',
    '\r',
    '\0',
    '\x1b',
    '\x7f',
    '\u{80}',
    '\u{a0}',
    '\u{ad}',
    'é',
    'ÿ',
    'Ā',
    '€',
    '中',
    '\u{2028}',
    '\u{200b}',
    '\u{378}',
    '\u{e000}',
    '\u{fffd}',
    '𝄞',
    '😀',
    '\u{e0001}',
    '\u{10ffff}',
];

fn text(rng: &mut Rng, max: usize) -> String {
    (0..rng.below(max + 1))
        .map(|_| {
            if rng.chance(60) {
                (b'a' + rng.below(26) as u8) as char
            } else {
                rng.pick(CHARS)
            }
        })
        .collect()
}

/// A record with every part random.
#[derive(Clone, Debug)]
struct Rec {
    ns: i128,
    level: Level,
    target: String,
    module: Option<String>,
    file: Option<String>,
    line: Option<u32>,
    pid: u32,
    process_name: String,
    thread_name: Option<String>,
    thread_id: u64,
    host: String,
    msg: String,
    fields: String,
    spans: Vec<String>,
}

const LEVELS: [(Level, i64); 5] = [
    (Level::TRACE, 5),
    (Level::DEBUG, 10),
    (Level::INFO, 20),
    (Level::WARN, 30),
    (Level::ERROR, 40),
];

fn record(rng: &mut Rng) -> Rec {
    // Up to 2100, sometimes on whole seconds, milliseconds or microseconds.
    let mut ns = (rng.next() % 4_102_444_800_000_000_000) as i128;
    match rng.below(4) {
        0 => ns -= ns % 1_000_000_000,
        1 => ns -= ns % 1_000_000,
        2 => ns -= ns % 1_000,
        _ => {}
    }
    let numbers = [0, 1, 7, 42, 65_535, u64::from(u32::MAX), 1 << 53, u64::MAX];
    Rec {
        ns,
        level: LEVELS[rng.below(5)].0,
        target: text(rng, 12),
        module: rng.chance(80).then(|| text(rng, 12)),
        file: rng
            .chance(80)
            .then(|| format!("src/{}/{}.rs", text(rng, 4), text(rng, 6))),
        line: rng.chance(90).then(|| rng.next() as u32 % 100_000),
        pid: if rng.chance(20) {
            rng.pick(&numbers) as u32
        } else {
            rng.next() as u32 % 4_194_304
        },
        process_name: text(rng, 10),
        thread_name: rng.chance(70).then(|| text(rng, 8)),
        thread_id: if rng.chance(30) {
            rng.pick(&numbers)
        } else {
            rng.next()
        },
        host: text(rng, 8),
        msg: text(rng, 20),
        fields: if rng.chance(40) {
            format!("k={}", rng.below(1000))
        } else {
            String::new()
        },
        spans: (0..rng.below(3)).map(|_| text(rng, 6)).collect(),
    }
}

impl Rec {
    fn message(&self) -> String {
        match (self.msg.is_empty(), self.fields.is_empty()) {
            (_, true) => self.msg.clone(),
            (true, false) => self.fields.clone(),
            (false, false) => format!("{} {}", self.msg, self.fields),
        }
    }

    /// Every placeholder's value but the times, under both names, as the
    /// attributes of a Python `LogRecord`.
    fn python_values(&self) -> Value {
        let levelno = LEVELS.iter().find(|(l, _)| *l == self.level).map(|p| p.1);
        let file = self.file.clone().unwrap_or_default();
        let filename = file.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
        let span = self
            .spans
            .last()
            .cloned()
            .unwrap_or_else(|| "<module>".to_owned());
        let module = self.module.clone().unwrap_or_else(|| self.target.clone());
        let thread_name = self
            .thread_name
            .clone()
            .unwrap_or_else(|| "<unnamed>".to_owned());
        json!({
            "levelname": self.level.as_str(), "level": self.level.as_str(),
            "levelno": levelno,
            "message": self.message(), "msg": self.msg, "fields": self.fields,
            "spans": self.spans.join(":"),
            "funcName": span, "span": span,
            "name": self.target, "target": self.target,
            "module": module, "module_path": module,
            "pathname": file, "file": file, "filename": filename,
            "lineno": self.line.unwrap_or(0), "line": self.line.unwrap_or(0),
            "process": self.pid, "pid": self.pid,
            "processName": self.process_name, "process_name": self.process_name,
            "threadName": thread_name, "thread_name": thread_name,
            "thread": self.thread_id, "thread_id": self.thread_id,
            "host": self.host,
        })
    }
}

impl RecordView for Rec {
    fn timestamp(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.ns).expect("in range")
    }
    fn level(&self) -> Level {
        self.level
    }
    fn target(&self) -> &str {
        &self.target
    }
    fn module_path(&self) -> Option<&str> {
        self.module.as_deref()
    }
    fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }
    fn line(&self) -> Option<u32> {
        self.line
    }
    fn pid(&self) -> u32 {
        self.pid
    }
    fn process_name(&self) -> &str {
        &self.process_name
    }
    fn thread_name(&self) -> Option<&str> {
        self.thread_name.as_deref()
    }
    fn thread_id(&self) -> u64 {
        self.thread_id
    }
    fn host(&self) -> &str {
        &self.host
    }
    fn write_message(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str(&self.msg)
    }
    fn write_fields(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str(&self.fields)
    }
    fn has_fields(&self) -> bool {
        !self.fields.is_empty()
    }
    fn innermost_span(&self) -> Option<&str> {
        self.spans.last().map(String::as_str)
    }
    fn write_spans(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str(&self.spans.join(":"))
    }
}

const TEXT_NAMES: &[&str] = &[
    "asctime",
    "time",
    "levelname",
    "level",
    "message",
    "msg",
    "fields",
    "spans",
    "funcName",
    "span",
    "name",
    "target",
    "module",
    "module_path",
    "pathname",
    "file",
    "filename",
    "processName",
    "process_name",
    "threadName",
    "thread_name",
    "host",
];
const INT_NAMES: &[&str] = &[
    "levelno",
    "lineno",
    "line",
    "process",
    "pid",
    "thread",
    "thread_id",
];
const FLOAT_NAMES: &[&str] = &["created", "msecs"];

/// One random `%(name)…` placeholder; `valid` false makes one Python
/// raises on (a number conversion of text, `%x` of a float).
fn placeholder(rng: &mut Rng, valid: bool) -> String {
    let (name, convs): (&str, &[char]) = match (rng.below(3), valid) {
        (0, true) => (rng.pick(TEXT_NAMES), &['s', 'r', 'a']),
        (0, false) => (rng.pick(TEXT_NAMES), &['d', 'f', 'x', 'g']),
        (1, _) => (
            rng.pick(INT_NAMES),
            &[
                's', 'r', 'a', 'd', 'i', 'u', 'o', 'x', 'X', 'e', 'E', 'f', 'F', 'g', 'G',
            ],
        ),
        (_, true) => (
            rng.pick(FLOAT_NAMES),
            &['s', 'r', 'a', 'd', 'i', 'u', 'e', 'E', 'f', 'F', 'g', 'G'],
        ),
        (_, false) => (rng.pick(FLOAT_NAMES), &['o', 'x', 'X']),
    };
    let mut p = format!("%({name})");
    for _ in 0..rng.below(4) {
        p.push(rng.pick(&['-', '0', '+', ' ', '#']));
    }
    if rng.chance(50) {
        p.push_str(&rng.below(30).to_string());
    }
    if rng.chance(40) {
        p.push('.');
        if rng.chance(85) {
            p.push_str(&rng.below(20).to_string());
        }
    }
    if rng.chance(5) {
        p.push('l');
    }
    p.push(rng.pick(convs));
    p
}

fn template(rng: &mut Rng) -> String {
    let mut t = String::new();
    let invalid_at = rng.chance(5).then(|| rng.below(3));
    for i in 0..1 + rng.below(3) {
        if rng.chance(50) {
            t.push_str(&text(rng, 4).replace('%', "%%"));
        }
        if rng.chance(10) {
            t.push_str("%%");
        }
        t.push_str(&placeholder(rng, invalid_at != Some(i)));
    }
    if rng.chance(30) {
        t.push_str(&text(rng, 3).replace('%', "%%"));
    }
    t
}

/// Date formats both sides support (Python: `datetime.strftime`, with the C
/// library for everything but `%f` and `%z`).
const DATEFMTS: &[&str] = &[
    "%Y-%m-%d,%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%y %I:%M:%S %p",
    "%a %A %b %B %j %e %u %%",
    "%F %T %D %R %z",
];

/// Whether `python3` can be run here.
fn python3() -> bool {
    match Command::new("python3").arg("--version").output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            println!("skipped: `python3 --version` failed: {}", out.status);
            false
        }
        Err(e) => {
            println!("skipped: no python3 on this machine ({e})");
            false
        }
    }
}

/// Runs [`PYTHON`] on `cases` (bounded by [`PYTHON_TIMEOUT`]).
fn run_python(cases: &Value) -> Vec<Value> {
    let mut child = Command::new("python3")
        .args(["-c", PYTHON])
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let input = serde_json::to_vec(cases).expect("JSON");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).map(|_| bytes)
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = reader(Box::new(child.stderr.take().expect("piped stderr")));
    let status = wait_exit(&mut child, PYTHON_TIMEOUT, "python3 to finish");
    let stdout = stdout.join().expect("stdout thread").expect("read stdout");
    let stderr = stderr.join().expect("stderr thread").expect("read stderr");
    writer.join().expect("writer thread").expect("write stdin");
    assert!(
        status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&stderr)
    );
    serde_json::from_slice(&stdout).expect("python3 prints a JSON list")
}

#[test]
fn python_templates_render_as_cpython() {
    if !python3() {
        return;
    }
    let mut rng = Rng(SEED);
    let mut cases = Vec::with_capacity(CASES);
    let mut ours = Vec::with_capacity(CASES);
    for _ in 0..CASES {
        let template = template(&mut rng);
        let datefmt = rng.pick(DATEFMTS);
        let rec = record(&mut rng);
        let built = LevelFormatter::builder()
            .default_format(template.as_str())
            .datefmt(datefmt)
            .utc(true)
            .process_name("test")
            .build();
        ours.push(match built {
            Ok(formatter) => {
                let mut line = String::new();
                formatter.format_record(&rec, &mut line).expect("formats");
                Ok(line.strip_suffix('\n').expect("newline").to_owned())
            }
            Err(e) => Err(e.to_string()),
        });
        cases.push(json!({
            "template": template,
            "datefmt": datefmt,
            "ns": rec.ns as i64,
            "values": rec.python_values(),
        }));
    }
    let theirs = run_python(&Value::Array(cases.clone()));
    assert_eq!(theirs.len(), CASES, "one result per case");

    let mut mismatches = Vec::new();
    let mut refused = 0;
    for ((case, ours), theirs) in cases.iter().zip(&ours).zip(&theirs) {
        let agree = match (ours, theirs.get("ok").and_then(Value::as_str)) {
            (Ok(line), Some(python)) => line == python,
            (Err(_), None) => {
                refused += 1;
                true
            }
            _ => false,
        };
        if !agree {
            mismatches.push(format!(
                "template {:?} datefmt {:?} ns {}\n  ours:   {ours:?}\n  python: {theirs}",
                case["template"].as_str().unwrap_or_default(),
                case["datefmt"].as_str().unwrap_or_default(),
                case["ns"],
            ));
        }
    }
    println!(
        "{CASES} templates: {} rendered alike, {refused} refused by both, {} mismatches",
        CASES - refused - mismatches.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {CASES} templates render differently from CPython; the first:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(refused > 0, "the refusal parity was exercised");
}

/// The issue's examples, with CPython 3.11's output written down, so they
/// are checked where `python3` is absent too. The instant sits on a
/// rounding edge: exact decimal rounding gives `.38290`, the `float`
/// `.38289`.
#[test]
fn issue_examples_render_as_cpython_without_python() {
    let mut rng = Rng(SEED);
    let rec = Rec {
        ns: 1_547_165_374_382_895_232,
        level: Level::INFO,
        pid: 932,
        ..record(&mut rng)
    };
    for (template, python) in [
        ("%(created)d", "1547165374"),
        ("%(levelno)010s", "        20"),
        (
            "%(levelname)r|%(levelname)a|%(levelname)-8r|",
            "'INFO'|'INFO'|'INFO'  |",
        ),
        ("%(created).5f", "1547165374.38289"),
        (
            "%(created)s %(msecs)s %(msecs)03d",
            "1547165374.382895 382.0 382",
        ),
        (
            "%(process)#x %(process)+.2e %(created)g",
            "0x3a4 +9.32e+02 1.54717e+09",
        ),
        ("%(levelname)05s|%(process)-010d|", " INFO|932       |"),
    ] {
        let formatter = LevelFormatter::builder()
            .default_format(template)
            .utc(true)
            .process_name("test")
            .build()
            .unwrap_or_else(|e| panic!("{template}: {e}"));
        let mut line = String::new();
        formatter.format_record(&rec, &mut line).expect("formats");
        assert_eq!(line, format!("{python}\n"), "{template}");
    }
}
