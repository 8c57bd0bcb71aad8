//! The sink's `/metrics`: fetched over plain HTTP, samples read from the
//! Prometheus text.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::TIMEOUT;
use crate::wait::wait_until;

/// `GET path` on `addr` (`HOST:PORT`); the body of the answer, which must
/// be a 200.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// The value of the sample `name{labels…}` in `body` whose labels include
/// all of `labels` (the first such sample; with no labels, the first of
/// that name).
pub fn metric(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let (labelled, plain) = (format!("{name}{{"), format!("{name} "));
    body.lines()
        .filter(|l| l.starts_with(&labelled) || l.starts_with(&plain))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Scrapes `http://{addr}/metrics` until `ready` holds for the body, for
/// at most `timeout`; returns that body. The panic names `what` and shows
/// the last scrape.
pub fn scrape_until(
    addr: &str,
    timeout: Duration,
    what: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    wait_until(timeout, what, || {
        let body = http_get(addr, "/metrics");
        if ready(&body) {
            Ok(body)
        } else {
            Err(format!("last scrape:\n{body}"))
        }
    })
}
