//! The sink's own records: a file that fails or works again, a worker's
//! drops, a closed connection. Each goes to stderr and to the consolidated
//! file (else the file named after the sink).

use std::io::Write as _;
use std::path::Path;

use tracing_core::Level;
use tracing_mplog::wire::{Frame, OwnedEvent, OwnedFrame};

use super::{SINK_TARGET, Writer};
use crate::record::WireRecord;
use crate::sink::output::Health;

impl Writer {
    pub(super) fn report_health(&mut self, path: &Path, health: Health) {
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
    pub(super) fn notice(&mut self, level: Level, message: &str) {
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
}
