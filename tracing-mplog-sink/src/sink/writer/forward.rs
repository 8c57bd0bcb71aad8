//! The writer's part in forwarding: records go to the destinations' queues
//! after the files took their lines, resent duplicates left out.

use std::sync::Arc;

use tracing_mplog::wire::EventView;

use super::Writer;
use crate::forward::Record;
use crate::sink::lines::{Lines, now_ns};

impl Writer {
    /// Hands the batch's records to the forwarding destinations, but not
    /// the resent duplicates the files dropped.
    pub(super) fn forward_fresh(&mut self, batch: &Lines, fresh: &[bool]) {
        let mut records = std::mem::take(&mut self.forwarding);
        records.clear();
        records.extend(
            batch
                .records
                .iter()
                .filter(|(i, _)| fresh.get(*i as usize) == Some(&true))
                .map(|(_, r)| Arc::clone(r)),
        );
        self.cfg.forward.send(&records);
        records.clear();
        self.forwarding = records;
    }

    /// Forwards an event of the parent process ([`SinkLayer`](crate::sink::SinkLayer)).
    pub(super) fn forward_local(&mut self, event: &EventView<'_>) {
        let wanted = self
            .cfg
            .forward
            .level()
            .is_some_and(|l| event.level() <= l.min(self.cfg.level));
        if wanted {
            let origin = Arc::clone(&self.cfg.own);
            let record = Record::from_view(event, &origin, now_ns());
            self.cfg.forward.send(&[Arc::new(record)]);
        }
    }
}
