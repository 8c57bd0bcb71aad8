//! The alert thread: runs each firing's actions (log, command, webhook),
//! each bounded by a timeout, and evaluates `silence` rules on the
//! writer's published snapshot. It never holds anything the writer waits
//! for: a slow, failing or hanging action only delays other actions.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use tracing_core::Level;

use super::eval::Firing;
use super::{AlertOn, Compiled, Monitor};
use crate::sink::SINK_TARGET;
use crate::sink::Shared;

/// The longest a command or a webhook may take.
pub(crate) const ACTION_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `silence` rules are checked.
const TICK: Duration = Duration::from_millis(250);

pub(crate) fn run(shared: &Shared, firings: &flume::Receiver<Firing>) {
    let monitor: &Monitor = &shared.monitor;
    // (rule, process, pid) → the last event time when it fired.
    let mut silent: HashMap<(usize, String, u32), Option<SystemTime>> = HashMap::new();
    let mut checked = Instant::now();
    // At shutdown, the queued firings get one action timeout in all.
    let mut stopping: Option<Instant> = None;
    loop {
        match firings.recv_timeout(TICK) {
            Ok(firing) => {
                if monitor.stop.load(Ordering::Acquire) {
                    let since = *stopping.get_or_insert_with(Instant::now);
                    if since.elapsed() >= ACTION_TIMEOUT {
                        let counts = &monitor.alerts[firing.rule];
                        counts.failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!(
                            "{SINK_TARGET}: alert `{}`: not run: the sink is shutting down",
                            monitor.rules[firing.rule].rule.name
                        );
                        continue;
                    }
                }
                act(shared, &firing);
            }
            Err(flume::RecvTimeoutError::Timeout) => {
                if monitor.stop.load(Ordering::Acquire) {
                    break;
                }
            }
            // The writer ended (shutdown): every firing has been run.
            Err(flume::RecvTimeoutError::Disconnected) => break,
        }
        if checked.elapsed() >= TICK {
            checked = Instant::now();
            for firing in silence(monitor, &mut silent) {
                monitor.alerts[firing.rule]
                    .fired
                    .fetch_add(1, Ordering::Relaxed);
                act(shared, &firing);
            }
        }
    }
}

/// The `silence` firings due now.
fn silence(
    monitor: &Monitor,
    state: &mut HashMap<(usize, String, u32), Option<SystemTime>>,
) -> Vec<Firing> {
    let rules: Vec<usize> = (0..monitor.rules.len())
        .filter(|&i| monitor.rules[i].rule.on == AlertOn::Silence)
        .collect();
    if rules.is_empty() {
        return Vec::new();
    }
    let snap = monitor.snapshot();
    let now = SystemTime::now();
    let mut out = Vec::new();
    for p in snap.processes.iter().filter(|p| p.counts.open > 0) {
        let Some(quiet_since) = p.counts.last_event.max(p.counts.since) else {
            continue;
        };
        let quiet = now.duration_since(quiet_since).unwrap_or_default();
        for &r in &rules {
            let c: &Compiled = &monitor.rules[r];
            if quiet < c.rule.after || !c.applies_to(&p.name) {
                continue;
            }
            let key = (r, p.name.clone(), p.pid);
            // Once per quiet spell: again only after a new event.
            if state.get(&key) == Some(&p.counts.last_event) {
                continue;
            }
            state.insert(key, p.counts.last_event);
            out.push(Firing {
                rule: r,
                time: now,
                process: p.name.clone(),
                pid: p.pid,
                host: p.counts.host.clone(),
                summary: format!(
                    "{}[{}] logged nothing for {}s",
                    p.name,
                    p.pid,
                    quiet.as_secs()
                ),
                message: None,
                level: None,
                count: None,
            });
        }
    }
    state.retain(|(_, name, pid), _| {
        snap.processes
            .iter()
            .any(|p| p.counts.open > 0 && p.pid == *pid && &p.name == name)
    });
    out
}

/// Runs every action of the firing's rule; counts and reports failures.
fn act(shared: &Shared, firing: &Firing) {
    let monitor: &Monitor = &shared.monitor;
    let c = &monitor.rules[firing.rule];
    let json = firing.to_json(&c.rule.name, c.rule.on).to_string();
    let mut failures = Vec::new();
    if let Some(path) = &c.rule.log {
        let path = monitor.logdir.join(path);
        let result = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{json}\n").as_bytes()));
        if let Err(e) = result {
            failures.push(format!("log {}: {e}", path.display()));
        }
    }
    if !c.rule.command.is_empty() {
        if let Err(e) = command(&c.rule.command, firing, c, &json) {
            failures.push(format!("command {:?}: {e}", c.rule.command[0]));
        }
    }
    if let Some(url) = &c.webhook {
        if let Err(e) = webhook(url, &json) {
            failures.push(format!(
                "webhook {}: {e}",
                c.rule.webhook.as_deref().unwrap_or("")
            ));
        }
    }
    for why in failures {
        monitor.alerts[firing.rule]
            .failures
            .fetch_add(1, Ordering::Relaxed);
        let message = format!("alert `{}`: action failed: {why}", c.rule.name);
        shared.try_notice(Level::ERROR, message);
    }
}

/// Runs the command with the JSON on stdin and `MPLOG_ALERT_*` set; kills
/// it after [`ACTION_TIMEOUT`].
fn command(argv: &[String], firing: &Firing, c: &Compiled, json: &str) -> Result<(), String> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .env("MPLOG_ALERT_NAME", &c.rule.name)
        .env("MPLOG_ALERT_ON", c.rule.on.as_str())
        .env("MPLOG_ALERT_PROCESS", &firing.process)
        .env("MPLOG_ALERT_PID", firing.pid.to_string())
        .env("MPLOG_ALERT_HOST", &firing.host)
        .env("MPLOG_ALERT_SUMMARY", &firing.summary)
        .env("MPLOG_ALERT_JSON", json);
    if let Some(m) = &firing.message {
        cmd.env("MPLOG_ALERT_MESSAGE", m);
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        let body = format!("{json}\n");
        // A child that does not read its stdin must not block us.
        let _ = thread::Builder::new()
            .name("mplog-alert-stdin".into())
            .spawn(move || {
                let _ = stdin.write_all(body.as_bytes());
            });
    }
    let deadline = Instant::now() + ACTION_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {ACTION_TIMEOUT:?}: killed"));
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// POSTs the JSON over HTTP/1.1; a 2xx status is success.
fn webhook(url: &super::rules::Url, json: &str) -> Result<(), String> {
    let addr = url
        .authority
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("resolves to no address")?;
    let mut stream =
        TcpStream::connect_timeout(&addr, ACTION_TIMEOUT).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + ACTION_TIMEOUT;
    stream
        .set_write_timeout(Some(ACTION_TIMEOUT))
        .and_then(|()| stream.set_read_timeout(Some(ACTION_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
        url.path,
        url.authority,
        json.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") {
        if Instant::now() >= deadline || head.len() > 4096 {
            return Err("no status line".into());
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let status = line.split_whitespace().nth(1).unwrap_or("");
    if status.starts_with('2') {
        Ok(())
    } else {
        Err(format!(
            "answered {:?}",
            line.lines().next().unwrap_or("nothing")
        ))
    }
}
