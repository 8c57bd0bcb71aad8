//! A record for formatter tests: every part set, a `RecordView` of its
//! own, and two small helpers to build a formatter and render one line.
//! Shared by the format tests and the fuzz crate's `template_parse` target,
//! which includes this file by path (so it names everything by its crate).
#![allow(dead_code)]

use std::fmt;

use time::OffsetDateTime;
use time::macros::datetime;
use tracing_core::Level;
use tracing_mplog_sink::format::LevelFormatter;
use tracing_mplog_sink::record::RecordView;

/// A record with every part set by the test.
#[derive(Clone, Debug)]
pub struct Rec {
    pub time: OffsetDateTime,
    pub level: Level,
    pub target: &'static str,
    pub module: Option<&'static str>,
    pub file: Option<&'static str>,
    pub line: Option<u32>,
    pub pid: u32,
    pub process_name: &'static str,
    pub thread_name: Option<&'static str>,
    pub thread_id: u64,
    pub host: &'static str,
    pub message: &'static str,
    pub fields: &'static str,
    pub spans: &'static [(&'static str, &'static str)],
}

/// The record the format tests start from: 2016-12-19 11:39:44.953189
/// UTC, INFO, `app::db` (`src/db/mod.rs`:45), worker-1[932] on thread
/// `main` (77) of host `box`, message `saved`, fields `user=7 name="x"`,
/// spans `outer{a=1}:inner`.
pub fn rec() -> Rec {
    Rec {
        time: datetime!(2016-12-19 11:39:44.953189 UTC),
        level: Level::INFO,
        target: "app::db",
        module: Some("app::db"),
        file: Some("src/db/mod.rs"),
        line: Some(45),
        pid: 932,
        process_name: "worker-1",
        thread_name: Some("main"),
        thread_id: 77,
        host: "box",
        message: "saved",
        fields: "user=7 name=\"x\"",
        spans: &[("outer", "a=1"), ("inner", "")],
    }
}

impl RecordView for Rec {
    fn timestamp(&self) -> OffsetDateTime {
        self.time
    }
    fn level(&self) -> Level {
        self.level
    }
    fn target(&self) -> &str {
        self.target
    }
    fn module_path(&self) -> Option<&str> {
        self.module
    }
    fn file(&self) -> Option<&str> {
        self.file
    }
    fn line(&self) -> Option<u32> {
        self.line
    }
    fn pid(&self) -> u32 {
        self.pid
    }
    fn process_name(&self) -> &str {
        self.process_name
    }
    fn thread_name(&self) -> Option<&str> {
        self.thread_name
    }
    fn thread_id(&self) -> u64 {
        self.thread_id
    }
    fn host(&self) -> &str {
        self.host
    }
    fn write_message(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str(self.message)
    }
    fn write_fields(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        w.write_str(self.fields)
    }
    fn has_fields(&self) -> bool {
        !self.fields.is_empty()
    }
    fn innermost_span(&self) -> Option<&str> {
        self.spans.last().map(|(name, _)| *name)
    }
    fn write_spans(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        for (i, (name, fields)) in self.spans.iter().enumerate() {
            if i > 0 {
                w.write_char(':')?;
            }
            w.write_str(name)?;
            if !fields.is_empty() {
                write!(w, "{{{fields}}}")?;
            }
        }
        Ok(())
    }
}

/// A formatter with `template` for every level, the acrilog `datefmt`, in
/// UTC.
pub fn utc(template: &str) -> LevelFormatter {
    LevelFormatter::builder()
        .default_format(template)
        .datefmt("%Y-%m-%d,%H:%M:%S.%f")
        .utc(true)
        .build()
        .expect("valid template")
}

/// The line `f` makes of `r` (with its newline).
pub fn render(f: &LevelFormatter, r: &Rec) -> String {
    let mut out = String::new();
    f.format_record(r, &mut out).expect("formats");
    out
}
