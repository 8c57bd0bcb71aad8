//! This project: worker processes → the sink, over a Unix socket or
//! loopback TCP/TLS.

use std::error::Error;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tracing_mplog::Endpoint;
use tracing_mplog_sink::format::FormatLevel;
use tracing_mplog_sink::forward::Destination;
use tracing_mplog_sink::sink::{AlertOn, AlertRule};
use tracing_mplog_sink::{ProcessKey, Sink};

use crate::args::Args;
use crate::common::{self, Caller, DATEFMT, MAX_BYTES, TEMPLATE};
use crate::outcome::Outcome;

/// How the workers reach the sink.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Transport {
    /// A Unix socket (acknowledged delivery off, its default there).
    Unix,
    /// Loopback TCP, with or without acknowledged delivery.
    Tcp { ack: bool },
    /// Loopback TLS (a certificate made with rcgen), with or without
    /// acknowledged delivery.
    Tls { ack: bool },
}

/// A CA certificate and a server certificate for `127.0.0.1` signed by
/// it, written into `dir`: (CA file, certificate file, key file).
fn certificates(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf), Box<dyn Error>> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])?.signed_by(&key, &issuer)?;
    let files = (
        dir.join("ca.crt"),
        dir.join("sink.crt"),
        dir.join("sink.key"),
    );
    std::fs::write(&files.0, issuer.pem())?;
    std::fs::write(&files.1, cert.pem())?;
    std::fs::write(&files.2, key.serialize_pem())?;
    Ok(files)
}

/// The sink process: starts the sink (consolidated file, plus one file per
/// worker unless `consolidated_only`), spawns the workers, waits, shuts the
/// sink down (drained, flushed, synced) and counts every line on disk.
pub(crate) fn run(
    args: &Args,
    consolidated_only: bool,
    transport: Transport,
) -> Result<Outcome, Box<dyn Error>> {
    let logdir = args.dir.join("logs");
    let keys = if consolidated_only {
        Vec::new()
    } else {
        vec![ProcessKey::Name]
    };
    let mut worker_env: Vec<(&str, String)> = Vec::new();
    let builder = match transport {
        Transport::Unix => Sink::builder().listen(Endpoint::Unix(args.dir.join("sink.sock"))),
        Transport::Tcp { ack } => {
            worker_env.push(("TRACING_MPLOG_ACK", u8::from(ack).to_string()));
            Sink::builder().listen("tcp://127.0.0.1:0".parse()?)
        }
        Transport::Tls { ack } => {
            let (ca, cert, key) = certificates(&args.dir)?;
            worker_env.push(("TRACING_MPLOG_ACK", u8::from(ack).to_string()));
            worker_env.push(("TRACING_MPLOG_TLS_CA", ca.display().to_string()));
            Sink::builder()
                .listen("tls://127.0.0.1:0".parse()?)
                .tls_cert(cert)
                .tls_key(key)
        }
    };
    // `pipeline-monitor`: the same, with `/metrics` served and two alert
    // rules evaluated on every event (the monitor's overhead row).
    let monitored = args.scenario.as_deref() == Some(crate::args::MONITOR);
    let builder = if monitored {
        let mut burst = AlertRule::new("error-burst", AlertOn::Level);
        burst.count = 20;
        let mut panics = AlertRule::new("panics", AlertOn::Match);
        panics.regex = Some("panicked at".to_owned());
        builder
            .metrics_listen("127.0.0.1:0")
            .alert(burst)
            .alert(panics)
    } else {
        builder
    };
    // `pipeline-forward`: the same, forwarding every record to rsyslogd
    // and an OTLP receiver too; queues that hold the whole run, so the row
    // measures delivery, not drops.
    let total = args.workers as u64 * args.events;
    let scenario = args.scenario.as_deref().unwrap_or_default();
    let destinations = if crate::args::FORWARD.contains(&scenario) {
        let syslog = !scenario.ends_with("-otlp");
        let otlp = !scenario.ends_with("-syslog");
        Some(crate::forward::Destinations::start(syslog, otlp)?)
    } else {
        None
    };
    let mut builder = builder;
    if let Some(d) = &destinations {
        for url in d.urls() {
            let queue = usize::try_from(total)?;
            builder = builder.forward(Destination::parse(&url)?.queue(queue));
        }
        builder = builder.forward_drain(std::time::Duration::from_secs(600));
    }
    let sink_cpu = common::process_cpu_ns();
    let handle = builder
        .logdir(&logdir)
        .name("bench")
        .consolidate(true)
        .process_key(keys)
        .format(FormatLevel::Default, TEMPLATE)
        .datefmt(DATEFMT)
        .max_bytes(MAX_BYTES)
        .start()?;
    let exe = std::env::current_exe()?;
    let children = (0..args.workers)
        .map(|w| {
            let mut cmd = Command::new(&exe);
            cmd.args([
                "--worker-id",
                &w.to_string(),
                "--events",
                &args.events.to_string(),
            ])
            .env("TRACING_MPLOG_PROCESS_NAME", format!("worker-{w}"))
            .env("RUST_LOG", "info")
            .envs(worker_env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped());
            handle.configure_command(&mut cmd);
            cmd.spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut wall_ns = 0.0;
    let mut cpu_ns = 0.0;
    let mut worker_cpu_ns = 0.0;
    let mut first_event_ns = f64::MAX;
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!("a worker failed: {}", out.status).into());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        for kv in text.split_whitespace() {
            if let Some(v) = kv.strip_prefix("caller_ns=") {
                wall_ns += v.parse::<f64>()?;
            }
            if let Some(v) = kv.strip_prefix("caller_cpu_ns=") {
                cpu_ns += v.parse::<f64>()?;
            }
            if let Some(v) = kv.strip_prefix("worker_cpu_ns=") {
                worker_cpu_ns += v.parse::<f64>()?;
            }
            if let Some(v) = kv.strip_prefix("first_event_ns=") {
                first_event_ns = first_event_ns.min(v.parse::<f64>()?);
            }
        }
    }
    // With destinations: returns once they took every record, too.
    let report = handle.shutdown()?;
    let sink_cpu_ns = (common::process_cpu_ns() - sink_cpu) / total as f64;
    // From the first event any worker logged (the machine's monotonic clock)
    // to every connection drained and every file flushed and fsynced: the
    // workers' process start-up, which the in-process baselines do not pay,
    // is not counted.
    let seconds = (common::monotonic_ns() - first_event_ns) / 1e9;
    eprintln!("{report}");
    let consolidated = common::files_with_prefix(&logdir, "bench.log")?;
    let mut count = common::count_records(&consolidated, args.workers, None, args.events)?;
    if !consolidated_only {
        for w in 0..args.workers {
            let files = common::files_with_prefix(&logdir, &format!("worker-{w}.log"))?;
            count += common::count_records(&files, args.workers, Some(w), args.events)?;
        }
    }
    if let Some(d) = &destinations {
        for f in &report.forwards {
            if f.forwarded != total || f.dropped != 0 {
                return Err(format!(
                    "{}: forwarded {}, dropped {} of {total}",
                    f.destination, f.forwarded, f.dropped
                )
                .into());
            }
        }
        let (syslog, otlp) = d.wait_delivered(total, std::time::Duration::from_secs(120))?;
        if syslog != total || otlp != total {
            return Err(format!(
                "delivered: rsyslog wrote {syslog}, the OTLP receiver counted {otlp}, of {total}"
            )
            .into());
        }
    }
    let name = match (transport, consolidated_only) {
        (Transport::Unix, true) => "pipeline-consolidated",
        (Transport::Unix, false) if monitored => crate::args::MONITOR,
        (Transport::Unix, false) if destinations.is_some() => scenario,
        (Transport::Unix, false) => "pipeline",
        (Transport::Tcp { ack: false }, _) => "pipeline-tcp",
        (Transport::Tcp { ack: true }, _) => "pipeline-tcp-ack",
        (Transport::Tls { ack: false }, _) => "pipeline-tls",
        (Transport::Tls { ack: true }, _) => "pipeline-tls-ack",
    };
    let n = args.workers as f64;
    let caller = Caller {
        wall_ns: wall_ns / n,
        cpu_ns: cpu_ns / n,
    };
    let mut outcome = Outcome::new(name, args, seconds, Some(caller), count);
    outcome.sink_cpu_ns = Some(sink_cpu_ns);
    outcome.worker_cpu_ns = Some(worker_cpu_ns / n);
    Ok(outcome)
}

/// A worker process: `worker::init()`, the event mix, flush, report its cost
/// and when its first event was logged.
pub(crate) fn worker(id: usize, events: u64) -> Result<(), Box<dyn Error>> {
    let process_cpu = common::process_cpu_ns();
    let guard = tracing_mplog::worker::init()?;
    let first_event_ns = common::monotonic_ns();
    let cpu = common::thread_cpu_ns();
    common::log_mix(id, events);
    let caller_cpu_ns = (common::thread_cpu_ns() - cpu) / events as f64;
    let caller_ns = (common::monotonic_ns() - first_event_ns) / events as f64;
    guard.flush()?;
    drop(guard);
    let worker_cpu_ns = (common::process_cpu_ns() - process_cpu) / events as f64;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "caller_ns={caller_ns:.1} caller_cpu_ns={caller_cpu_ns:.1} worker_cpu_ns={worker_cpu_ns:.1} first_event_ns={first_event_ns:.0}"
    )?;
    Ok(())
}
