//! `GET /tail`: one follower of the live tail per request, on a thread of
//! its own, streamed as a chunked HTTP answer of log lines until the
//! client leaves or the sink stops (see [`crate::sink::tail`] for what it
//! gets and how a slow one is handled).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::sink::Shared;
use crate::sink::tail::Filter;

/// How often an idle follower's thread looks whether the sink stops.
const IDLE: Duration = Duration::from_millis(200);

/// The most a chunk gathers of the lines waiting.
const CHUNK: usize = 64 * 1024;

/// Answers a `/tail` request on a thread of its own.
pub(crate) fn spawn(shared: &Arc<Shared>, request: tiny_http::Request) {
    let shared = Arc::clone(shared);
    let started = std::thread::Builder::new()
        .name("mplog-tail".into())
        .spawn(move || follow(&shared, request));
    if let Err(e) = started {
        eprintln!("mplog-sink: cannot start a tail thread: {e}");
    }
}

fn follow(shared: &Shared, request: tiny_http::Request) {
    use tiny_http::{Method, Response};
    let Some((tail, _)) = &shared.lines.tail else {
        let _ = request.respond(Response::from_string("no tail here\n").with_status_code(404));
        return;
    };
    if request.method() != &Method::Get {
        let _ = request.respond(Response::from_string("GET /tail\n").with_status_code(405));
        return;
    }
    let query = request.url().split_once('?').map_or("", |(_, q)| q);
    let filter = match Filter::parse(query) {
        Ok(f) => f,
        Err(e) => {
            let _ = request.respond(Response::from_string(format!("{e}\n")).with_status_code(400));
            return;
        }
    };
    let rx = tail.follow(filter);
    let mut out = request.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
                Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    if out
        .write_all(head.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
    {
        stream(shared, &rx, &mut out);
    }
    drop(rx);
    tail.prune();
}

/// Writes the follower's lines as chunks until it leaves or the sink stops.
fn stream(shared: &Shared, rx: &flume::Receiver<String>, out: &mut dyn Write) {
    let mut chunk = String::new();
    while !shared.monitor.stop.load(Ordering::Acquire) {
        match rx.recv_timeout(IDLE) {
            Ok(line) => chunk.push_str(&line),
            Err(flume::RecvTimeoutError::Timeout) => continue,
            Err(flume::RecvTimeoutError::Disconnected) => break,
        }
        while chunk.len() < CHUNK {
            match rx.try_recv() {
                Ok(line) => chunk.push_str(&line),
                Err(_) => break,
            }
        }
        let sent = write!(out, "{:x}\r\n{chunk}\r\n", chunk.len()).and_then(|()| out.flush());
        if sent.is_err() {
            return;
        }
        chunk.clear();
    }
    // The last chunk: the follower sees the end of the answer.
    let _ = out.write_all(b"0\r\n\r\n").and_then(|()| out.flush());
}
