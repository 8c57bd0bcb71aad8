//! The Python listener (`Builder::python_listen`, issue 15) against bad
//! input: each bad frame closes its own connection with the reason in the
//! sink's log while the other connections carry on; Unix peers get the uid
//! check; endpoints SocketHandler cannot protect are refused at start.
//! (Real Python processes: `tests/python.rs` of the workspace.)
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use mplog_test_support::{pickle_dict, with_length};
use tracing_mplog::Endpoint;
use tracing_mplog_sink::{ProcessKey, Sink, SinkError};

/// A `SocketHandler` record of process `process_name` at WARNING.
fn record(process_name: &str, pid: i32, msg: &str) -> Vec<u8> {
    with_length(&pickle_dict(
        &[
            ("name", "app"),
            ("msg", msg),
            ("levelname", "WARNING"),
            ("processName", process_name),
        ],
        &[("levelno", 30), ("process", pid)],
    ))
}

/// Waits (bounded) until the sink closes `conn`.
fn closed_by_sink(conn: &mut UnixStream) -> bool {
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut b = [0u8; 1];
    matches!(conn.read(&mut b), Ok(0) | Err(_))
}

fn unix(path: &Path) -> Endpoint {
    Endpoint::Unix(path.to_owned())
}

/// A sink in `dir` with a native socket (`rs.sock`), a Python socket
/// (`py.sock`, returned) and a consolidated `all.log` under `logs/`.
fn python_sink(dir: &Path) -> (tracing_mplog_sink::sink::Builder, std::path::PathBuf) {
    let py = dir.join("py.sock");
    let builder = Sink::builder()
        .listen(unix(&dir.join("rs.sock")))
        .python_listen(unix(&py))
        .logdir(dir.join("logs"))
        .name("all")
        .consolidate(true);
    (builder, py)
}

#[test]
fn each_bad_frame_closes_its_own_connection_and_the_rest_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (builder, py) = python_sink(dir.path());
    let sink = builder
        .process_key([ProcessKey::Name])
        .default_format("%(processName)s %(levelname)s %(levelno)d %(name)s: %(message)s")
        .max_frame_size(64 * 1024)
        .start()
        .expect("sink starts");

    let mut good = UnixStream::connect(&py).expect("connect");
    good.write_all(&record("py-good", 7, "first"))
        .expect("send");

    // Oversized: a length over max_frame_size.
    let mut big = UnixStream::connect(&py).expect("connect");
    big.write_all(&record("py-big", 8, "before")).expect("send");
    big.write_all(&(1u32 << 20).to_be_bytes()).expect("send");
    assert!(closed_by_sink(&mut big));

    // Code: GLOBAL posix.system + REDUCE, as pickle.dumps of a __reduce__.
    let mut evil = UnixStream::connect(&py).expect("connect");
    evil.write_all(&with_length(b"cposix\nsystem\n(S'touch /tmp/x'\ntR."))
        .expect("send");
    assert!(closed_by_sink(&mut evil));

    // Not a dict.
    let mut list = UnixStream::connect(&py).expect("connect");
    list.write_all(&with_length(b"].")).expect("send");
    assert!(closed_by_sink(&mut list));

    // The good connection is still served.
    good.write_all(&record("py-good", 7, "second"))
        .expect("send");
    drop(good);
    // A truncated frame at the end of a connection.
    let mut cut = UnixStream::connect(&py).expect("connect");
    let whole = record("py-cut", 9, "never");
    cut.write_all(&whole[..whole.len() - 3]).expect("send");
    drop(cut);

    let report = sink.shutdown().expect("shutdown");
    let all = std::fs::read_to_string(dir.path().join("logs/all.log")).expect("all.log");
    let lines: Vec<&str> = all.lines().collect();
    let count = |s: &str| lines.iter().filter(|l| **l == s).count();
    assert_eq!(count("py-good WARNING 30 app: first"), 1, "{all}");
    assert_eq!(count("py-good WARNING 30 app: second"), 1, "{all}");
    assert_eq!(count("py-big WARNING 30 app: before"), 1, "{all}");
    assert!(!all.contains("never"), "{all}");
    let said = |what: &str| lines.iter().any(|l| l.contains(what));
    assert!(said("oversized frame"), "{all}");
    assert!(said("opcode GLOBAL (code, not data)"), "{all}");
    assert!(said("not a LogRecord dict"), "{all}");
    assert!(said("truncated frame"), "{all}");
    let good_file = std::fs::read_to_string(dir.path().join("logs/py-good.log")).expect("file");
    assert_eq!(
        good_file,
        "py-good WARNING 30 app: first\npy-good WARNING 30 app: second\n"
    );
    let good = report
        .processes
        .iter()
        .find(|p| p.process_name == "py-good")
        .expect("py-good in the report");
    assert_eq!((good.pid, good.received, good.clean), (7, 2, true));
    let big = report
        .processes
        .iter()
        .find(|p| p.process_name == "py-big")
        .expect("py-big in the report");
    assert!(
        !big.clean
            && big
                .error
                .as_deref()
                .is_some_and(|e| e.contains("oversized"))
    );
}

#[test]
fn unix_python_peers_get_the_uid_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (builder, py) = python_sink(dir.path());
    // SAFETY: getuid has no preconditions.
    let me = unsafe { libc::getuid() };
    let sink = builder
        .allowed_uids([me.wrapping_add(4242)])
        .start()
        .expect("sink starts");
    let mut conn = UnixStream::connect(&py).expect("connect");
    let _ = conn.write_all(&record("py-x", 3, "refused"));
    assert!(closed_by_sink(&mut conn));
    assert_eq!(sink.rejections().peer_uid, 1);
    sink.shutdown().expect("shutdown");
    let all = std::fs::read_to_string(dir.path().join("logs/all.log")).expect("all.log");
    assert!(!all.contains("py-x"), "{all}");
}

#[test]
fn endpoints_socket_handler_cannot_protect_are_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = |ep: &str, insecure: bool| {
        Sink::builder()
            .listen(unix(&dir.path().join("rs.sock")))
            .python_listen(ep.parse().expect("endpoint"))
            .logdir(dir.path().join("logs"))
            .insecure(insecure)
            .start()
    };
    for ep in ["tcp://0.0.0.0:0", "tls://127.0.0.1:0"] {
        let err = start(ep, false).expect_err(ep);
        assert!(
            matches!(
                err,
                SinkError::Config {
                    field: "python_listen",
                    ..
                }
            ),
            "{err}"
        );
    }
    // With --insecure, a non-loopback Python endpoint is the user's choice.
    let sink = start("tcp://0.0.0.0:0", true).expect("insecure allows it");
    sink.shutdown().expect("shutdown");
}

#[test]
fn one_connection_carrying_two_processes_fills_both_files() {
    // A handler inherited across a fork: the parent's and the child's
    // records arrive on one socket, interleaved.
    let dir = tempfile::tempdir().expect("tempdir");
    let (builder, py) = python_sink(dir.path());
    let sink = builder
        .process_key([ProcessKey::Name, ProcessKey::Pid])
        .default_format("%(processName)s[%(process)d] %(message)s")
        .start()
        .expect("sink starts");
    let mut conn = UnixStream::connect(&py).expect("connect");
    for n in 0..6 {
        let (name, pid) = if n % 2 == 0 {
            ("main", 10)
        } else {
            ("child", 11)
        };
        conn.write_all(&record(name, pid, &format!("m{n}")))
            .expect("send");
    }
    drop(conn);
    let report = sink.shutdown().expect("shutdown");
    let read = |f: &str| std::fs::read_to_string(dir.path().join("logs").join(f)).expect(f);
    assert_eq!(
        read("main.10.log"),
        "main[10] m0\nmain[10] m2\nmain[10] m4\n"
    );
    assert_eq!(
        read("child.11.log"),
        "child[11] m1\nchild[11] m3\nchild[11] m5\n"
    );
    let all = read("all.log");
    for n in 0..6 {
        assert_eq!(all.matches(&format!("] m{n}\n")).count(), 1, "{all}");
    }
    let received: u64 = report
        .processes
        .iter()
        .filter(|p| p.pid == 10 || p.pid == 11)
        .map(|p| p.received)
        .sum();
    assert_eq!(received, 6);
}
