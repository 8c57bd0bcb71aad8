//! The exporters against a real rsyslog (`tests/peers/rsyslog.rs`): every
//! record arrives once over TCP, TLS and UDP, parsed by rsyslog into the
//! mapped PRI, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID,
//! STRUCTURED-DATA and MSG.

use std::collections::HashMap;
use std::sync::Arc;

use tracing_core::Level;
use tracing_mplog::wire::{OwnedField, OwnedValue};

use super::rsyslog::{Line, Rsyslog};
use crate::forward::record::sample;
use crate::forward::{Destination, Record, exporter};
use crate::record::Client;

/// Records per protocol.
const N: usize = 300;

fn origin(host: &str, name: &str, pid: u32) -> Arc<Client> {
    Arc::new(Client {
        conn: u64::from(pid),
        pid,
        start_time_ns: 0,
        process_name: name.into(),
        host: host.into(),
    })
}

fn field(name: &str, value: OwnedValue) -> OwnedField {
    OwnedField {
        name: name.into(),
        value,
    }
}

/// Record `i` of protocol number `p`, and the line rsyslog must write for
/// it (spelled out here, not computed by the encoder).
fn case(p: usize, i: usize, origins: &[Arc<Client>; 3]) -> (Record, Line) {
    let mut e = sample::event();
    // Protocol p sends at 12+p o'clock; record i at i ms and 456.789 µs.
    e.timestamp_ns = 1_764_676_800_000_000_000
        + (p as i64) * 3_600_000_000_000
        + (i as i64) * 1_000_000
        + 456_789;
    let timestamp = format!(
        "2025-12-02T{:02}:00:{:02}.{:03}456+00:00",
        12 + p,
        i / 1000,
        i % 1000
    );
    let (hostname, app_name, procid) = [
        ("host-a", "worker-1", "100"),
        ("my_host", "app__", "200"),
        ("-", "-", "300"),
    ][i % 3];
    let (level, severity) = [
        (Level::ERROR, 3),
        (Level::WARN, 4),
        (Level::INFO, 6),
        (Level::DEBUG, 7),
        (Level::TRACE, 7),
    ][i % 5];
    e.level = level;
    let (target, msgid) = match i % 4 {
        0 => ("app::jobs".to_owned(), "app::jobs".to_owned()),
        1 => ("a target with spaces".into(), "a_target_with_spaces".into()),
        2 => (String::new(), "-".to_owned()),
        _ => ("x".repeat(40), "x".repeat(32)),
    };
    e.target = target;
    let (fields, sd) = match i % 4 {
        0 => (vec![], "-".to_owned()),
        1 => (
            vec![
                field("seq", OwnedValue::U64(i as u64)),
                field("user", OwnedValue::Str("ann \"a\"]".into())),
                field("path", OwnedValue::Debug(r"C:\x".into())),
            ],
            format!(r#"[mplog@32473 seq="{i}" user="ann \"a\"\]" path="C:\\x"]"#),
        ),
        2 => (
            vec![
                field("r#type", OwnedValue::Str("é ü".into())),
                field("ok", OwnedValue::Bool(true)),
                field("ratio", OwnedValue::F64(0.25)),
                field("n", OwnedValue::I64(-7)),
            ],
            r#"[mplog@32473 type="é ü" ok="true" ratio="0.25" n="-7"]"#.to_owned(),
        ),
        _ => (
            vec![field("bad name=x", OwnedValue::Debug("Some(3)".into()))],
            r#"[mplog@32473 bad_name_x="Some(3)"]"#.to_owned(),
        ),
    };
    e.fields = fields;
    let (message, msg) = match i % 7 {
        0 => (String::new(), String::new()),
        1 => (format!("plain message {i}"), format!("plain message {i}")),
        2 => (format!("ünïcödé {i} | pipe"), format!("ünïcödé {i} | pipe")),
        3 => (format!("two\nlines {i}"), format!("two#012lines {i}")),
        _ => (format!("[not sd] {i}"), format!("[not sd] {i}")),
    };
    e.message = Some(message);
    let r = Record::from_event(e, &origins[i % 3], 0);
    let line = Line {
        pri: 8 + severity,
        timestamp,
        hostname: hostname.into(),
        app_name: app_name.into(),
        procid: procid.into(),
        msgid,
        structured_data: sd,
        msg,
    };
    (r, line)
}

#[test]
fn every_record_reaches_rsyslog_once_with_the_mapped_values_over_tcp_tls_and_udp() {
    let Some(mut rsyslog) = Rsyslog::start() else {
        return;
    };
    let origins = [
        origin("host-a", "worker-1", 100),
        origin("my host", "app é", 200),
        origin("", "", 300),
    ];
    let mut dests = vec![
        (
            0,
            Destination::parse(&format!("syslog+tcp://127.0.0.1:{}", rsyslog.tcp_port)),
        ),
        (
            2,
            Destination::parse(&format!("syslog+udp://127.0.0.1:{}", rsyslog.udp_port)),
        ),
    ];
    // Without the `tls` feature syslog+tls is refused (tested in mod.rs).
    #[cfg(feature = "tls")]
    dests.insert(
        1,
        (
            1,
            Destination::parse(&format!("syslog+tls://127.0.0.1:{}", rsyslog.tls_port))
                .map(|d| d.tls_ca(&rsyslog.ca_file)),
        ),
    );
    let mut expected = HashMap::new();
    for (p, dest) in dests {
        let dest = dest.expect("destination");
        let mut exporter = exporter(&dest).expect("exporter");
        let cases: Vec<_> = (0..N).map(|i| case(p, i, &origins)).collect();
        let records: Vec<_> = cases.iter().map(|(r, _)| Arc::new(r.clone())).collect();
        let before = expected.len();
        for (n, batch) in records.chunks(64).enumerate() {
            exporter
                .export(batch)
                .unwrap_or_else(|e| panic!("{}: {e}", dest.url()));
            if p == 2 {
                // UDP has no flow control: a burst larger than the relay's
                // receive buffer is dropped by the kernel. Wait for each
                // batch, as a relay keeping up would take it.
                rsyslog.wait_at_least(before + n * 64 + batch.len());
            }
        }
        exporter.close();
        for (_, line) in cases {
            assert!(expected.insert(line.timestamp.clone(), line).is_none());
        }
        rsyslog.wait_at_least(expected.len());
    }
    let lines = rsyslog.wait_lines(expected.len());
    assert_eq!(
        lines.len(),
        expected.len(),
        "every record once, nothing else"
    );
    for line in lines {
        let want = expected
            .remove(&line.timestamp)
            .unwrap_or_else(|| panic!("unexpected or repeated line {line:?}"));
        assert_eq!(line, want);
    }
    assert!(
        expected.is_empty(),
        "missing: {:?}",
        expected.values().next()
    );
}

#[test]
fn a_udp_message_over_the_limit_arrives_cut_with_its_header() {
    let Some(mut rsyslog) = Rsyslog::start() else {
        return;
    };
    let dest = Destination::parse(&format!("syslog+udp://127.0.0.1:{}", rsyslog.udp_port))
        .expect("destination")
        .max_datagram(480);
    let mut exporter = exporter(&dest).expect("exporter");
    let r = sample::record_with(|e| e.message = Some("é".repeat(400)));
    let big_sd = sample::record_with(|e| {
        e.message = Some("é".repeat(400));
        e.fields[4].value = OwnedValue::Str("z".repeat(500));
        e.timestamp_ns += 1000;
    });
    exporter
        .export(&[Arc::new(r), Arc::new(big_sd)])
        .expect("export");
    let lines = rsyslog.wait_lines(2);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let header = "<14>1 2025-12-02T12:00:00.123456+00:00 host-a worker-1 4242 app::jobs ";
    let sd =
        r#"[mplog@32473 count="-3" big="7" ratio="0.5" ok="true" user="ann \"a\"\]" err="Oops"]"#;
    for (line, sd, ts) in [
        (&lines[0], sd, "2025-12-02T12:00:00.123456+00:00"),
        (&lines[1], "-", "2025-12-02T12:00:00.123457+00:00"),
    ] {
        assert_eq!(
            (
                line.pri,
                line.timestamp.as_str(),
                line.hostname.as_str(),
                line.app_name.as_str(),
                line.procid.as_str(),
                line.msgid.as_str(),
                line.structured_data.as_str(),
            ),
            (14, ts, "host-a", "worker-1", "4242", "app::jobs", sd)
        );
        // The datagram was 479 or 480 octets; MSG is whole characters.
        let room = 480 - header.len() - sd.len() - 1;
        assert!(line.msg.chars().all(|c| c == 'é'), "{line:?}");
        assert_eq!(line.msg.len(), room / 2 * 2, "{line:?}");
    }
}

#[test]
fn after_rsyslog_restarts_the_next_batch_goes_to_the_new_connection_whole() {
    let Some(mut rsyslog) = Rsyslog::start() else {
        return;
    };
    let mut dests = vec![Destination::parse(&format!(
        "syslog+tcp://127.0.0.1:{}",
        rsyslog.tcp_port
    ))];
    #[cfg(feature = "tls")]
    dests.push(
        Destination::parse(&format!("syslog+tls://127.0.0.1:{}", rsyslog.tls_port))
            .map(|d| d.tls_ca(&rsyslog.ca_file)),
    );
    let mut exporters: Vec<_> = dests
        .into_iter()
        .map(|d| exporter(&d.expect("destination")).expect("exporter"))
        .collect();
    let batch = |round: usize| -> Vec<Arc<Record>> {
        (0..20)
            .map(|i| {
                Arc::new(sample::record_with(|e| {
                    e.message = Some(format!("round {round} record {i}"));
                }))
            })
            .collect()
    };
    for exp in &mut exporters {
        exp.export(&batch(1)).expect("before the restart");
    }
    let mut want = 20 * exporters.len();
    rsyslog.wait_at_least(want);
    // rsyslog closes its connections as it stops; the exporters' next
    // export must notice and reconnect, not write into the closed ones
    // (which the kernel would take, then lose).
    rsyslog.restart();
    for exp in &mut exporters {
        exp.export(&batch(2)).expect("after the restart");
    }
    want *= 2;
    let lines = rsyslog.wait_lines(want);
    assert_eq!(lines.len(), want);
    for round in [1, 2] {
        for i in 0..20 {
            let msg = format!("round {round} record {i}");
            let n = lines.iter().filter(|l| l.msg == msg).count();
            assert_eq!(n, exporters.len(), "{msg}");
        }
    }
}
