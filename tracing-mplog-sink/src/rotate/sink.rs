//! What the sink's writer asks of a [`RotatingFile`] (feature `sink`):
//! appends that keep the lines in the writer's batches, closing and
//! reopening idle per-key files, and what a flush will write.

use std::io;

use super::buffer::Buffer;
use super::{RotatingFile, SharedText};
use crate::sys;

/// What the sink's writer uses (feature `sink`): batched appends, and
/// closing idle per-key files to stay within its descriptors.
impl RotatingFile {
    /// Appends whole records to the write buffer, with no I/O and no copy:
    /// the records `text[start..ends[0]]`, `text[ends[0]..ends[1]]`, … in
    /// order, as many as fit in the buffer and under the size limit, on an
    /// open file with no time schedule; the buffer keeps them where they
    /// are, in `text`, until it is written. Returns how many it took; the
    /// others must go through `write` (which may flush, rotate or fail),
    /// one by one. The sink's writer hands over a batch's lines this way.
    pub(crate) fn append_shared(&self, text: &SharedText, start: usize, ends: &[usize]) -> usize {
        if self.buffer_capacity == 0 || self.schedule.is_timed() {
            return 0;
        }
        let mut st = self.lock();
        if st.file.is_none() {
            return 0;
        }
        let room = self.buffer_capacity.saturating_sub(st.buf.len());
        let limit = match self.max_bytes {
            0 => u64::MAX,
            max => max.saturating_sub(st.size),
        };
        // `ends` only grows, so the records that fit are a prefix.
        let fit = ends.partition_point(|&end| {
            let len = end.saturating_sub(start);
            len < room && len as u64 <= limit
        });
        let end = match fit.checked_sub(1) {
            Some(last) if ends[last] <= (**text).as_ref().len() && start <= ends[last] => {
                ends[last]
            }
            _ => return 0,
        };
        st.buf.push_shared(text, start..end);
        st.size += (end - start) as u64;
        fit
    }

    /// Writes the buffered records and closes the file's descriptor, but
    /// keeps everything rotation needs: the size, the time period and the
    /// numbering. The next write (or [`reopen`](Self::reopen)) opens it
    /// again in append mode, never truncating it. The sink closes per-key
    /// files it has not written to lately this way, to stay within its
    /// descriptors. On failure the file stays open.
    pub(crate) fn park(&self) -> io::Result<()> {
        let mut st = self.lock();
        self.flush_locked(&mut st)?;
        st.file = None;
        // A parked file holds no memory of its own but its state.
        st.buf = Buffer::default();
        Ok(())
    }

    /// Whether the file's descriptor is open (not parked, not closed by an
    /// I/O error, not delayed).
    pub(crate) fn is_open(&self) -> bool {
        self.lock().file.is_some()
    }

    /// Opens the file's descriptor if it is closed (see [`park`](Self::park)).
    pub(crate) fn reopen(&self) -> io::Result<()> {
        let mut st = self.lock();
        if st.file.is_none() {
            self.open(&mut st, self.clock.now())?;
        }
        Ok(())
    }

    /// Bytes the write buffer takes before a write must hand it to the
    /// operating system (`usize::MAX` for a file not open yet: it opens with
    /// an empty buffer; 0 for an unbuffered file).
    pub(crate) fn buffer_room(&self) -> usize {
        let st = self.lock();
        if st.file.is_none() {
            return usize::MAX;
        }
        self.buffer_capacity.saturating_sub(st.buf.len())
    }

    /// Bytes in the write buffer.
    pub(crate) fn buffered(&self) -> usize {
        self.lock().buf.len()
    }

    /// What the next flush writes: the file's identity, its length on disk
    /// now and after the flush; `None` if nothing is buffered.
    pub(crate) fn pending_write(&self) -> Option<crate::sink::FileSpan> {
        let st = self.lock();
        let file = st.file.as_ref().filter(|_| !st.buf.is_empty())?;
        let (dev, ino) = sys::file_id(&file.metadata().ok()?);
        let before = st.size.checked_sub(st.buf.len() as u64)?;
        Some(crate::sink::FileSpan {
            path: self.path.clone(),
            dev,
            ino,
            before,
            after: st.size,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::Arc;

    use super::*;
    use crate::rotate::When;

    #[test]
    fn append_shared_takes_the_records_that_fit_the_buffer_and_the_size_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        let file = RotatingFile::builder()
            .buffer_capacity(100)
            .max_bytes(150)
            .build(&path)
            .expect("build");
        let lines = "0123456789\n".repeat(20); // records of 11 bytes
        let text: SharedText = Arc::new(lines.clone());
        let ends: Vec<usize> = (1..=20).map(|i| i * 11).collect();
        // 9 records (99 bytes) fit a 100-byte buffer, not 10.
        assert_eq!(file.append_shared(&text, 0, &ends), 9);
        assert_eq!(file.append_shared(&text, 99, &ends[9..]), 0);
        // Through `write`, the 10th flushes the buffer first.
        (&file)
            .write_all(&lines.as_bytes()[99..110])
            .expect("write");
        // 110 bytes in the file so far: 3 more records reach 143 ≤ 150.
        assert_eq!(file.append_shared(&text, 110, &ends[10..]), 3);
        (&file).flush().expect("flush");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "0123456789\n".repeat(13)
        );
        // A timed file needs the clock per record: it takes nothing.
        let timed = RotatingFile::builder()
            .when(When::Hours)
            .build(dir.path().join("t.log"))
            .expect("build");
        assert_eq!(timed.append_shared(&text, 0, &ends), 0);
    }
}
