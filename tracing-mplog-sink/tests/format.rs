//! LevelFormatter: every placeholder in both syntaxes, widths, datefmt, the
//! errors, the acrilog example byte for byte, and the `fmt` layer path.

mod support;

use std::sync::{Arc, Mutex};

use mplog_test_support::log_through_the_bridge;
use support::record::{Rec, rec, render, utc};
use time::macros::datetime;
use tracing_core::Level;
use tracing_mplog_sink::clock::ManualClock;
use tracing_mplog_sink::format::{
    FormatError, FormatLevel, LevelFormatter, MAX_PADDING, TemplateError,
};
use tracing_mplog_sink::zone::Zone;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// What every placeholder renders for [`rec`], in the order of the two tests
/// below (each template then ends with its own escapes).
const EVERY_PLACEHOLDER: &str = "2016-12-19,11:39:44.953189|1482147584.953189|953|INFO|20|saved user=7 name=\"x\"|saved|user=7 name=\"x\"|outer{a=1}:inner|inner|app::db|app::db|src/db/mod.rs|mod.rs|45|932|worker-1|main|77|box|";

#[test]
fn every_placeholder_in_python_syntax() {
    let f = utc(
        "%(asctime)s|%(created)f|%(msecs)03d|%(levelname)s|%(levelno)d|%(message)s|%(msg)s|%(fields)s|%(spans)s|%(funcName)s|%(name)s|%(module)s|%(pathname)s|%(filename)s|%(lineno)d|%(process)d|%(processName)s|%(threadName)s|%(thread)d|%(host)s|100%%",
    );
    assert_eq!(render(&f, &rec()), format!("{EVERY_PLACEHOLDER}100%\n"));
}

#[test]
fn every_placeholder_in_native_syntax() {
    let f = utc(
        "{time}|{created}|{msecs}|{level}|{levelno}|{message}|{msg}|{fields}|{spans}|{span}|{target}|{module_path}|{file}|{filename}|{line}|{pid}|{process_name}|{thread_name}|{thread_id}|{host}|{{}}%",
    );
    assert_eq!(render(&f, &rec()), format!("{EVERY_PLACEHOLDER}{{}}%\n"));
}

#[test]
fn widths_alignment_padding_and_truncation() {
    let r = rec();
    assert_eq!(
        render(
            &utc("[%(levelname)-8s][%(levelname)8s][%(process)6d][%(process)06d]"),
            &r
        ),
        "[INFO    ][    INFO][   932][000932]\n"
    );
    assert_eq!(
        render(
            &utc("[{level:<8}][{level:>8}][{level:^8}][{pid:6}][{pid:06}][{level:*^9}]"),
            &r
        ),
        "[INFO    ][    INFO][  INFO  ][   932][000932][**INFO***]\n"
    );
    assert_eq!(
        render(&utc("[%(name).3s][%(created).2f][%(created)d]"), &r),
        "[app][1482147584.95][1482147584]\n"
    );
    assert_eq!(
        render(&utc("[{target:.3}][{created:.2}]"), &r),
        "[app][1482147584.95]\n"
    );
    // A template in Python syntax keeps braces as text.
    assert_eq!(render(&utc("{%(levelname)s}"), &r), "{INFO}\n");
    // A value longer than the width is never cut without a precision.
    assert_eq!(render(&utc("[%(processName)3s]"), &r), "[worker-1]\n");
}

#[test]
fn the_template_is_chosen_by_level() {
    let f = LevelFormatter::builder()
        .format(FormatLevel::Error, "E {message}")
        .format(FormatLevel::Debug, "D {message}")
        .format(FormatLevel::Debug, "D2 {message}")
        .default_format("* {message}")
        .build()
        .expect("valid");
    let line = |level| {
        render(
            &f,
            &Rec {
                level,
                fields: "",
                ..rec()
            },
        )
    };
    assert_eq!(line(Level::ERROR), "E saved\n");
    assert_eq!(
        line(Level::DEBUG),
        "D2 saved\n",
        "a later template for a level replaces an earlier one"
    );
    assert_eq!(line(Level::INFO), "* saved\n");
    assert_eq!(line(Level::TRACE), "* saved\n");
}

#[test]
fn missing_parts_render_fallbacks() {
    let r = Rec {
        module: None,
        file: None,
        line: None,
        thread_name: None,
        spans: &[],
        message: "",
        ..rec()
    };
    assert_eq!(
        render(
            &utc("{module}.{span}({line})|{file}|{thread_name}|{spans}|{message}"),
            &r
        ),
        "app::db.<module>(0)||<unnamed>||user=7 name=\"x\"\n"
    );
}

#[test]
fn errors_name_the_level_template_and_placeholder() {
    let err = |b: tracing_mplog_sink::format::Builder| b.build().expect_err("must be refused");
    let e = err(LevelFormatter::builder().format(FormatLevel::Warn, "[ %(bogus)s ]"));
    assert!(matches!(
        e,
        FormatError::Template {
            level: FormatLevel::Warn,
            ..
        }
    ));
    let msg = e.to_string();
    assert!(
        msg.contains("`warn`") && msg.contains("[ %(bogus)s ]") && msg.contains("`bogus`"),
        "{msg}"
    );

    // (template, what the error must name)
    for (template, needles) in [
        ("{nope:<3}", &["`default`", "`nope`"][..]),
        (
            "%(relativeCreated)d",
            &["`relativeCreated`", "no tracing equivalent"],
        ),
        ("%(message)s %(lineno)q", &["`%q`"]),
        ("%(message", &["unclosed `%(`"]),
        ("{message", &["unclosed `{`"]),
        ("{message} }", &["unmatched `}`"]),
        ("%(message)s 50%", &["after `%`"]),
        ("{level:x8}", &["unsupported format spec"]),
    ] {
        let msg = err(LevelFormatter::builder().default_format(template)).to_string();
        assert!(needles.iter().all(|n| msg.contains(n)), "{template}: {msg}");
    }
    let msg = err(LevelFormatter::builder().datefmt("%Y %Q")).to_string();
    assert!(
        msg.contains("datefmt \"%Y %Q\"") && msg.contains("`%Q`"),
        "{msg}"
    );
}

/// Found by the `template_parse` fuzz target: `{level:000…040118980274290687}`
/// built, then aborted the process on the first record, asking for 4·10^16
/// bytes of padding. Widths and `created` decimals over `MAX_PADDING` are
/// refused at build; the limit itself renders, and truncation is unlimited.
#[test]
fn widths_over_the_padding_limit_are_refused_at_build() {
    let over = MAX_PADDING + 1;
    for (template, name, what) in [
        (
            "{level:00000000000000000040118980274290687}".to_owned(),
            "level",
            "width",
        ),
        (format!("%(levelname){over}s"), "levelname", "width"),
        (format!("{{message:*^{over}}}"), "message", "width"),
        (format!("%(created).{over}f"), "created", "decimals"),
        (format!("{{created:.{over}}}"), "created", "decimals"),
    ] {
        let e = LevelFormatter::builder()
            .default_format(template.as_str())
            .build()
            .expect_err("over the limit");
        assert!(
            matches!(
                &e,
                FormatError::Template {
                    source: TemplateError::TooWide { name: n, what: w, limit: MAX_PADDING, .. },
                    ..
                } if n == name && *w == what
            ),
            "{template}: {e}"
        );
    }
    let line = render(&utc(&format!("{{level:>{MAX_PADDING}}}")), &rec());
    assert_eq!(
        line.len(),
        MAX_PADDING + 1,
        "padded to the limit, then the newline"
    );
    let line = render(&utc(&format!("%(created).{MAX_PADDING}f")), &rec());
    assert_eq!(line.len(), "1482147584.".len() + MAX_PADDING + 1);
    assert_eq!(
        render(&utc("{message:.1000000}"), &rec()),
        "saved user=7 name=\"x\"\n"
    );
}

/// The seed's templates, as its README shows them.
fn acrilog() -> tracing_mplog_sink::format::Builder {
    LevelFormatter::builder()
        .format(
            FormatLevel::Debug,
            "[ %(asctime)s ][ %(levelname)s ][ %(message)s ][ %(module)s.%(funcName)s(%(lineno)d) ]",
        )
        .default_format("[ %(asctime)s ][ %(levelname)s ][ %(message)s ]")
        .datefmt("%Y-%m-%d,%H:%M:%S.%f")
}

#[test]
fn acrilog_example_lines_byte_for_byte() {
    let f = acrilog().zone(Zone::utc()).build().expect("valid");
    let base = Rec {
        module: Some("mplogger"),
        spans: &[],
        fields: "",
        ..rec()
    };
    let lines = [
        Rec {
            time: datetime!(2016-12-19 11:39:44.953189 UTC),
            level: Level::DEBUG,
            message: "starting sub processes",
            line: Some(45),
            ..base.clone()
        },
        Rec {
            time: datetime!(2016-12-19 11:39:45.258794 UTC),
            message: "proc [932]: 0/1 - sleep  0.3sec",
            ..base.clone()
        },
        Rec {
            time: datetime!(2016-12-19 11:39:45.707914 UTC),
            message: "proc [931]: 0/1 - sleep 0.75sec",
            ..base.clone()
        },
        Rec {
            time: datetime!(2016-12-19 11:39:45.710487 UTC),
            level: Level::DEBUG,
            message: "sub processes completed",
            line: Some(56),
            ..base
        },
    ];
    let out: String = lines.iter().map(|r| render(&f, r)).collect();
    assert_eq!(
        out,
        "[ 2016-12-19,11:39:44.953189 ][ DEBUG ][ starting sub processes ][ mplogger.<module>(45) ]\n\
         [ 2016-12-19,11:39:45.258794 ][ INFO ][ proc [932]: 0/1 - sleep  0.3sec ]\n\
         [ 2016-12-19,11:39:45.707914 ][ INFO ][ proc [931]: 0/1 - sleep 0.75sec ]\n\
         [ 2016-12-19,11:39:45.710487 ][ DEBUG ][ sub processes completed ][ mplogger.<module>(56) ]\n"
    );
}

#[test]
fn local_time_in_a_fixed_zone() {
    let f = LevelFormatter::builder()
        .default_format("{time}")
        .datefmt("%Y-%m-%d %H:%M:%S %z")
        .zone(Zone::from_posix_tz("EST5EDT,M3.2.0,M11.1.0").expect("valid TZ"))
        .build()
        .expect("valid");
    let at = |time| render(&f, &Rec { time, ..rec() });
    assert_eq!(
        at(datetime!(2024-01-15 12:00:00 UTC)),
        "2024-01-15 07:00:00 -0500\n"
    );
    assert_eq!(
        at(datetime!(2024-07-15 12:00:00 UTC)),
        "2024-07-15 08:00:00 -0400\n"
    );
}

/// A `MakeWriter` collecting everything in memory.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Buf {
        self.clone()
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("not poisoned").clone()).expect("utf-8")
    }
}

/// Runs `log` with `f` as the event format of a `fmt` layer that writes
/// into memory; returns what `log` returned and everything written.
fn through_fmt<R>(f: LevelFormatter, log: impl FnOnce() -> R) -> (R, String) {
    let buf = Buf::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .event_format(f)
            .with_writer(buf.clone()),
    );
    let out = tracing::subscriber::with_default(subscriber, log);
    (out, buf.text())
}

mod mplogger {
    /// Logs the seed's first line, returning the line number it used.
    pub(crate) fn starting() -> u32 {
        tracing::debug!("starting sub processes");
        line!() - 1
    }
}

#[test]
fn as_fmt_event_formatter_with_a_fixed_clock() {
    let clock = ManualClock::new(datetime!(2016-12-19 11:39:44.953189 UTC));
    let f = acrilog()
        .zone(Zone::utc())
        .clock(clock.clone())
        .process_name("parent")
        .build()
        .expect("valid");
    let (line, text) = through_fmt(f, || {
        let line = mplogger::starting();
        clock.set(datetime!(2016-12-19 11:39:45.258794 UTC));
        tracing::info!("proc [{}]: {}/{} - sleep {:>4.4}sec", 932, 0, 1, "0.3");
        line
    });
    assert_eq!(
        text,
        format!(
            "[ 2016-12-19,11:39:44.953189 ][ DEBUG ][ starting sub processes ][ format::mplogger.<module>({line}) ]\n\
             [ 2016-12-19,11:39:45.258794 ][ INFO ][ proc [932]: 0/1 - sleep  0.3sec ]\n"
        )
    );
}

#[test]
fn fmt_path_renders_fields_spans_and_process_like_fmt() {
    let clock = ManualClock::new(datetime!(2024-05-01 10:00:00.5 UTC));
    let f = LevelFormatter::builder()
        .default_format("{level} {spans} | {span} | {message} | {msg} | {fields} | {process_name}[{pid}] {thread_name} {file}:{line}")
        .clock(clock)
        .process_name("parent")
        .build()
        .expect("valid");
    let (line, text) = through_fmt(f, || {
        let outer = tracing::info_span!("outer", a = 1, who = "me");
        let _o = outer.enter();
        let inner = tracing::info_span!("inner");
        let _i = inner.enter();
        tracing::warn!(user = 7, ok = true, ratio = 0.5, name = "x", "saved {}", 3);
        line!() - 1
    });
    let pid = std::process::id();
    let thread = std::thread::current()
        .name()
        .map(str::to_owned)
        .unwrap_or_else(|| "<unnamed>".into());
    assert_eq!(
        text,
        format!(
            "WARN outer{{a=1 who=\"me\"}}:inner | inner | saved 3 user=7 ok=true ratio=0.5 name=\"x\" | saved 3 | user=7 ok=true ratio=0.5 name=\"x\" | parent[{pid}] {thread} tracing-mplog-sink/tests/format.rs:{line}\n"
        )
    );
}

#[test]
fn fmt_path_from_many_threads_keeps_whole_lines() {
    let f = LevelFormatter::builder()
        .default_format("{thread_name} {message}")
        .build()
        .expect("valid");
    let ((), text) = through_fmt(f, || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let dispatch = dispatch.clone();
                std::thread::Builder::new()
                    .name(format!("t{t}"))
                    .spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            for i in 0..500 {
                                tracing::info!(i, "from t{t}");
                            }
                        })
                    })
                    .expect("spawn")
            })
            .collect();
        for h in handles {
            h.join().expect("thread ran");
        }
    });
    for t in 0..4 {
        for i in 0..500 {
            let want = format!("t{t} from t{t} i={i}");
            assert_eq!(text.lines().filter(|l| *l == want).count(), 1, "{want}");
        }
    }
    assert_eq!(text.lines().count(), 2000);
}

#[test]
fn fmt_path_reports_a_log_record_with_its_own_target_module_file_and_line() {
    let f = LevelFormatter::builder()
        .default_format("{level} {target} {module_path} {file}:{line} {message}|{fields}|")
        .clock(ManualClock::new(datetime!(2024-05-01 10:00:00 UTC)))
        .build()
        .expect("valid");
    let ((), text) = through_fmt(f, || log_through_the_bridge(7));
    assert_eq!(
        text,
        "WARN dep dep::inner dep/src/inner.rs:42 from log 7||\n"
    );
}
