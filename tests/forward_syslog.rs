//! Forwarding to a real rsyslog (`tests/peers/rsyslog.rs`) with the real
//! `mplog-sink` binary and real workers: three destinations, plain TCP,
//! TLS (rsyslog's gtls driver, the CA given as `tls-ca`) and UDP (WARN
//! and above only), told apart by their facilities. The sink's files are
//! complete, and rsyslog got every forwarded record exactly once with the
//! mapped PRI, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID,
//! STRUCTURED-DATA and MSG.

#[path = "peers/rsyslog.rs"]
mod rsyslog;
mod support;

use std::collections::HashMap;

use mplog_test_support::{RunningSink, SpawnGuarded, wait_ok};
use rsyslog::{Line, Rsyslog};
use support::{Setup, assert_files_complete, file_sink};

const WORKERS: u64 = 3;
const EVENTS: u64 = 2_000;

/// (scheme, facility): the facility tells rsyslog's lines apart.
const TCP_FACILITY: u16 = 1;
const TLS_FACILITY: u16 = 16;
const UDP_FACILITY: u16 = 17;

/// A UTC time as rsyslog prints TIMESTAMP: `2025-12-02T12:00:00.123456+00:00`
/// (through `time`'s own formatter, not the exporter's code).
fn rfc3339(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    t.format(&format).expect("format a UTC time")
}

/// What rsyslog must show for event `n` of worker `id` (the test worker's
/// `typed` mode), without PRI and TIMESTAMP: (severity, SD, MSG).
fn expected(id: u64, n: u64) -> (u16, String, String) {
    let ratio = format!("{:?}", n as f64 / 4.0);
    // `user-{n} "q" \ ]` and `disk "full"]`, escaped as RFC 5424 wants.
    let user = format!(r#"user-{n} \"q\" \\ \]"#);
    let (severity, sd) = match n % 4 {
        0 => (
            4,
            format!(
                r#"[mplog@32473 n="{n}" ratio="{ratio}" even="true" user="{user}" error="disk \"full\"\]"]"#
            ),
        ),
        1 => (
            6,
            format!(r#"[mplog@32473 n="{n}" ratio="{ratio}" even="false" user="{user}"]"#),
        ),
        2 => (
            3,
            format!(r#"[mplog@32473 n="{n}" neg="-{n}" even="true"]"#),
        ),
        _ => (7, format!(r#"[mplog@32473 n="{n}"]"#)),
    };
    (severity, sd, format!("w{id} e{n}"))
}

#[test]
fn rsyslog_gets_every_forwarded_record_once_over_tcp_tls_and_udp_with_the_mapping() {
    let Some(mut rsyslog) = Rsyslog::start() else {
        return;
    };
    let s = Setup::new();
    let tcp = format!("syslog+tcp://127.0.0.1:{}", rsyslog.tcp_port);
    let tls = format!("syslog+tls://127.0.0.1:{}", rsyslog.tls_port);
    let udp = format!("syslog+udp://127.0.0.1:{}", rsyslog.udp_port);
    let config = s.write(
        "sink.toml",
        &format!(
            "[[forward]]\nurl = \"{tcp}\"\n\n\
             [[forward]]\nurl = \"{tls}\"\ntls-ca = \"{}\"\nfacility = {TLS_FACILITY}\n\n\
             [[forward]]\nurl = \"{udp}\"\nfacility = {UDP_FACILITY}\nlevel = \"warn\"\n",
            rsyslog.ca_file.display()
        ),
    );
    let mut cmd = file_sink(&s.socket(), &s.logdir());
    cmd.arg(format!("--config={}", config.display()));
    let started = time::OffsetDateTime::now_utc();
    let sink = RunningSink::start(cmd);
    sink.wait_prefix("listening on unix:");

    let workers: Vec<_> = (1..=WORKERS)
        .map(|id| {
            let mut cmd = s.worker(id, EVENTS, &["--mode", "typed", "--sleep-us", "50"]);
            cmd.env("RUST_LOG", "debug");
            cmd.spawn_guarded()
        })
        .collect();
    let pids: HashMap<u64, u32> = (1..=WORKERS).zip(workers.iter().map(|w| w.id())).collect();
    for w in workers {
        wait_ok(w);
    }
    // Shutdown drains the queues into the destinations.
    let stderr = sink.stop();
    let finished = time::OffsetDateTime::now_utc();
    let total = WORKERS * EVENTS;
    let warn_and_up = WORKERS * (EVENTS / 2);

    // The files are complete.
    assert_files_complete(&s.logdir(), WORKERS, EVENTS);

    // rsyslog got each record once per destination that takes it.
    let got = rsyslog.wait_lines((2 * total + warn_and_up) as usize);
    let host: String = tracing_mplog::origin::hostname()
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { c } else { '_' })
        .take(255)
        .collect();
    let (from, to) = (rfc3339(started), rfc3339(finished));
    let mut seen: HashMap<(u16, u64, u64), u32> = HashMap::new();
    let mut others: Vec<Line> = Vec::new();
    for line in got {
        let Some((id, n)) = line
            .msg
            .strip_prefix('w')
            .and_then(|m| m.split_once(" e"))
            .and_then(|(id, n)| Some((id.parse::<u64>().ok()?, n.parse::<u64>().ok()?)))
            .filter(|_| line.app_name.starts_with("worker-"))
        else {
            others.push(line);
            continue;
        };
        let (severity, sd, msg) = expected(id, n);
        let facility = line.pri / 8;
        assert_eq!(
            (
                line.pri % 8,
                line.hostname.as_str(),
                line.app_name.as_str(),
                line.procid.as_str(),
                line.msgid.as_str(),
                line.structured_data.as_str(),
                line.msg.as_str(),
            ),
            (
                severity,
                host.as_str(),
                format!("worker-{id}").as_str(),
                pids[&id].to_string().as_str(),
                "mplog_test_worker",
                sd.as_str(),
                msg.as_str(),
            ),
            "{line:?}"
        );
        assert!(
            line.timestamp.len() == from.len()
                && line.timestamp.ends_with("+00:00")
                && from <= line.timestamp
                && line.timestamp <= to,
            "timestamp {} outside [{from}, {to}]",
            line.timestamp
        );
        *seen.entry((facility, id, n)).or_default() += 1;
    }
    for id in 1..=WORKERS {
        for n in 1..=EVENTS {
            let mut want = vec![TCP_FACILITY, TLS_FACILITY];
            if n % 4 == 0 || n % 4 == 2 {
                want.push(UDP_FACILITY);
            }
            for facility in [TCP_FACILITY, TLS_FACILITY, UDP_FACILITY] {
                let count = seen.remove(&(facility, id, n)).unwrap_or(0);
                let wanted = u32::from(want.contains(&facility));
                assert_eq!(count, wanted, "w{id} e{n} at facility {facility}");
            }
        }
    }
    assert!(
        seen.is_empty(),
        "unexpected lines: {:?}",
        seen.keys().next()
    );
    if !others.is_empty() {
        eprintln!("{} other lines, the first: {:?}", others.len(), others[0]);
    }
    assert!(
        others.iter().all(|l| !l.app_name.starts_with("worker-")),
        "{:?}",
        others.iter().find(|l| l.app_name.starts_with("worker-"))
    );
    for (url, n) in [(&tcp, total), (&tls, total), (&udp, warn_and_up)] {
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&format!("forwarded to {url}: ")))
            .unwrap_or_else(|| panic!("no report for {url} in:\n{stderr}"));
        let forwarded: u64 = line[format!("forwarded to {url}: ").len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert!(forwarded >= n, "{line}");
        assert!(line.ends_with(", dropped 0"), "{line}");
    }
}
