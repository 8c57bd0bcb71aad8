//! `mplog-sink status`: asks a running sink's `/metrics` and prints one
//! row per process. Exit status 1 when no sink answers.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::CliError;

/// How long `status` waits for the sink.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print every process the running sink knows: connected or not, clean
    /// or unclean end, events by level, dropped, seconds since its last
    /// event. Exit status 1 when no sink answers.
    Status(StatusArgs),
    /// Follow the running sink live: print each record it writes, as the
    /// files show it (or --json), until interrupted; filters by level,
    /// process and target; --lines N prints the last N records first
    Tail(crate::tail::TailArgs),
}

/// The flags of `mplog-sink status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    sink: SinkAddr,
}

/// Where a subcommand finds the running sink: as `status` and `tail` do.
#[derive(Debug, clap::Args)]
pub(crate) struct SinkAddr {
    /// The sink's --metrics-listen address (HOST:PORT, or a bare PORT on 127.0.0.1)
    #[arg(long = "metrics-listen", value_name = "HOST:PORT")]
    metrics_listen: Option<String>,

    /// Read `metrics-listen` from this config file (the flag wins)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl SinkAddr {
    /// `HOST:PORT` of the sink's metrics server.
    pub(crate) fn resolve(self) -> Result<String, CliError> {
        let from_file = match &self.config {
            Some(path) => crate::config::load_file(path)?.values.metrics_listen,
            None => None,
        };
        let Some(addr) = self.metrics_listen.or(from_file) else {
            return Err(CliError::NoSink {
                addr: "(none)".into(),
                reason: "give --metrics-listen HOST:PORT or a --config with `metrics-listen`"
                    .into(),
            });
        };
        Ok(
            match addr.strip_prefix(':').unwrap_or(&addr).parse::<u16>() {
                Ok(port) => format!("127.0.0.1:{port}"),
                Err(_) => addr,
            },
        )
    }
}

impl Command {
    pub(crate) fn run(self) -> ExitCode {
        let args = match self {
            Command::Status(args) => args,
            Command::Tail(args) => return crate::tail::run(args),
        };
        match status(args) {
            Ok(table) => {
                print!("{table}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("mplog-sink status: {err}");
                ExitCode::from(err.exit_code() as u8)
            }
        }
    }
}

fn status(args: StatusArgs) -> Result<String, CliError> {
    let addr = args.sink.resolve()?;
    let body = get_metrics(&addr).map_err(|reason| CliError::NoSink {
        addr: addr.clone(),
        reason,
    })?;
    Ok(table(&parse(&body), SystemTime::now()))
}

/// A connection to the sink's metrics server, with `TIMEOUT` on reads
/// and writes.
pub(crate) fn connect(addr: &str) -> Result<TcpStream, String> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("resolves to no address")?;
    let stream = TcpStream::connect_timeout(&sock, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// `GET /metrics` over HTTP/1.1; the body of a 200 answer.
fn get_metrics(addr: &str) -> Result<String, String> {
    let mut stream = connect(addr)?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .take(64 << 20)
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("not an HTTP answer")?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!(
            "answered {:?}, not a sink's metrics",
            head.lines().next().unwrap_or("")
        ));
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(dechunk(body));
    }
    Ok(body.to_owned())
}

/// The body of a chunked answer.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// One sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// The samples of a Prometheus text exposition.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => match line.split_once(' ') {
                Some((n, v)) => {
                    if let Ok(v) = v.trim().parse() {
                        out.push((n.to_owned(), BTreeMap::new(), v));
                    }
                    continue;
                }
                None => continue,
            },
        };
        let mut labels = BTreeMap::new();
        let mut chars = rest.char_indices().peekable();
        let mut key = String::new();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    end = i + 1;
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    let mut value = String::new();
                    chars.next(); // the opening quote
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '\\' => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(c) => value.push(c),
                                None => {}
                            },
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                c => key.push(c),
            }
        }
        if let Ok(v) = rest[end..].trim().parse::<f64>() {
            out.push((name.to_owned(), labels, v));
        }
    }
    out
}

/// Per process (name, pid, host): state, events by level, dropped, last.
#[derive(Default)]
struct Row {
    state: String,
    levels: [u64; 5],
    dropped: u64,
    last: Option<f64>,
}

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

fn table(samples: &[Sample], now: SystemTime) -> String {
    let mut rows: BTreeMap<(String, u64, String), Row> = BTreeMap::new();
    for (name, labels, value) in samples {
        let (Some(p), Some(pid), Some(h)) = (
            labels.get("process"),
            labels.get("pid").and_then(|p| p.parse().ok()),
            labels.get("host"),
        ) else {
            continue;
        };
        let row = rows.entry((p.clone(), pid, h.clone())).or_default();
        match name.as_str() {
            "mplog_events_received_total" => {
                if let Some(i) = LEVELS
                    .iter()
                    .position(|l| labels.get("level").map(String::as_str) == Some(l))
                {
                    row.levels[i] = *value as u64;
                }
            }
            "mplog_events_dropped_total" => row.dropped += *value as u64,
            "mplog_process_last_event_timestamp_seconds" => row.last = Some(*value),
            "mplog_process_state" if *value > 0.0 => {
                row.state = match labels.get("state").map(String::as_str) {
                    Some("connected") => "connected".into(),
                    Some("clean") => "ended clean".into(),
                    Some(other) => format!("ended {other}"),
                    None => "?".into(),
                };
            }
            _ => {}
        }
    }
    let now = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let mut out = format!(
        "{:<20} {:>8} {:<16} {:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}\n",
        "process",
        "pid",
        "host",
        "state",
        "trace",
        "debug",
        "info",
        "warn",
        "error",
        "dropped",
        "last(s)"
    );
    for ((p, pid, h), r) in &rows {
        let last = r
            .last
            .map_or_else(|| "-".to_owned(), |t| format!("{:.0}", (now - t).max(0.0)));
        out.push_str(&format!(
            "{:<20} {:>8} {:<16} {:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}\n",
            p,
            pid,
            h,
            r.state,
            r.levels[0],
            r.levels[1],
            r.levels[2],
            r.levels[3],
            r.levels[4],
            r.dropped,
            last
        ));
    }
    if rows.is_empty() {
        out.push_str("(no processes)\n");
    }
    out.push_str(&destinations(samples));
    out
}

/// Per forwarding destination: up or down, forwarded, dropped, queued
/// (nothing without destinations).
fn destinations(samples: &[Sample]) -> String {
    // URL → [up, forwarded, dropped, queued]
    let mut rows: BTreeMap<&str, [f64; 4]> = BTreeMap::new();
    for (name, labels, value) in samples {
        let Some(url) = labels.get("destination") else {
            continue;
        };
        let column = match name.as_str() {
            "mplog_forward_up" => 0,
            "mplog_forwarded_total" => 1,
            "mplog_forward_dropped_total" => 2,
            "mplog_forward_queued" => 3,
            _ => continue,
        };
        rows.entry(url.as_str()).or_default()[column] = *value;
    }
    if rows.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n{:<40} {:<5} {:>12} {:>10} {:>8}\n",
        "destination", "state", "forwarded", "dropped", "queued"
    );
    for (url, [up, forwarded, dropped, queued]) in rows {
        out.push_str(&format!(
            "{:<40} {:<5} {:>12} {:>10} {:>8}\n",
            url,
            if up > 0.0 { "up" } else { "down" },
            forwarded as u64,
            dropped as u64,
            queued as u64
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_becomes_one_row_per_process() {
        let text = "# HELP x\n\
            mplog_events_received_total{process=\"w \\\"a\\\"\",pid=\"7\",host=\"h\",level=\"error\"} 3\n\
            mplog_events_received_total{process=\"w \\\"a\\\"\",pid=\"7\",host=\"h\",level=\"info\"} 5\n\
            mplog_events_dropped_total{process=\"w \\\"a\\\"\",pid=\"7\",host=\"h\",reason=\"oversized\"} 2\n\
            mplog_process_last_event_timestamp_seconds{process=\"w \\\"a\\\"\",pid=\"7\",host=\"h\"} 100.0\n\
            mplog_process_state{process=\"w \\\"a\\\"\",pid=\"7\",host=\"h\",state=\"unclean\"} 1\n\
            mplog_connections_active{transport=\"unix\"} 0\n";
        let t = table(&parse(text), UNIX_EPOCH + Duration::from_secs(110));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        let cols: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cols,
            [
                "w", "\"a\"", "7", "h", "ended", "unclean", "0", "0", "5", "0", "3", "2", "10"
            ]
        );
    }

    #[test]
    fn destinations_get_a_table_of_their_own() {
        let text = "mplog_forwarded_total{destination=\"syslog+tcp://r:514\"} 90\n\
            mplog_forward_dropped_total{destination=\"syslog+tcp://r:514\"} 10\n\
            mplog_forward_queued{destination=\"syslog+tcp://r:514\"} 3\n\
            mplog_forward_up{destination=\"syslog+tcp://r:514\"} 0\n";
        let t = table(&parse(text), UNIX_EPOCH);
        let last: Vec<&str> = t
            .lines()
            .last()
            .expect("a row")
            .split_whitespace()
            .collect();
        assert_eq!(last, ["syslog+tcp://r:514", "down", "90", "10", "3"], "{t}");
        assert!(!table(&parse(""), UNIX_EPOCH).contains("destination"));
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }
}
