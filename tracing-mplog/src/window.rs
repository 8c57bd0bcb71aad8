//! The acknowledgement window: event frames written to a sink in
//! acknowledged mode and not yet acknowledged, kept to be resent after a
//! reconnect.
//!
//! Frames are stored whole, in `seq` order, in one buffer. An `Ack { seq }`
//! from the sink releases every frame up to that `seq`; a new connection
//! starts by resending [`Window::unacked`].

use std::collections::VecDeque;

/// Unacknowledged event frames, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Window {
    /// The frames' bytes; those before `start` are acknowledged.
    bytes: Vec<u8>,
    start: usize,
    /// `(seq, end)`: each frame's sequence number and where it ends in
    /// `bytes`.
    marks: VecDeque<(u64, usize)>,
}

impl Window {
    /// Keeps a frame just written (length prefix included).
    pub(crate) fn push(&mut self, seq: u64, frame: &[u8]) {
        self.bytes.extend_from_slice(frame);
        self.marks.push_back((seq, self.bytes.len()));
    }

    /// Releases every frame with a sequence number up to `seq`; returns how
    /// many were released.
    pub(crate) fn ack(&mut self, seq: u64) -> u64 {
        let mut released = 0;
        while let Some(&(s, end)) = self.marks.front() {
            if s > seq {
                break;
            }
            self.marks.pop_front();
            self.start = end;
            released += 1;
        }
        if self.marks.is_empty() {
            self.bytes.clear();
            self.start = 0;
        } else if self.start > self.bytes.len() / 2 {
            // Keep the buffer from growing: move the live half down.
            self.bytes.drain(..self.start);
            for (_, end) in &mut self.marks {
                *end -= self.start;
            }
            self.start = 0;
        }
        released
    }

    /// Every unacknowledged frame, whole and in order: what a new
    /// connection resends first.
    pub(crate) fn unacked(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// How many frames wait for their acknowledgement.
    pub(crate) fn frames(&self) -> usize {
        self.marks.len()
    }

    /// How many bytes wait for their acknowledgement.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.len() - self.start
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
        assert_eq!(w.unacked(), all[4..].concat().as_slice());
        assert_eq!(w.bytes(), all[4..].concat().len());
        for seq in 11..=12 {
            w.push(seq, &frame(seq));
            all.push(frame(seq));
        }
        assert_eq!(w.ack(9), 5);
        assert_eq!(w.unacked(), all[9..].concat().as_slice());
        assert_eq!(w.ack(100), 3);
        assert_eq!((w.frames(), w.bytes(), w.unacked()), (0, 0, &[][..]));
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
        assert!(w.bytes.capacity() < 4096, "{}", w.bytes.capacity());
        assert_eq!(w.frames(), 5);
    }
}
