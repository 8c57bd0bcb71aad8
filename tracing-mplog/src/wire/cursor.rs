//! A bounds-checked reader over a frame body, the one place the decoder
//! reads bytes.

use std::fmt;

use super::error::WireError;

/// A bounds-checked reader over a frame body (or a part of one). `base` is
/// the offset of `buf[0]` within the frame body, for error messages.
#[derive(Clone, Copy)]
pub(super) struct Cursor<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
    pub(super) base: usize,
    /// The bytes from `pos` on were decoded once already, by the same
    /// reads in the same order, without error (see [`Cursor::validated`]):
    /// their strings are known to be UTF-8.
    validated: bool,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(buf: &'a [u8], base: usize) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            validated: false,
        }
    }

    /// This cursor, marked as read once already without error by the same
    /// sequence of reads it will now make again (the decoder validates an
    /// event's spans and fields when it decodes the frame; iterating over
    /// them later reads the same bytes the same way). Its strings, and those
    /// of the blobs it hands out, then skip UTF-8 validation: each string of
    /// a frame is validated once, not once per pass.
    pub(super) fn validated(mut self) -> Self {
        self.validated = true;
        self
    }

    pub(super) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        match self.next_bytes(n) {
            Some(out) => Ok(out),
            None => Err(self.truncated(n, what)),
        }
    }

    /// Why `n` bytes for `what` cannot be taken here (out of the way of
    /// the reads, which almost never fail).
    #[cold]
    #[inline(never)]
    fn truncated(&self, n: usize, what: &'static str) -> WireError {
        WireError::Truncated {
            what,
            offset: self.offset(),
            needed: n,
            available: self.remaining(),
        }
    }

    #[inline]
    pub(super) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], WireError> {
        match self.next_array() {
            Some(out) => Ok(out),
            None => Err(self.truncated(N, what)),
        }
    }

    #[inline]
    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }

    #[inline]
    pub(super) fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    #[inline]
    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    #[inline]
    pub(super) fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    #[inline]
    pub(super) fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    /// A `u32` length followed by that many bytes.
    #[inline]
    pub(super) fn blob(&mut self, what: &'static str) -> Result<Cursor<'a>, WireError> {
        let len = self.u32(what)? as usize;
        let base = self.offset();
        let mut blob = Cursor::new(self.take(len, what)?, base);
        blob.validated = self.validated;
        Ok(blob)
    }

    /// A `u32` length followed by that many bytes of UTF-8: ASCII checked
    /// first, anything else validated with SIMD (`simdutf8`, several times
    /// faster than `std::str::from_utf8` on long strings; see [`utf8`]).
    /// The read is [`next_str`](Self::next_str)'s; only a failed one reads
    /// again, to say why.
    #[inline]
    pub(super) fn str(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        let start = self.pos;
        match self.next_str() {
            Some(s) => Ok(s),
            None => Err(self.str_error(start, what)),
        }
    }

    /// Why the string for `what` at `start` could not be read: its length
    /// or its bytes are cut short, or they are not UTF-8.
    #[cold]
    #[inline(never)]
    fn str_error(&mut self, start: usize, what: &'static str) -> WireError {
        self.pos = start;
        let len = match self.u32(what) {
            Ok(len) => len as usize,
            Err(e) => return e,
        };
        let offset = self.offset();
        match self.take(len, what) {
            Err(e) => e,
            Ok(_) => WireError::InvalidUtf8 { what, offset },
        }
    }

    /// The next `n` bytes (`None` past the end, which validation rules
    /// out on a [`validated`](Self::validated) cursor): the fast path of
    /// the reads, with no error to build or carry.
    #[inline]
    pub(super) fn next_bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.buf.get(self.pos..)?.get(..n)?;
        self.pos += n;
        Some(out)
    }

    /// The next `N` bytes (see [`next_bytes`](Self::next_bytes)).
    #[inline]
    pub(super) fn next_array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, _) = self.buf.get(self.pos..)?.split_first_chunk::<N>()?;
        self.pos += N;
        Some(*head)
    }

    /// The next length-prefixed string (see [`next_bytes`](Self::next_bytes));
    /// `None` also if it is not UTF-8, which is checked unless the cursor
    /// is validated.
    #[inline]
    pub(super) fn next_str(&mut self) -> Option<&'a str> {
        let len = u32::from_le_bytes(self.next_array()?) as usize;
        let bytes = self.next_bytes(len)?;
        if self.validated {
            // SAFETY: as in `str`: a validated cursor re-reads, by the same
            // reads in the same order, bytes an earlier pass checked.
            return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        utf8(bytes)
    }

    /// The next length-prefixed blob of a validated cursor (see
    /// [`next_bytes`](Self::next_bytes)), validated like it.
    #[inline]
    pub(super) fn next_blob(&mut self) -> Option<Cursor<'a>> {
        let len = u32::from_le_bytes(self.next_array()?) as usize;
        let base = self.offset();
        let mut blob = Cursor::new(self.next_bytes(len)?, base);
        blob.validated = self.validated;
        Some(blob)
    }

    pub(super) fn finish(&self, what: &'static str) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(WireError::TrailingBytes {
                what,
                offset: self.offset(),
                extra,
            }),
        }
    }
}

/// `bytes` as a `str` if they are UTF-8. A log record's strings are
/// nearly always ASCII and short (a target, a file, a field name): checking
/// for ASCII a word at a time costs a fraction of a UTF-8 validation
/// (`std`'s, which `simdutf8` falls back to below 64 bytes); anything else
/// is validated by `simdutf8`.
#[inline]
fn utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    simdutf8::basic::from_utf8(bytes).ok()
}

impl PartialEq for Cursor<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.buf[self.pos..] == other.buf[other.pos..]
    }
}

impl fmt::Debug for Cursor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.remaining())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length-prefixed string field holding `bytes`.
    fn field(bytes: &[u8]) -> Vec<u8> {
        let mut v = u32::try_from(bytes.len())
            .expect("short")
            .to_le_bytes()
            .to_vec();
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn str_accepts_and_rejects_exactly_what_std_does_short_and_long() {
        // Short strings take one validation path, long ones (SIMD) another:
        // every length around the 64-byte block edges, with bad sequences
        // at the start, the middle and the end.
        let bad: [&[u8]; 6] = [
            &[0xff],
            &[0xc0, 0x80],             // overlong
            &[0xed, 0xa0, 0x80],       // surrogate
            &[0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
            &[0xe2, 0x82],             // truncated
            &[0x80],                   // lone continuation
        ];
        for len in [0usize, 1, 7, 31, 63, 64, 65, 100, 127, 128, 129, 300] {
            let good: Vec<u8> = "aé€😀".bytes().cycle().take(len).collect();
            let good = match std::str::from_utf8(&good) {
                Ok(_) => good,
                Err(e) => good[..e.valid_up_to()].to_vec(),
            };
            let body = field(&good);
            let got = Cursor::new(&body, 0).str("test").expect("valid");
            assert_eq!(got.as_bytes(), good.as_slice());
            for seq in bad {
                for at in [0, good.len() / 2, good.len()] {
                    let mut s = good[..at].to_vec();
                    s.extend_from_slice(seq);
                    s.extend_from_slice(&good[at..]);
                    let body = field(&s);
                    let ours = Cursor::new(&body, 10).str("test");
                    assert_eq!(
                        ours.is_ok(),
                        std::str::from_utf8(&s).is_ok(),
                        "len {len}, {seq:x?} at {at}"
                    );
                    if let Err(e) = ours {
                        assert!(
                            matches!(
                                e,
                                WireError::InvalidUtf8 {
                                    what: "test",
                                    offset: 14
                                }
                            ),
                            "{e}"
                        );
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// ASCII first, then `simdutf8`: the same verdict and the same text
        /// as `std` for any bytes, mostly ASCII with a stray high byte or
        /// multi-byte character (what the ASCII check must not wave through).
        #[test]
        fn str_agrees_with_std_on_random_bytes(
            ascii in proptest::collection::vec(0u8..0x80, 0..150),
            stray in proptest::collection::vec((0usize..150, 0x80u8..=0xff), 0..3),
            text in "\\PC{0,40}",
        ) {
            let mut bytes = ascii;
            for (at, b) in stray {
                let at = at.min(bytes.len());
                bytes.insert(at, b);
            }
            for bytes in [bytes.as_slice(), text.as_bytes()] {
                let body = field(bytes);
                let mut c = Cursor::new(&body, 0);
                let ours = c.str("test").ok().map(str::as_bytes);
                proptest::prop_assert_eq!(ours, std::str::from_utf8(bytes).ok().map(str::as_bytes));
                let mut c = Cursor::new(&body, 0);
                proptest::prop_assert_eq!(c.next_str().map(str::as_bytes), ours);
            }
        }
    }
}
