//! Arbitrary bytes as one `SocketHandler` pickle into
//! `tracing_mplog_sink::python::decode_record`.
//!
//! Decoding must never panic, never recurse out of stack, never allocate
//! beyond a small multiple of the input; a record that decodes must render
//! through a `LevelFormatter` (every Python placeholder) without panicking.
//! Any input holding a code opcode at an opcode boundary is refused (checked
//! by the unit tests and proptests; here the fuzzer looks for crashes).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tracing_mplog_sink::LevelFormatter;
use tracing_mplog_sink::python::decode_record;

fn formatter() -> &'static LevelFormatter {
    static F: OnceLock<LevelFormatter> = OnceLock::new();
    F.get_or_init(|| {
        LevelFormatter::builder()
            .default_format(
                "%(asctime)s %(created)f %(msecs)03d %(levelname)-8s %(levelno)d %(name)s \
                 %(processName)s %(process)d %(threadName)s %(thread)d %(module)s \
                 %(funcName)s %(lineno)d %(pathname)s %(filename)s %(message)s",
            )
            .utc(true)
            .build()
            .expect("the template is valid")
    })
}

fuzz_target!(|pickle: &[u8]| {
    if let Ok(rec) = decode_record(pickle) {
        let mut line = String::new();
        let _ = formatter().format_record(&rec.view("host", 0), &mut line);
        assert!(line.ends_with('\n'));
    }
});
