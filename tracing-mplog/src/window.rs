//! The acknowledgement window: event frames written to a sink in
//! acknowledged mode and not yet acknowledged, kept to be resent after a
//! reconnect.
//!
//! The window keeps the sender's written batches themselves, moved in
//! whole (no frame is copied), in `seq` order. An `Ack { seq }` from the
//! sink releases every frame up to that `seq`; a batch whose frames are all
//! released gives its buffer back for the sender's next batch. A new
//! connection starts by resending [`Window::unacked`].

use std::collections::VecDeque;

/// Released batch buffers kept for reuse, and the largest kept.
const SPARES: usize = 2;
const SPARE_MAX: usize = 4 * 1024 * 1024;

/// One written batch with frames still unacknowledged.
#[derive(Debug)]
struct Kept {
    bytes: Vec<u8>,
    /// Where the first unacknowledged frame starts in `bytes`.
    start: usize,
    /// `(seq, end)`: each unacknowledged frame's sequence number and where
    /// it ends in `bytes`; the frames are contiguous from `start`.
    frames: VecDeque<(u64, usize)>,
}

/// Unacknowledged event frames, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Window {
    kept: VecDeque<Kept>,
    frames: usize,
    bytes: usize,
    spare: Vec<Vec<u8>>,
}

impl Window {
    /// Keeps the event frames of a batch just written: `bytes` moves in;
    /// its frames to keep start at `start`, are contiguous, and end where
    /// `frames` (`(seq, end)`, in order) says.
    pub(crate) fn keep(
        &mut self,
        bytes: Vec<u8>,
        start: usize,
        frames: impl IntoIterator<Item = (u64, usize)>,
    ) {
        let frames: VecDeque<(u64, usize)> = frames.into_iter().collect();
        let Some(&(_, end)) = frames.back() else {
            self.recycle(bytes);
            return;
        };
        self.frames += frames.len();
        self.bytes += end - start;
        self.kept.push_back(Kept {
            bytes,
            start,
            frames,
        });
    }

    /// Keeps one frame just written (length prefix included), copied.
    #[cfg(test)]
    pub(crate) fn push(&mut self, seq: u64, frame: &[u8]) {
        self.keep(frame.to_vec(), 0, [(seq, frame.len())]);
    }

    /// Releases every frame with a sequence number up to `seq`; returns how
    /// many were released.
    pub(crate) fn ack(&mut self, seq: u64) -> u64 {
        let mut released = 0;
        while let Some(kept) = self.kept.front_mut() {
            while let Some(&(s, end)) = kept.frames.front() {
                if s > seq {
                    return released;
                }
                kept.frames.pop_front();
                self.bytes -= end - kept.start;
                self.frames -= 1;
                kept.start = end;
                released += 1;
            }
            if let Some(done) = self.kept.pop_front() {
                self.recycle(done.bytes);
            }
        }
        released
    }

    /// Every unacknowledged frame, whole and in order, in one slice per
    /// batch: what a new connection resends first.
    pub(crate) fn unacked(&self) -> impl Iterator<Item = &[u8]> {
        self.kept.iter().filter_map(|k| {
            let &(_, end) = k.frames.back()?;
            k.bytes.get(k.start..end)
        })
    }

    /// How many frames wait for their acknowledgement.
    pub(crate) fn frames(&self) -> usize {
        self.frames
    }

    /// How many bytes wait for their acknowledgement.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets every frame (a sink that does not acknowledge took them);
    /// the buffers are kept for reuse.
    pub(crate) fn clear(&mut self) {
        while let Some(kept) = self.kept.pop_front() {
            self.recycle(kept.bytes);
        }
        self.frames = 0;
        self.bytes = 0;
    }

    /// An empty buffer for the sender's next batch: a released batch's, or
    /// a new one.
    pub(crate) fn spare(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }

    fn recycle(&mut self, mut bytes: Vec<u8>) {
        if self.spare.len() < SPARES && bytes.capacity() <= SPARE_MAX {
            bytes.clear();
            self.spare.push(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Vec<u8> {
        let mut f = vec![seq as u8; 3 + (seq as usize % 5)];
        f.insert(0, 0xAA);
        f
    }

    #[test]
    fn acks_release_in_order_and_the_rest_is_resent_whole() {
        let mut w = Window::default();
        let mut all = Vec::new();
        for seq in 1..=10 {
            w.push(seq, &frame(seq));
            all.push(frame(seq));
        }
        assert_eq!(w.frames(), 10);
        assert_eq!(w.ack(0), 0);
        assert_eq!(w.ack(4), 4);
        assert_eq!(w.ack(3), 0, "an older ack changes nothing");
        assert_eq!(w.unacked().collect::<Vec<_>>().concat(), all[4..].concat());
        assert_eq!(w.bytes(), all[4..].concat().len());
        for seq in 11..=12 {
            w.push(seq, &frame(seq));
            all.push(frame(seq));
        }
        assert_eq!(w.ack(9), 5);
        assert_eq!(w.unacked().collect::<Vec<_>>().concat(), all[9..].concat());
        assert_eq!(w.ack(100), 3);
        assert_eq!((w.frames(), w.bytes(), w.unacked().count()), (0, 0, 0));
    }

    #[test]
    fn the_buffer_does_not_grow_without_bound() {
        let mut w = Window::default();
        for seq in 1..=100_000u64 {
            w.push(seq, &frame(seq));
            if seq % 10 == 0 {
                w.ack(seq - 5);
            }
        }
        assert!(w.kept.len() <= 5, "{}", w.kept.len());
        assert!(w.spare.len() <= SPARES);
        assert_eq!(w.frames(), 5);
    }

    /// Batches move in whole (their kept frames from an offset), acks
    /// release across them, and a released batch's buffer comes back.
    #[test]
    fn whole_batches_are_kept_and_their_buffers_reused() {
        let mut w = Window::default();
        let batch = |seqs: std::ops::RangeInclusive<u64>| {
            let mut bytes = b"xx".to_vec(); // a part kept before (copied out)
            let mut frames = Vec::new();
            for seq in seqs {
                bytes.extend_from_slice(&frame(seq));
                frames.push((seq, bytes.len()));
            }
            bytes.extend_from_slice(b"control");
            (bytes, frames)
        };
        let (a, fa) = batch(1..=3);
        let (b, fb) = batch(4..=6);
        let a_ptr = a.as_ptr();
        w.keep(a, 2, fa);
        w.keep(b, 2, fb);
        let all: Vec<u8> = (1..=6).flat_map(frame).collect();
        assert_eq!(w.unacked().collect::<Vec<_>>().concat(), all);
        assert_eq!((w.frames(), w.bytes()), (6, all.len()));
        assert_eq!(w.ack(4), 4);
        let rest: Vec<u8> = (5..=6).flat_map(frame).collect();
        assert_eq!(w.unacked().collect::<Vec<_>>().concat(), rest);
        assert_eq!(w.bytes(), rest.len());
        let spare = w.spare();
        assert!(spare.is_empty());
        assert_eq!(spare.as_ptr(), a_ptr, "the released batch's own buffer");
        w.keep(Vec::new(), 0, []);
        assert_eq!(w.frames(), 2);
        w.clear();
        assert_eq!((w.frames(), w.bytes(), w.unacked().count()), (0, 0, 0));
    }
}
