//! The opcode check that runs before any decoding: a pickle is a program
//! for Python's unpickler, and only its data-building opcodes are let
//! through.
//!
//! The scan walks every opcode with its argument and follows the shape of
//! the stack (depth of each item, bytes it stands for), without building
//! any value. It refuses:
//!
//! - every opcode that names or calls code (`GLOBAL`, `STACK_GLOBAL`,
//!   `REDUCE`, `BUILD`, `INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX`, `EXT1/2/4`,
//!   `PERSID`, `BINPERSID`, out-of-band buffers) and any opcode it does not
//!   know;
//! - sets and frozensets, and dict keys that are not `str`: the decoder
//!   sorts them, and its order of mixed numbers (or NaN) is not total, which
//!   the standard sort reports with a panic (found by the fuzzer);
//! - containers nested deeper than [`MAX_DEPTH`] (their drop would recurse);
//! - a memo fetch (`GET`) of a container, or fetches whose copies add up to
//!   more bytes than the frame (shared references would be copied by the
//!   decoder: a small frame must not become gigabytes);
//! - numbers written in more than [`MAX_NUMBER`] characters or bytes;
//! - an argument that runs past the end, a stack underflow, no `STOP`.

use std::collections::HashMap;

use super::PickleError;

/// Deepest container nesting accepted (a `LogRecord` dict has 1).
pub const MAX_DEPTH: u16 = 32;
/// Longest number, as text (`INT`, `LONG`, `FLOAT`) or bytes (`LONG1`,
/// `LONG4`), accepted.
pub const MAX_NUMBER: usize = 64;

#[derive(Clone, Copy, Debug)]
struct Item {
    /// 0 for a scalar, 1 + the deepest child for a container.
    depth: u16,
    /// Bytes of text the item holds (scalars).
    bytes: usize,
    /// A `str` (the only kind of dict key accepted).
    text: bool,
}

const SCALAR: Item = Item {
    depth: 0,
    bytes: 0,
    text: false,
};
const CONTAINER: Item = Item {
    depth: 1,
    bytes: 0,
    text: false,
};

/// The name of an opcode that runs or names code, if `op` is one.
fn code_opcode(op: u8) -> Option<&'static str> {
    Some(match op {
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'R' => "REDUCE",
        b'b' => "BUILD",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => return None,
    })
}

struct Scanner<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Item>,
    marks: Vec<usize>,
    memo: HashMap<u64, Item>,
    /// Bytes copied by memo fetches so far.
    copied: usize,
}

impl<'a> Scanner<'a> {
    fn err(&self, what: impl Into<String>) -> PickleError {
        PickleError::Refused {
            at: self.pos,
            what: what.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| self.err(format!("an argument of {n} bytes runs past the end")))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn len_le(&mut self, width: usize) -> Result<usize, PickleError> {
        let b = self.take(width)?;
        let mut n: u64 = 0;
        for (i, byte) in b.iter().enumerate() {
            n |= u64::from(*byte) << (8 * i);
        }
        usize::try_from(n).map_err(|_| self.err("length too large"))
    }

    /// A counted argument: its length (`width` bytes, little-endian), then
    /// that many bytes.
    fn counted(&mut self, width: usize) -> Result<&'a [u8], PickleError> {
        let n = self.len_le(width)?;
        self.take(n)
    }

    fn line(&mut self) -> Result<&'a [u8], PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.err("a text argument has no end of line"))?;
        self.take(n + 1).map(|l| &l[..n])
    }

    fn number_line(&mut self) -> Result<(), PickleError> {
        let l = self.line()?;
        if l.len() > MAX_NUMBER {
            return Err(self.err(format!("a number of {} characters", l.len())));
        }
        self.stack.push(SCALAR);
        Ok(())
    }

    fn pop(&mut self) -> Result<Item, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    /// Pops the items above the last mark and the mark.
    fn pop_mark(&mut self) -> Result<Vec<Item>, PickleError> {
        let mark = self.marks.pop().ok_or_else(|| self.err("no mark"))?;
        Ok(self.stack.split_off(mark))
    }

    fn nest(
        &self,
        outer: Item,
        inner: impl IntoIterator<Item = Item>,
    ) -> Result<Item, PickleError> {
        let mut out = outer;
        for i in inner {
            out.depth = out.depth.max(i.depth.saturating_add(1));
        }
        if out.depth > MAX_DEPTH {
            return Err(self.err(format!("containers nested deeper than {MAX_DEPTH}")));
        }
        Ok(out)
    }

    /// Adds `inner` to the container on top of the stack.
    fn add_to_top(&mut self, inner: Vec<Item>) -> Result<(), PickleError> {
        let top = self.pop()?;
        let top = self.nest(top, inner)?;
        self.stack.push(top);
        Ok(())
    }

    fn put(&mut self, id: u64) -> Result<(), PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        match self.stack.last() {
            Some(top) if self.stack.len() > floor => {
                self.memo.insert(id, *top);
                Ok(())
            }
            _ => Err(self.err("memo put on an empty stack")),
        }
    }

    fn get(&mut self, id: u64) -> Result<(), PickleError> {
        let item = *self
            .memo
            .get(&id)
            .ok_or_else(|| self.err(format!("memo fetch of unknown id {id}")))?;
        if item.depth > 0 {
            return Err(self.err("a memo fetch of a container (a shared reference)"));
        }
        self.copied = self.copied.saturating_add(item.bytes);
        if self.copied > self.data.len() {
            return Err(self.err("memo fetches copy more bytes than the frame holds"));
        }
        self.stack.push(item);
        Ok(())
    }

    /// A counted string or bytes argument; `text`: a `str`.
    fn text(&mut self, width: usize, text: bool) -> Result<(), PickleError> {
        let n = self.counted(width)?.len();
        self.stack.push(Item {
            depth: 0,
            bytes: n,
            text,
        });
        Ok(())
    }

    /// Refuses a dict key that is not a `str`.
    fn str_keys<'i>(&self, keys: impl IntoIterator<Item = &'i Item>) -> Result<(), PickleError> {
        if keys.into_iter().all(|k| k.text) {
            Ok(())
        } else {
            Err(self.err("a dict key that is not a str"))
        }
    }

    fn line_id(&mut self) -> Result<u64, PickleError> {
        let l = self.line()?;
        std::str::from_utf8(l)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| self.err("a memo id that is not a number"))
    }

    fn run(&mut self) -> Result<(), PickleError> {
        loop {
            let op = *self.take(1)?.first().ok_or_else(|| self.err("empty"))?;
            if let Some(name) = code_opcode(op) {
                self.pos -= 1;
                return Err(self.err(format!("opcode {name} (code, not data)")));
            }
            match op {
                b'.' => return Ok(()), // STOP
                0x80 | 0x95 | b'(' | b'0' | b'1' => self.control(op)?,
                b'S' | b'V' | b'X' | 0x8c | 0x8d | b'T' | b'B' | b'U' | b'C' | 0x8e | 0x96 => {
                    self.string(op)?;
                }
                b'I' | b'L' | b'F' | b'J' | b'K' | b'M' | b'G' | 0x8a | 0x8b | b'N' | 0x88
                | 0x89 => self.number(op)?,
                0x8f..=0x91
                | b'}'
                | b']'
                | b')'
                | b'd'
                | b'l'
                | b't'
                | 0x85..=0x87
                | b'a'
                | b's'
                | b'e'
                | b'u' => self.container(op)?,
                b'p' | b'q' | b'r' | 0x94 | b'g' | b'h' | b'j' => self.memo_op(op)?,
                other => return Err(self.unknown(other)),
            }
        }
    }

    /// The error for an opcode this scanner does not take.
    fn unknown(&mut self, op: u8) -> PickleError {
        self.pos -= 1;
        self.err(format!("unknown or unsupported opcode 0x{op:02x}"))
    }

    /// PROTO, FRAME, MARK, POP, POP_MARK.
    fn control(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            0x80 => {
                let v = self.take(1)?[0];
                if !(1..=5).contains(&v) {
                    return Err(self.err(format!("protocol {v}")));
                }
            }
            0x95 => {
                self.take(8)?;
            }
            b'(' => self.marks.push(self.stack.len()),
            b'0' => {
                self.pop()?;
            }
            b'1' => {
                self.pop_mark()?;
            }
            other => return Err(self.unknown(other)),
        }
        Ok(())
    }

    /// Text and bytes.
    fn string(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            b'S' | b'V' => {
                let n = self.line()?.len();
                self.stack.push(Item {
                    depth: 0,
                    bytes: n,
                    text: op == b'V',
                });
                Ok(())
            }
            b'X' => self.text(4, true),
            0x8c => self.text(1, true),
            0x8d => self.text(8, true),
            b'T' | b'B' => self.text(4, false),
            b'U' | b'C' => self.text(1, false),
            0x8e | 0x96 => self.text(8, false),
            other => Err(self.unknown(other)),
        }
    }

    /// Numbers, `None`, `True`, `False`.
    fn number(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            b'I' | b'L' | b'F' => self.number_line(),
            b'J' => self.fixed(4),
            b'K' => self.fixed(1),
            b'M' => self.fixed(2),
            b'G' => self.fixed(8),
            0x8a | 0x8b => {
                let n = self.counted(if op == 0x8a { 1 } else { 4 })?.len();
                if n > MAX_NUMBER {
                    return Err(self.err(format!("a number of {n} bytes")));
                }
                self.stack.push(SCALAR);
                Ok(())
            }
            b'N' | 0x88 | 0x89 => {
                self.stack.push(SCALAR);
                Ok(())
            }
            other => Err(self.unknown(other)),
        }
    }

    /// Dicts, lists and tuples: made, or added to.
    fn container(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            0x8f..=0x91 => {
                self.pos -= 1;
                return Err(self.err("a set or frozenset (not in a LogRecord)"));
            }
            b'}' | b']' | b')' => self.stack.push(CONTAINER),
            b'd' | b'l' | b't' => {
                let items = self.pop_mark()?;
                if op == b'd' {
                    self.pairs(&items)?;
                }
                let c = self.nest(CONTAINER, items)?;
                self.stack.push(c);
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop()?);
                }
                let c = self.nest(CONTAINER, items)?;
                self.stack.push(c);
            }
            b'a' => {
                let v = self.pop()?;
                self.add_to_top(vec![v])?;
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.str_keys([&k])?;
                self.add_to_top(vec![k, v])?;
            }
            b'e' | b'u' => {
                let items = self.pop_mark()?;
                if op == b'u' {
                    self.pairs(&items)?;
                }
                self.add_to_top(items)?;
            }
            other => return Err(self.unknown(other)),
        }
        Ok(())
    }

    /// A dict's items: keys and values, every key a str.
    fn pairs(&self, items: &[Item]) -> Result<(), PickleError> {
        if items.len() % 2 != 0 {
            return Err(self.err("a dict with a key and no value"));
        }
        self.str_keys(items.iter().step_by(2))
    }

    /// The memo: put and get.
    fn memo_op(&mut self, op: u8) -> Result<(), PickleError> {
        match op {
            b'p' => {
                let id = self.line_id()?;
                self.put(id)
            }
            b'q' => {
                let id = self.len_le(1)? as u64;
                self.put(id)
            }
            b'r' => {
                let id = self.len_le(4)? as u64;
                self.put(id)
            }
            0x94 => {
                let id = self.memo.len() as u64;
                self.put(id)
            }
            b'g' => {
                let id = self.line_id()?;
                self.get(id)
            }
            b'h' => {
                let id = self.len_le(1)? as u64;
                self.get(id)
            }
            b'j' => {
                let id = self.len_le(4)? as u64;
                self.get(id)
            }
            other => Err(self.unknown(other)),
        }
    }

    fn fixed(&mut self, n: usize) -> Result<(), PickleError> {
        self.take(n)?;
        self.stack.push(SCALAR);
        Ok(())
    }
}

/// Checks that `pickle` only builds data (see the module docs).
pub(crate) fn check(pickle: &[u8]) -> Result<(), PickleError> {
    let mut s = Scanner {
        data: pickle,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        copied: 0,
    };
    s.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &[u8]) -> String {
        match check(p) {
            Err(e) => e.to_string(),
            Ok(()) => panic!("accepted {p:?}"),
        }
    }

    #[test]
    fn code_opcodes_are_refused_by_name() {
        let hostile = b"cos\nsystem\n(S'touch /tmp/x'\ntR.";
        assert!(refused(hostile).contains("GLOBAL"));
        assert!(refused(b"\x80\x04\x8c\x02os\x8c\x06system\x93.").contains("STACK_GLOBAL"));
        assert!(refused(b"}(N)R.").contains("REDUCE"));
    }

    #[test]
    fn data_passes() {
        // pickle.dumps({'a': 1, 'b': 'x'}, 1)
        check(
            b"}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02X\x01\x00\x00\x00xq\x03u.",
        )
        .expect("data");
    }

    #[test]
    fn shared_containers_and_deep_nesting_are_refused() {
        assert!(refused(b"]q\x00(h\x00h\x00e.").contains("shared"));
        let mut deep = vec![b']'; 40];
        deep.extend(std::iter::repeat_n(b'a', 39));
        deep.push(b'.');
        assert!(refused(&deep).contains("deeper"));
    }

    #[test]
    fn sets_and_keys_that_are_not_str_are_refused() {
        // The fuzzer's find: a frozenset of NaN floats panicked in sort.
        let nan = b"\x80\x04(G\xff\xff\xff\xff\xff\xff\xff\xffG\x7f\xf8\0\0\0\0\0\0K\x01\x91.";
        assert!(refused(nan).contains("set"));
        assert!(refused(b"\x80\x04\x8f(K\x01\x90.").contains("set"));
        assert!(refused(b"}(K\x01K\x02u.").contains("not a str"));
        assert!(refused(b"}G\x7f\xf8\0\0\0\0\0\0K\x01s.").contains("not a str"));
        assert!(refused(b"(K\x01K\x02d.").contains("not a str"));
        assert!(refused(b"(X\x01\0\0\0ad.").contains("no value"));
        check(b"}(X\x01\0\0\0aK\x01u.").expect("str keys");
    }

    #[test]
    fn truncated_and_unterminated_are_refused() {
        assert!(refused(b"X\xff\x00\x00\x00ab").contains("past the end"));
        assert!(refused(b"}").contains("past the end"));
        assert!(refused(b"0.").contains("underflow"));
    }
}
