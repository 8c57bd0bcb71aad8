//! Records of Python's `logging.handlers.SocketHandler`, decoded as data.
//!
//! `SocketHandler` sends each record as a 4-byte big-endian length and a
//! pickle (protocol 1) of the `LogRecord`'s `__dict__`, `msg` already merged
//! with its args. A pickle is a program for Python's unpickler; here it is
//! only data: [`decode_record`] first checks every opcode (code-running ones
//! such as `GLOBAL` and `REDUCE` are refused, nesting and shared references
//! are bounded), then decodes the data with `serde-pickle`, then maps the
//! dict to a [`PyRecord`]. The mapping table and the defaults of missing
//! keys are in `docs/python.md`.
//!
//! ```
//! use tracing_mplog_sink::python::decode_record;
//!
//! // pickle.dumps({'name': 'app', 'levelno': 50, 'levelname': 'CRITICAL', 'msg': 'down'}, 1)
//! let pickle = b"}q\x00(X\x04\x00\x00\x00nameq\x01X\x03\x00\x00\x00appq\x02X\x07\x00\x00\x00levelnoq\x03K2X\t\x00\x00\x00levelnameq\x04X\x08\x00\x00\x00CRITICALq\x05X\x03\x00\x00\x00msgq\x06X\x04\x00\x00\x00downq\x07u.";
//! let rec = decode_record(pickle)?;
//! assert_eq!((rec.name.as_str(), rec.levelno, rec.levelname.as_str()), ("app", 50, "CRITICAL"));
//! assert_eq!(rec.level(), tracing::Level::ERROR);
//! assert!(decode_record(b"cos\nsystem\n(S'echo x'\ntR.").is_err());
//! # Ok::<(), tracing_mplog_sink::python::PickleError>(())
//! ```

mod record;
mod scan;

use serde_pickle::{DeOptions, HashableValue, Value};
use tracing_core::Level;

pub use record::PyRecordView;
pub use scan::{MAX_DEPTH, MAX_NUMBER};

/// Why a pickle was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    /// The opcode check refused it (code, unknown opcode, bounds).
    #[error("refused pickle at byte {at}: {what}")]
    Refused {
        /// Byte offset of the opcode at fault.
        at: usize,
        /// What was refused.
        what: String,
    },
    /// The data did not decode.
    #[error("undecodable pickle: {0}")]
    Decode(String),
    /// It decoded, but not to a dict with text keys.
    #[error("the pickle is not a LogRecord dict: {0}")]
    NotARecord(&'static str),
}

/// One Python `LogRecord`, as its `__dict__` was sent.
///
/// Text fields hold what Python's `str()` gives of the value (`None` is
/// `"None"`); a missing key has the default listed in `docs/python.md`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PyRecord {
    /// `created`: seconds since the epoch, as Python computed it (`None`:
    /// missing, the time of receipt is used).
    pub created: Option<f64>,
    /// `msecs`, if sent.
    pub msecs: Option<f64>,
    /// `levelno` (from `levelname` when missing, 0 if unknown).
    pub levelno: i64,
    /// `levelname` (Python's `getLevelName(levelno)` when missing).
    pub levelname: String,
    /// `name`: the logger's name.
    pub name: String,
    /// `msg`, merged with its args by `SocketHandler`.
    pub msg: String,
    /// `processName`.
    pub process_name: String,
    /// `process`.
    pub process: u32,
    /// `threadName`.
    pub thread_name: String,
    /// `thread`.
    pub thread: u64,
    /// `module`.
    pub module: String,
    /// `funcName`.
    pub func_name: String,
    /// `lineno`.
    pub lineno: u32,
    /// `pathname`.
    pub pathname: String,
    /// `filename`.
    pub filename: String,
    /// `exc_text`: the formatted traceback, if any.
    pub exc_text: Option<String>,
    /// `stack_info`, if any.
    pub stack_info: Option<String>,
}

impl PyRecord {
    /// The `tracing` level used for thresholds and per-level templates:
    /// `CRITICAL` (50) counts as `ERROR`, `WARNING` as `WARN`, below
    /// `DEBUG` as `TRACE`.
    pub fn level(&self) -> Level {
        match self.levelno {
            n if n >= 40 => Level::ERROR,
            n if n >= 30 => Level::WARN,
            n if n >= 20 => Level::INFO,
            n if n >= 10 => Level::DEBUG,
            _ => Level::TRACE,
        }
    }

    /// A [`RecordView`](crate::record::RecordView) of this record, sent by
    /// a process on `host`.
    pub fn view<'a>(&'a self, host: &'a str, received_ns: i128) -> PyRecordView<'a> {
        PyRecordView::new(self, host, received_ns)
    }
}

/// Python's standard level names.
const LEVELS: [(i64, &str); 6] = [
    (50, "CRITICAL"),
    (40, "ERROR"),
    (30, "WARNING"),
    (20, "INFO"),
    (10, "DEBUG"),
    (0, "NOTSET"),
];

/// Decodes one `SocketHandler` pickle (the frame's body, without its
/// length) into a [`PyRecord`], refusing any pickle that is more than data.
///
/// # Errors
///
/// [`PickleError`] saying what was refused or could not be decoded.
pub fn decode_record(pickle: &[u8]) -> Result<PyRecord, PickleError> {
    scan::check(pickle)?;
    let value = serde_pickle::value_from_slice(pickle, DeOptions::new())
        .map_err(|e| PickleError::Decode(e.to_string()))?;
    let Value::Dict(dict) = value else {
        return Err(PickleError::NotARecord("the top value is not a dict"));
    };
    let mut rec = PyRecord {
        created: None,
        msecs: None,
        levelno: i64::MIN,
        levelname: String::new(),
        name: "None".into(),
        msg: String::new(),
        process_name: "None".into(),
        process: 0,
        thread_name: "None".into(),
        thread: 0,
        module: String::new(),
        func_name: "None".into(),
        lineno: 0,
        pathname: String::new(),
        filename: String::new(),
        exc_text: None,
        stack_info: None,
    };
    let mut has_levelname = false;
    for (key, value) in dict {
        let HashableValue::String(key) = key else {
            return Err(PickleError::NotARecord("a key is not a str"));
        };
        match key.as_str() {
            "created" => rec.created = as_float(&value),
            "msecs" => rec.msecs = as_float(&value),
            "levelno" => rec.levelno = as_int(&value).unwrap_or(0),
            "levelname" => {
                rec.levelname = py_str(&value);
                has_levelname = true;
            }
            "name" => rec.name = py_str(&value),
            "msg" => rec.msg = py_str(&value),
            "processName" => rec.process_name = py_str(&value),
            "process" => rec.process = as_int(&value).and_then(|n| n.try_into().ok()).unwrap_or(0),
            "threadName" => rec.thread_name = py_str(&value),
            "thread" => rec.thread = as_u64(&value).unwrap_or(0),
            "module" => rec.module = py_str(&value),
            "funcName" => rec.func_name = py_str(&value),
            "lineno" => rec.lineno = as_int(&value).and_then(|n| n.try_into().ok()).unwrap_or(0),
            "pathname" => rec.pathname = py_str(&value),
            "filename" => rec.filename = py_str(&value),
            "exc_text" => rec.exc_text = text_or_none(&value),
            "stack_info" => rec.stack_info = text_or_none(&value),
            _ => {}
        }
    }
    if rec.levelno == i64::MIN {
        rec.levelno = LEVELS
            .iter()
            .find(|(_, n)| has_levelname && *n == rec.levelname)
            .map_or(0, |(no, _)| *no);
    }
    if !has_levelname {
        rec.levelname = LEVELS
            .iter()
            .find(|(no, _)| *no == rec.levelno)
            .map_or_else(
                || format!("Level {}", rec.levelno),
                |(_, n)| (*n).to_owned(),
            );
    }
    Ok(rec)
}

fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::F64(f) => Some(*f),
        Value::I64(i) => Some(*i as f64),
        _ => None,
    }
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::I64(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::I64(i) => u64::try_from(*i).ok(),
        Value::Int(big) => big.to_string().parse().ok(),
        _ => None,
    }
}

/// A text value that Python treats as false when empty or `None`.
fn text_or_none(v: &Value) -> Option<String> {
    match v {
        Value::None => None,
        Value::String(s) if s.is_empty() => None,
        other => Some(py_str(other)),
    }
}

/// What Python's `str()` gives of a scalar; containers and bytes render
/// their Rust debug form (a `LogRecord` sent by `SocketHandler` has none in
/// the mapped keys).
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::None => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::I64(i) => i.to_string(),
        Value::Int(i) => i.to_string(),
        Value::F64(f) => py_float(*f),
        other => format!("{other:?}"),
    }
}

/// Python's `repr()` of a float for the common cases (`1.0`, `0.5`, `inf`,
/// `nan`); exponents as Rust writes them.
fn py_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests;
