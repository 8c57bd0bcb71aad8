//! The write buffer of a buffered [`RotatingFile`](super::RotatingFile):
//! whole records waiting to be written in one go.
//!
//! A record written through `write` is copied in (into bytes the buffer
//! owns and reuses). The sink's writer instead hands over runs of lines
//! that stay in its batches' text, shared ([`SharedText`]): the buffer
//! keeps the slices, and the flush writes them all with one vectored
//! write, so a line is copied once, by the kernel, however many files it
//! goes to.

use std::fs::File;
use std::io::{self, IoSlice, Write};
#[cfg(feature = "sink")]
use std::ops::Range;
#[cfg(feature = "sink")]
use std::sync::Arc;

/// Text the sink's writer shares with the buffers of the files it goes
/// to (a batch of formatted lines), alive until the last of them wrote it.
#[cfg(feature = "sink")]
pub(crate) type SharedText = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// One run of buffered bytes.
enum Part {
    /// Records copied in.
    Own(Vec<u8>),
    /// Records that stay in shared text: `text[range]`.
    #[cfg(feature = "sink")]
    Shared(SharedText, Range<usize>),
}

impl Part {
    /// The bytes of a part of copied records.
    fn into_own(self) -> Option<Vec<u8>> {
        match self {
            Part::Own(bytes) => Some(bytes),
            #[cfg(feature = "sink")]
            Part::Shared(..) => None,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Part::Own(bytes) => bytes,
            #[cfg(feature = "sink")]
            Part::Shared(text, range) => (**text).as_ref().get(range.clone()).unwrap_or_default(),
        }
    }
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Own(bytes) => write!(f, "Own({} bytes)", bytes.len()),
            #[cfg(feature = "sink")]
            Part::Shared(_, range) => write!(f, "Shared({range:?})"),
        }
    }
}

/// Whole records not yet written, in order.
#[derive(Debug, Default)]
pub(super) struct Buffer {
    parts: Vec<Part>,
    /// Bytes in `parts`.
    len: usize,
    /// The bytes of an `Own` part written already, kept for the next one.
    spare: Vec<u8>,
}

/// The most slices one `writev` takes (Linux's `IOV_MAX`); std writes
/// fewer per call if the system takes fewer.
const MAX_SLICES: usize = 1024;

impl Buffer {
    /// An empty buffer whose copied records have room for `capacity` bytes.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Buffer {
            parts: Vec::new(),
            len: 0,
            spare: Vec::with_capacity(capacity),
        }
    }

    /// Bytes buffered.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `record` in.
    pub(super) fn push_bytes(&mut self, record: &[u8]) {
        self.len += record.len();
        if let Some(Part::Own(bytes)) = self.parts.last_mut() {
            bytes.extend_from_slice(record);
            return;
        }
        let mut bytes = std::mem::take(&mut self.spare);
        bytes.extend_from_slice(record);
        self.parts.push(Part::Own(bytes));
    }

    /// Keeps `text[range]` (whole records) to be written from where it is;
    /// a run that continues the last one extends it.
    #[cfg(feature = "sink")]
    pub(super) fn push_shared(&mut self, text: &SharedText, range: Range<usize>) {
        self.len += range.len();
        if let Some(Part::Shared(last, run)) = self.parts.last_mut() {
            if Arc::ptr_eq(last, text) && run.end == range.start {
                run.end = range.end;
                return;
            }
        }
        self.parts.push(Part::Shared(Arc::clone(text), range));
    }

    /// Empties the buffer (the records are written), keeping the room of
    /// its copied records and letting go of the shared text.
    pub(super) fn clear(&mut self) {
        for part in self.parts.drain(..) {
            if let Some(mut bytes) = part.into_own() {
                if bytes.capacity() > self.spare.capacity() {
                    bytes.clear();
                    self.spare = bytes;
                }
            }
        }
        self.len = 0;
    }

    /// Writes every buffered byte to `file`, in order, with as few
    /// (vectored) writes as the system allows. On error some may have been
    /// written (the caller cuts the file back).
    pub(super) fn write_to(&self, file: &mut File) -> io::Result<()> {
        let mut parts = self.parts.iter().map(Part::bytes).filter(|b| !b.is_empty());
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(self.parts.len().min(MAX_SLICES));
        loop {
            slices.clear();
            slices.extend(parts.by_ref().take(MAX_SLICES).map(IoSlice::new));
            if slices.is_empty() {
                return Ok(());
            }
            let mut left = &mut slices[..];
            while !left.is_empty() {
                match file.write_vectored(left) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => IoSlice::advance_slices(&mut left, n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copied_and_shared_records_are_written_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.log");
        let mut buffer = Buffer::with_capacity(8);
        buffer.push_bytes(b"one\n");
        buffer.push_bytes(b"two\n");
        #[cfg(feature = "sink")]
        {
            let text: SharedText = Arc::new(String::from("three\nfour\nfive\n"));
            buffer.push_shared(&text, 0..6);
            buffer.push_shared(&text, 6..11); // continues the run
            buffer.push_bytes(b"six\n");
            buffer.push_shared(&text, 11..16);
            assert_eq!(buffer.parts.len(), 4, "{buffer:?}");
        }
        let mut file = File::create(&path).expect("create");
        buffer.write_to(&mut file).expect("write");
        let want = if cfg!(feature = "sink") {
            "one\ntwo\nthree\nfour\nsix\nfive\n"
        } else {
            "one\ntwo\n"
        };
        assert_eq!(buffer.len(), want.len());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), want);
        buffer.clear();
        assert!(buffer.is_empty() && buffer.parts.is_empty());
        assert!(
            buffer.spare.capacity() >= 8,
            "the copied part's room is kept"
        );
    }

    /// More runs than one `writev` takes: written in several, in order.
    #[cfg(feature = "sink")]
    #[test]
    fn more_slices_than_one_writev_takes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("many.log");
        let mut buffer = Buffer::default();
        let mut want = String::new();
        for i in 0..3000 {
            let line = format!("line {i}\n");
            want.push_str(&line);
            let text: SharedText = Arc::new(line);
            let len = (*text).as_ref().len();
            buffer.push_shared(&text, 0..len);
        }
        let mut file = File::create(&path).expect("create");
        buffer.write_to(&mut file).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), want);
    }
}
