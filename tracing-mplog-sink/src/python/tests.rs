use mplog_test_support::pickle_dict;
use proptest::prelude::*;

use super::*;
use crate::format::{FormatLevel, LevelFormatter};

/// `pickle.dumps(d, 1)` of a real `LogRecord` dict as `SocketHandler`
/// makes it (CPython 3.11): WARNING, with an exception's traceback.
const WARNING: &[u8] = include_bytes!("testdata/warning.pickle");

#[test]
fn a_real_socket_handler_record_maps_field_by_field() {
    let rec = decode_record(WARNING).expect("decodes");
    assert_eq!(rec.name, "app.db");
    assert_eq!(rec.msg, "slow query");
    assert_eq!((rec.levelno, rec.levelname.as_str()), (30, "WARNING"));
    assert_eq!(rec.level(), Level::WARN);
    assert_eq!(rec.process_name, "Worker-1");
    assert_eq!(rec.process, 4242);
    assert_eq!(rec.thread, 140_234_567_890_123);
    assert_eq!(rec.thread_name, "MainThread");
    assert_eq!((rec.module.as_str(), rec.func_name.as_str()), ("db", "run"));
    assert_eq!(
        (rec.pathname.as_str(), rec.filename.as_str()),
        ("/srv/app/db.py", "db.py")
    );
    assert_eq!(rec.lineno, 42);
    assert_eq!(rec.created, Some(1_764_667_200.123_456));
    assert!(
        rec.exc_text
            .as_deref()
            .is_some_and(|t| t.starts_with("Traceback"))
    );
    assert_eq!(rec.stack_info, None);
}

#[test]
fn renders_as_cpython_formatter_does() {
    let rec = decode_record(WARNING).expect("decodes");
    let f = LevelFormatter::builder()
        .default_format(
            "[ %(asctime)s ][ %(levelname)s %(levelno)d ][ %(name)s %(processName)s \
             %(process)d %(threadName)s ][ %(module)s.%(funcName)s(%(lineno)d) \
             %(filename)s ][ %(created)f %(msecs)03d ][ %(message)s ]",
        )
        .datefmt("%Y-%m-%d %H:%M:%S")
        .utc(true)
        .build()
        .expect("formatter");
    let mut line = String::new();
    f.format_record(&rec.view("h", 0), &mut line)
        .expect("format");
    // What logging.Formatter(fmt, datefmt) gives with TZ=UTC.
    let want = "[ 2025-12-02 09:20:00 ][ WARNING 30 ][ app.db Worker-1 4242 MainThread ][ \
                db.run(42) db.py ][ 1764667200.123456 123 ][ slow query ]\n\
                Traceback (most recent call last):\n  File \"<stdin>\", line 6, in <module>\n\
                ZeroDivisionError: division by zero\n";
    assert_eq!(line, want);
}

#[test]
fn a_json_line_keeps_pythons_level_name_and_its_traceback() {
    let rec = decode_record(WARNING).expect("decodes");
    let mut line = String::new();
    crate::format::JsonFormatter::new().format_record(&rec.view("h", 0), &mut line);
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(v["timestamp"], "2025-12-02T09:20:00.123456Z");
    assert_eq!(v["level"], "WARNING");
    assert_eq!(v["fields"]["message"], "slow query");
    assert_eq!(v["fields"]["funcName"], "run");
    let tb = v["fields"]["exc_text"].as_str().unwrap_or("");
    assert!(
        tb.starts_with("Traceback") && tb.ends_with("division by zero"),
        "{tb}"
    );
    assert_eq!(
        (&v["target"], &v["filename"], &v["line_number"]),
        (&"app.db".into(), &"/srv/app/db.py".into(), &42.into())
    );
    assert_eq!(
        (&v["threadName"], &v["process"], &v["pid"]),
        (&"MainThread".into(), &"Worker-1".into(), &4242.into())
    );
    assert!(v.get("spans").is_none(), "{v}");
}

#[test]
fn critical_uses_the_error_template() {
    let mut rec = decode_record(WARNING).expect("decodes");
    rec.levelno = 50;
    rec.levelname = "CRITICAL".into();
    let f = LevelFormatter::builder()
        .format(FormatLevel::Error, "E %(levelname)s %(levelno)d")
        .default_format("D %(levelname)s")
        .build()
        .expect("formatter");
    let mut line = String::new();
    f.format_record(&rec.view("h", 0), &mut line)
        .expect("format");
    assert!(line.starts_with("E CRITICAL 50\nTraceback"), "{line}");
}

#[test]
fn missing_keys_take_their_documented_defaults() {
    let rec = decode_record(b"}.").expect("an empty dict");
    assert_eq!((rec.levelno, rec.levelname.as_str()), (0, "NOTSET"));
    assert_eq!(
        (rec.name.as_str(), rec.func_name.as_str()),
        ("None", "None")
    );
    assert_eq!((rec.msg.as_str(), rec.module.as_str()), ("", ""));
    assert_eq!((rec.process, rec.thread, rec.lineno), (0, 0, 0));
    assert_eq!(rec.created, None);
    // levelname alone gives the number; levelno alone gives the name.
    let rec = decode_record(b"}(X\t\x00\x00\x00levelnameX\x05\x00\x00\x00ERRORu.").expect("d");
    assert_eq!(rec.levelno, 40);
    let rec = decode_record(b"}(X\x07\x00\x00\x00levelnoK\x17u.").expect("d");
    assert_eq!(rec.levelname, "Level 23");
}

#[test]
fn not_a_dict_is_refused() {
    assert!(matches!(
        decode_record(b"N."),
        Err(PickleError::NotARecord(_))
    ));
    // Keys that are not `str` are refused before decoding.
    assert!(matches!(
        decode_record(b"}(K\x01K\x02u."),
        Err(PickleError::Refused { .. })
    ));
}

#[test]
fn the_fuzzer_find_is_refused_not_a_panic() {
    // A frozenset of floats with NaN: serde-pickle's sort of it panicked.
    let crash = include_bytes!("testdata/fuzz-nan-frozenset.pickle");
    assert!(matches!(
        decode_record(crash),
        Err(PickleError::Refused { .. })
    ));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_record(&bytes);
    }

    #[test]
    fn text_and_numbers_round_trip(
        name in ".{0,40}", msg in ".{0,200}", pname in ".{0,20}",
        levelno in 0i32..60, process in 0i32..i32::MAX, lineno in 0i32..100_000,
    ) {
        let p = pickle_dict(
            &[("name", &name), ("msg", &msg), ("processName", &pname), ("extra_key", "x")],
            &[("levelno", levelno), ("process", process), ("lineno", lineno)],
        );
        let rec = decode_record(&p).expect("decodes");
        prop_assert_eq!(rec.name, name);
        prop_assert_eq!(rec.msg, msg);
        prop_assert_eq!(rec.process_name, pname);
        prop_assert_eq!(rec.levelno, i64::from(levelno));
        prop_assert_eq!(rec.process, process as u32);
        prop_assert_eq!(rec.lineno, lineno as u32);
    }

    #[test]
    fn a_code_opcode_anywhere_is_refused(
        at in 0usize..64,
        op in prop::sample::select(vec![b'c', 0x93, b'R', b'b', b'i', b'o', 0x81, 0x92, 0x82, b'Q']),
    ) {
        let p = pickle_dict(&[("msg", "hello world"), ("name", "n")], &[("levelno", 20)]);
        // Put the opcode at an opcode boundary: right after the dict's mark.
        let mut hostile = p[..2].to_vec();
        hostile.push(op);
        hostile.extend(std::iter::repeat_n(b'\n', at % 4));
        hostile.extend_from_slice(&p[2..]);
        let refused = matches!(decode_record(&hostile), Err(PickleError::Refused { .. }));
        prop_assert!(refused);
    }
}

#[test]
fn every_protocol_from_1_to_5_decodes() {
    // pickle.dumps(makeLogRecord({...}).__dict__, N) on CPython 3.11.
    let seeds: [&[u8]; 5] = [
        include_bytes!("testdata/critical-proto1.pickle"),
        include_bytes!("testdata/critical-proto2.pickle"),
        include_bytes!("testdata/critical-proto3.pickle"),
        include_bytes!("testdata/critical-proto4.pickle"),
        include_bytes!("testdata/critical-proto5.pickle"),
    ];
    for (i, seed) in seeds.iter().enumerate() {
        let rec = decode_record(seed).unwrap_or_else(|e| panic!("protocol {}: {e}", i + 1));
        assert_eq!((rec.levelno, rec.levelname.as_str()), (50, "CRITICAL"));
        assert_eq!((rec.name.as_str(), rec.msg.as_str()), ("a", "x"));
        assert_eq!(rec.process_name, "p");
        assert!(rec.created.is_some() && rec.thread > 0);
    }
}
