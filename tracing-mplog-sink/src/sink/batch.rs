//! [`Batcher`]: how a reader hands its lines to the writer, one batch per
//! read from the socket rather than one message per event. Both readers
//! (the native one and Python's) batch the same way: a batch goes when no
//! whole frame is left in the read buffer (so a quiet connection shows
//! every line at once) or when it reaches [`MAX_BATCH`] bytes of text.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use super::lines::{Buffers, Lines};
use super::writer::Msg;
use crate::record::Client;

/// The most text a batch gathers before it is sent.
pub(super) const MAX_BATCH: usize = 128 * 1024;

/// Written batches' buffers, kept for the next batches of any reader in the
/// process: the writer gives each batch's buffers back once written, and a
/// reader's next batch is formatted into memory that is allocated and paged
/// in already (a new batch per send grew its text from 8 KiB, copying it
/// three or four times, and paged in fresh memory). Bounded: at most
/// [`MAX_SPARES`] sets, each of at most [`MAX_SPARE_BYTES`], whatever the
/// number of connections.
static SPARES: Mutex<Vec<Buffers>> = Mutex::new(Vec::new());

/// The most sets of buffers kept.
const MAX_SPARES: usize = 16;

/// Buffers grown beyond this (by a batch of very long lines) are freed,
/// not kept.
const MAX_SPARE_BYTES: usize = 4 * MAX_BATCH;

/// Buffers for a new batch: a written batch's, if one is kept.
fn spare_buffers() -> Buffers {
    SPARES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop()
        .unwrap_or_default()
}

/// Keeps the buffers of a batch the writer is done with for the next one
/// (or frees them: see [`SPARES`]).
pub(super) fn recycle(lines: Lines) {
    let buffers = lines.into_buffers();
    if buffers.capacity() > MAX_SPARE_BYTES {
        return;
    }
    let mut spares = SPARES.lock().unwrap_or_else(PoisonError::into_inner);
    if spares.len() < MAX_SPARES {
        spares.push(buffers);
    }
}

/// The writer is gone (the sink is shutting down, or its writer thread
/// died): the reader stops, with nothing left to hand its lines to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WriterGone;

/// Hands `msg` to the writer.
pub(super) fn send(tx: &flume::Sender<Msg>, msg: Msg) -> Result<(), WriterGone> {
    tx.send(msg).map_err(|_| WriterGone)
}

/// A reader's batch in the making.
#[derive(Debug)]
pub(super) struct Batcher<'a> {
    tx: &'a flume::Sender<Msg>,
    lines: Option<Lines>,
    origin: Arc<Client>,
    /// Acknowledged delivery: the connection's ack slot, in every batch.
    ack: Option<Arc<AtomicU64>>,
    /// Whether the writer drops resent duplicates by `seq`.
    resent_check: bool,
}

impl<'a> Batcher<'a> {
    /// Batches of `origin`'s lines for the writer behind `tx`.
    pub(super) fn new(
        tx: &'a flume::Sender<Msg>,
        origin: Arc<Client>,
        ack: Option<Arc<AtomicU64>>,
        resent_check: bool,
    ) -> Self {
        Batcher {
            tx,
            lines: None,
            origin,
            ack,
            resent_check,
        }
    }

    /// The batch being gathered (a new one if none is).
    pub(super) fn lines(&mut self) -> &mut Lines {
        self.lines.get_or_insert_with(|| {
            let mut lines = Lines::new(Arc::clone(&self.origin), spare_buffers());
            lines.ack.clone_from(&self.ack);
            lines.resent_check = self.resent_check;
            lines
        })
    }

    /// Sends the batch if it holds anything.
    pub(super) fn send(&mut self) -> Result<(), WriterGone> {
        match self.lines.take() {
            Some(full) if !full.is_empty() => send(self.tx, Msg::Lines(Arc::new(full))),
            _ => Ok(()),
        }
    }

    /// The connection said goodbye: the batch being gathered, if any, is
    /// its last (see [`Lines::last`]).
    pub(super) fn mark_last(&mut self) {
        if let Some(lines) = &mut self.lines {
            lines.last = true;
        }
    }

    /// After a frame: sends the batch when no whole frame is left in the
    /// read buffer (`more` is false) or when it is full.
    pub(super) fn after_frame(&mut self, more: bool) -> Result<(), WriterGone> {
        let full = self
            .lines
            .as_ref()
            .is_some_and(|l| l.text_len() >= MAX_BATCH);
        if !more || full { self.send() } else { Ok(()) }
    }
}
