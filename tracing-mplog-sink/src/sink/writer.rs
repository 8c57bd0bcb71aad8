//! The one thread that owns every output file: it decodes the readers'
//! batches, drops resent duplicates, applies the level threshold, formats,
//! routes and writes; it keeps the per-process counts.
//!
//! Every file is a [`RotatingFile`] with a write buffer. The writer flushes
//! the buffers whenever its channel is momentarily empty, so a quiet sink
//! shows every line at once and a busy one writes in large batches.
//!
//! A failed write is reported on stderr (and as a sink record), counted in
//! `write_errors`, and the line is kept to be retried, in order, before the
//! next line for that file; lines beyond [`MAX_PENDING`] per file are counted
//! as `unwritten`, as are lines still failing at shutdown.

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use flume::{Receiver, TryRecvError};
use tracing_core::Level;
use tracing_mplog::wire::{DropReason, EventView, Frame, OwnedEvent, OwnedFrame};

use super::report::Tally;
use super::router::Router;
use super::view::{Origin, WireRecord};
use crate::clock::Clock;
use crate::format::LevelFormatter;
use crate::rotate::{self, RotatingFile};

/// The target of the sink's own records.
pub(crate) const SINK_TARGET: &str = "tracing_mplog_sink";

/// Lines kept per failing file for a retry.
pub(crate) const MAX_PENDING: usize = 100_000;

/// What the readers, the listener and [`SinkLayer`](super::SinkLayer) send
/// to the writer.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A connection said hello.
    Opened(Arc<Origin>),
    /// Validated frame bodies from one read, concatenated; `ends[i]` is
    /// where body `i` ends.
    Frames {
        origin: Arc<Origin>,
        bytes: Vec<u8>,
        ends: Vec<usize>,
    },
    /// A connection that said hello ended.
    Closed {
        origin: Arc<Origin>,
        goodbye: bool,
        error: Option<String>,
    },
    /// One event frame body of the parent process.
    Local(Vec<u8>),
    /// A message of the sink itself.
    Notice { level: Level, message: String },
    /// Write what came before, flush, sync and stop.
    Shutdown,
}

/// Everything the writer needs, fixed at start.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) formatter: LevelFormatter,
    pub(crate) router: Router,
    pub(crate) rotation: rotate::Builder,
    pub(crate) level: Level,
    pub(crate) echo: bool,
    /// The parent process, for its own events and the sink's messages.
    pub(crate) own: Origin,
    pub(crate) clock: Arc<dyn Clock>,
    /// Active output files, for [`SinkHandle::files`](super::SinkHandle::files).
    pub(crate) files: Arc<Mutex<Vec<PathBuf>>>,
}

#[derive(Debug)]
struct Output {
    path: PathBuf,
    file: Option<RotatingFile>,
    pending: VecDeque<String>,
    /// The last write failed (reported once until it recovers).
    failing: bool,
}

/// What a write did to a file's health.
enum Health {
    Same,
    Failed(String),
    Recovered,
}

impl Output {
    /// Opens the file if needed and writes the kept lines; stops at the first
    /// failure.
    fn retry(&mut self, cfg: &Config, tally: &mut Tally) -> Result<(), String> {
        if self.file.is_none() {
            match cfg.rotation.build(&self.path) {
                Ok(file) => {
                    self.file = Some(file);
                    let mut files = cfg.files.lock().unwrap_or_else(PoisonError::into_inner);
                    if !files.contains(&self.path) {
                        files.push(self.path.clone());
                    }
                }
                Err(e) => {
                    tally.write_errors += 1;
                    return Err(e.to_string());
                }
            }
        }
        let Some(file) = &self.file else {
            return Err("the file is not open".into());
        };
        while let Some(line) = self.pending.front() {
            if let Err(e) = (&*file).write(line.as_bytes()) {
                tally.write_errors += 1;
                return Err(e.to_string());
            }
            self.pending.pop_front();
        }
        Ok(())
    }

    fn keep(&mut self, line: &str, tally: &mut Tally) {
        if self.pending.len() < MAX_PENDING {
            self.pending.push_back(line.to_owned());
        } else {
            tally.unwritten += 1;
        }
    }

    fn health(&mut self, result: Result<(), String>) -> Health {
        match (result, self.failing) {
            (Ok(()), true) => {
                self.failing = false;
                Health::Recovered
            }
            (Err(e), false) => {
                self.failing = true;
                Health::Failed(e)
            }
            _ => Health::Same,
        }
    }

    fn write(&mut self, line: &str, cfg: &Config, tally: &mut Tally) -> Health {
        let result = self.retry(cfg, tally).and_then(|()| {
            let Some(file) = &self.file else {
                return Err("the file is not open".into());
            };
            (&*file).write(line.as_bytes()).map(drop).map_err(|e| {
                tally.write_errors += 1;
                e.to_string()
            })
        });
        if result.is_err() {
            self.keep(line, tally);
        }
        self.health(result)
    }

    fn flush(&mut self, cfg: &Config, tally: &mut Tally) -> Health {
        let result = self.retry(cfg, tally).and_then(|()| match &self.file {
            Some(file) => (&*file).flush().map_err(|e| {
                tally.write_errors += 1;
                e.to_string()
            }),
            None => Ok(()),
        });
        self.health(result)
    }
}

/// Writes `line` to the output at `path`, creating it on first use.
fn write_line(
    outputs: &mut HashMap<PathBuf, Output>,
    path: &Path,
    line: &str,
    cfg: &Config,
    tally: &mut Tally,
) -> Health {
    let out = match outputs.get_mut(path) {
        Some(out) => out,
        None => outputs.entry(path.to_owned()).or_insert_with(|| Output {
            path: path.to_owned(),
            file: None,
            pending: VecDeque::new(),
            failing: false,
        }),
    };
    out.write(line, cfg, tally)
}

/// The writer thread's state.
#[derive(Debug)]
pub(crate) struct Writer {
    cfg: Config,
    outputs: HashMap<PathBuf, Output>,
    tally: Tally,
    line: String,
    scratch: String,
    /// Per-key file of each key seen (`None`: the consolidated file).
    key_files: HashMap<String, Option<PathBuf>>,
    /// Reporting a write failure as a record must not report its own.
    reporting: bool,
}

impl Writer {
    pub(crate) fn new(cfg: Config) -> Self {
        Writer {
            cfg,
            outputs: HashMap::new(),
            tally: Tally::default(),
            line: String::with_capacity(512),
            scratch: String::new(),
            key_files: HashMap::new(),
            reporting: false,
        }
    }

    /// Runs until [`Msg::Shutdown`] (or every sender is gone), then flushes
    /// and syncs every file and returns the counts.
    pub(crate) fn run(mut self, rx: &Receiver<Msg>) -> Tally {
        loop {
            let msg = match rx.try_recv() {
                Ok(msg) => msg,
                Err(TryRecvError::Empty) => {
                    self.flush_all();
                    match rx.recv() {
                        Ok(msg) => msg,
                        Err(_) => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            if matches!(msg, Msg::Shutdown) {
                break;
            }
            self.handle(msg);
        }
        self.finish()
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Opened(origin) => {
                let p = self
                    .tally
                    .process(origin.pid, origin.start_time_ns, &origin.process_name);
                p.report.connections += 1;
            }
            Msg::Frames {
                origin,
                bytes,
                ends,
            } => {
                let mut start = 0;
                for end in ends {
                    if let Some(body) = bytes.get(start..end) {
                        self.frame(&origin, body);
                    }
                    start = end;
                }
            }
            Msg::Closed {
                origin,
                goodbye,
                error,
            } => {
                let p = self
                    .tally
                    .process(origin.pid, origin.start_time_ns, &origin.process_name);
                p.report.clean = goodbye;
                if let Some(reason) = error {
                    p.report.error = Some(reason.clone());
                    self.notice(
                        Level::WARN,
                        &format!(
                            "closed the connection of {}[{}]: {reason}",
                            origin.process_name, origin.pid
                        ),
                    );
                }
            }
            Msg::Local(body) => {
                if let Ok(Frame::Event(event)) = Frame::decode(&body) {
                    let own = self.cfg.own.clone();
                    self.event(&event, &own);
                }
            }
            Msg::Notice { level, message } => self.notice(level, &message),
            Msg::Shutdown => {}
        }
    }

    fn frame(&mut self, origin: &Origin, body: &[u8]) {
        // The reader validated every body; a failure here cannot happen.
        let Ok(frame) = Frame::decode(body) else {
            return;
        };
        match frame {
            Frame::Event(event) => {
                let p = self
                    .tally
                    .process(origin.pid, origin.start_time_ns, &origin.process_name);
                let seq = event.seq();
                if seq <= p.last_seq {
                    return; // resent after a reconnect: written already
                }
                p.last_seq = seq;
                p.report.received += 1;
                self.event(&event, origin);
            }
            Frame::Dropped(d) => {
                let p = self
                    .tally
                    .process(origin.pid, origin.start_time_ns, &origin.process_name);
                p.report.dropped_by_worker += d.count;
                let why = match d.reason {
                    DropReason::ChannelFull => "channel full",
                    DropReason::Oversized => "larger than the maximum frame size",
                    _ => "unknown reason",
                };
                self.notice(
                    Level::WARN,
                    &format!(
                        "worker {}[{}] dropped {} events ({why})",
                        origin.process_name, origin.pid, d.count
                    ),
                );
            }
            _ => {}
        }
    }

    fn event(&mut self, event: &EventView<'_>, origin: &Origin) {
        if event.level() > self.cfg.level {
            return;
        }
        let rec = WireRecord { event, origin };
        self.line.clear();
        // Only the record's own writes could fail, and they write to a String.
        let _ = self.cfg.formatter.format_record(&rec, &mut self.line);
        if self.cfg.echo {
            let _ = std::io::stderr().write_all(self.line.as_bytes());
        }
        let keyed = self.cfg.router.key(&rec, &mut self.scratch);
        if let Some(path) = self.cfg.router.consolidated() {
            let health = write_line(
                &mut self.outputs,
                path,
                &self.line,
                &self.cfg,
                &mut self.tally,
            );
            if !matches!(health, Health::Same) {
                let path = path.to_path_buf();
                self.report_health(&path, health);
            }
        }
        if keyed {
            if !self.key_files.contains_key(self.scratch.as_str()) {
                let file = self.cfg.router.key_file(&self.scratch);
                self.key_files.insert(self.scratch.clone(), file);
            }
            if let Some(Some(path)) = self.key_files.get(self.scratch.as_str()) {
                let health = write_line(
                    &mut self.outputs,
                    path,
                    &self.line,
                    &self.cfg,
                    &mut self.tally,
                );
                if !matches!(health, Health::Same) {
                    let path = path.clone();
                    self.report_health(&path, health);
                }
            }
        }
    }

    /// Writes `self.line` to `path`.
    fn write_to(&mut self, path: &Path) {
        let health = write_line(
            &mut self.outputs,
            path,
            &self.line,
            &self.cfg,
            &mut self.tally,
        );
        self.report_health(path, health);
    }

    fn report_health(&mut self, path: &Path, health: Health) {
        let (level, message) = match health {
            Health::Same => return,
            Health::Failed(e) => (
                Level::ERROR,
                format!(
                    "cannot write {}: {e} (lines are kept and retried)",
                    path.display()
                ),
            ),
            Health::Recovered => (Level::WARN, format!("writing {} again", path.display())),
        };
        if self.reporting {
            eprintln!("{SINK_TARGET}: {message}");
            return;
        }
        self.reporting = true;
        self.notice(level, &message);
        self.reporting = false;
    }

    /// A record of the sink itself: to stderr always, and to the
    /// consolidated file, else to the file named after the sink.
    fn notice(&mut self, level: Level, message: &str) {
        let now = self.cfg.clock.now();
        let event = OwnedEvent {
            seq: 0,
            timestamp_ns: i64::try_from(now.unix_timestamp_nanos()).unwrap_or(0),
            level,
            target: SINK_TARGET.to_owned(),
            module_path: Some(module_path!().to_owned()),
            file: None,
            line: None,
            thread_id: tracing_mplog::origin::thread_id(),
            thread_name: std::thread::current().name().map(str::to_owned),
            message: Some(message.to_owned()),
            fields: Vec::new(),
            spans: Vec::new(),
        };
        let mut bytes = Vec::new();
        OwnedFrame::Event(event).encode(&mut bytes);
        let Some(Ok(Frame::Event(view))) = bytes.get(4..).map(Frame::decode) else {
            eprintln!("{SINK_TARGET}: {message}");
            return;
        };
        let rec = WireRecord {
            event: &view,
            origin: &self.cfg.own,
        };
        self.line.clear();
        let _ = self.cfg.formatter.format_record(&rec, &mut self.line);
        let _ = std::io::stderr().write_all(self.line.as_bytes());
        let own = self.cfg.router.own_file().to_path_buf();
        self.write_to(&own);
    }

    fn flush_all(&mut self) {
        let mut changes = Vec::new();
        for out in self.outputs.values_mut() {
            match out.flush(&self.cfg, &mut self.tally) {
                Health::Same => {}
                h => changes.push((out.path.clone(), h)),
            }
        }
        for (path, h) in changes {
            self.report_health(&path, h);
        }
    }

    fn finish(mut self) -> Tally {
        self.flush_all();
        for out in self.outputs.values_mut() {
            if let Some(file) = &out.file {
                if let Err(e) = file.sync_all() {
                    self.tally.write_errors += 1;
                    eprintln!("{SINK_TARGET}: cannot sync {}: {e}", out.path.display());
                }
                file.wait_idle();
            }
            if !out.pending.is_empty() {
                eprintln!(
                    "{SINK_TARGET}: {} lines for {} could not be written",
                    out.pending.len(),
                    out.path.display()
                );
                self.tally.unwritten += out.pending.len() as u64;
            }
        }
        self.tally
    }
}
