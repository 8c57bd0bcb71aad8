//! `JsonFormatter` (with `JsonFields`) in a plain `fmt` layer against
//! `tracing_subscriber::fmt().json()` itself: the same events, key by key,
//! apart from the keys we add (`pid`, `process`, `host`) and the instant
//! each layer read the clock at.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tracing_mplog_sink::format::{JsonFields, JsonFormatter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// Lines written by one layer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (self.0.lock().unwrap_or_else(PoisonError::into_inner)).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    fn objects(&self) -> Vec<serde_json::Map<String, Value>> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let text = String::from_utf8(bytes).expect("UTF-8 lines");
        text.lines()
            .map(|l| match serde_json::from_str(l) {
                Ok(Value::Object(m)) => m,
                other => panic!("not a JSON object: {other:?}\n{l}"),
            })
            .collect()
    }
}

#[derive(Debug)]
struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("disk on fire")
    }
}

impl std::error::Error for Failure {}

/// The events both layers see.
fn log_events() {
    tracing::info!(
        int = -3_i64,
        unsigned = 7_u64,
        float = 1.5,
        whole = 2.0,
        yes = true,
        text = "a \"quoted\" word",
        debug = ?Some(1),
        "saved {} items", 3
    );
    tracing::warn!(nan = f64::NAN, big = 1_u128 << 100, small = -5_i128);
    tracing::error!(message = "control \u{1}\u{1f} and \t tab, \n newline, é, 😀");
    let error: &(dyn std::error::Error + 'static) = &Failure;
    tracing::error!(error, "failed");
    let outer = tracing::info_span!("request", id = 9, path = "/x", late = tracing::field::Empty);
    let _o = outer.enter();
    outer.record("late", 1.25);
    let inner = tracing::debug_span!("handle", attempt = 2_u64);
    let _i = inner.enter();
    tracing::info!(user = 7, "in two spans");
    let bare = tracing::info_span!("bare");
    let _b = bare.enter();
    tracing::debug!("in three spans, the last without fields");
}

#[test]
fn json_lines_match_fmt_json_key_by_key() {
    let theirs = Capture::default();
    let ours = Capture::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_file(true)
                .with_line_number(true)
                .with_thread_names(true)
                .with_thread_ids(true)
                .with_writer(theirs.clone()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(JsonFormatter::new().process_name("json-test"))
                .fmt_fields(JsonFields::new())
                .with_writer(ours.clone()),
        )
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::with_default(subscriber, log_events);

    let (theirs, ours) = (theirs.objects(), ours.objects());
    assert_eq!(theirs.len(), 6);
    assert_eq!(ours.len(), theirs.len());
    for (t, o) in theirs.iter().zip(&ours) {
        let mut o = o.clone();
        for (key, want) in [
            ("pid", Value::from(std::process::id())),
            ("process", Value::from("json-test")),
            ("host", Value::from(tracing_mplog::origin::hostname())),
        ] {
            assert_eq!(o.remove(key), Some(want), "{key} of {o:?}");
        }
        // The instants differ by the time between the two layers: the
        // format is the same, RFC 3339 in UTC with microseconds.
        let (ts, os) = (t["timestamp"].as_str(), o.remove("timestamp"));
        let os = os.as_ref().and_then(Value::as_str).expect("our timestamp");
        let shape = |s: &str| {
            s.chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c })
                .collect::<String>()
        };
        assert_eq!(shape(os), "0000-00-00T00:00:00.000000Z");
        assert_eq!(ts.map(shape).as_deref(), Some(shape(os).as_str()));
        assert_eq!(&os[..16], &ts.unwrap_or_default()[..16], "same minute");
        let mut t = t.clone();
        t.remove("timestamp");
        assert_eq!(
            Value::Object(o.clone()),
            Value::Object(t.clone()),
            "\n ours:   {o:?}\n theirs: {t:?}"
        );
    }
    // What the comparison covered.
    assert_eq!(ours[0]["fields"]["whole"], Value::from(2.0));
    assert_eq!(ours[1]["fields"]["nan"], Value::Null);
    assert_eq!(ours[4]["spans"].as_array().map(Vec::len), Some(2));
    assert_eq!(ours[4]["span"]["name"], "handle");
    assert_eq!(ours[4]["spans"][0]["late"], Value::from(1.25));
}
