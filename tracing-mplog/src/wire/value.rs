//! Field values: the one table of value tags and how each value is written
//! and read. The decoder, the owned encoder and the worker's event capture
//! all go through here, so a tag cannot mean one thing to the encoder and
//! another to the decoder.

use std::fmt;

use super::buf::{put_i64, put_i128, put_str, put_u8, put_u64, put_u128};
use super::cursor::Cursor;
use super::error::WireError;

/// The value tags of `docs/wire.md`: the byte between a field's name and
/// its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Tag {
    I64 = 1,
    U64 = 2,
    I128 = 3,
    U128 = 4,
    F64 = 5,
    Bool = 6,
    Str = 7,
    Debug = 8,
}

impl Tag {
    const ALL: [Tag; 8] = [
        Tag::I64,
        Tag::U64,
        Tag::I128,
        Tag::U128,
        Tag::F64,
        Tag::Bool,
        Tag::Str,
        Tag::Debug,
    ];

    /// `ALL` is in the order of the tags' numbers, from 1 (a test checks).
    #[inline]
    fn from_u8(b: u8) -> Option<Tag> {
        Tag::ALL.get(usize::from(b).wrapping_sub(1)).copied()
    }
}

/// A field's typed value.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A signed integer (tag 1).
    I64(i64),
    /// An unsigned integer (tag 2).
    U64(u64),
    /// A 128-bit signed integer (tag 3).
    I128(i128),
    /// A 128-bit unsigned integer (tag 4).
    U128(u128),
    /// A float (tag 5).
    F64(f64),
    /// A boolean (tag 6).
    Bool(bool),
    /// A string recorded with `record_str` (tag 7).
    Str(&'a str),
    /// The text of a value recorded with `Debug` (or an error's `Display`,
    /// tag 8).
    Debug(&'a str),
}

impl fmt::Display for Value<'_> {
    /// Writes the value as `tracing_subscriber::fmt` prints a field: strings
    /// quoted and escaped (`Debug` of `str`), everything else as it prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I64(v) => write!(f, "{v}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::I128(v) => write!(f, "{v}"),
            Value::U128(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v:?}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(v) => write!(f, "{v:?}"),
            Value::Debug(v) => f.write_str(v),
        }
    }
}

impl<'a> Value<'a> {
    fn tag(&self) -> Tag {
        match self {
            Value::I64(_) => Tag::I64,
            Value::U64(_) => Tag::U64,
            Value::I128(_) => Tag::I128,
            Value::U128(_) => Tag::U128,
            Value::F64(_) => Tag::F64,
            Value::Bool(_) => Tag::Bool,
            Value::Str(_) => Tag::Str,
            Value::Debug(_) => Tag::Debug,
        }
    }

    /// Appends the value's tag, then the value.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_u8(out, self.tag() as u8);
        match *self {
            Value::I64(v) => put_i64(out, v),
            Value::U64(v) => put_u64(out, v),
            Value::I128(v) => put_i128(out, v),
            Value::U128(v) => put_u128(out, v),
            Value::F64(v) => put_u64(out, v.to_bits()),
            Value::Bool(v) => put_u8(out, u8::from(v)),
            Value::Str(v) | Value::Debug(v) => put_str(out, v),
        }
    }

    /// Reads a tag, then the value it announces.
    pub(super) fn decode(c: &mut Cursor<'a>) -> Result<Self, WireError> {
        let offset = c.offset();
        let found = c.u8("field.tag")?;
        let Some(tag) = Tag::from_u8(found) else {
            return Err(WireError::UnknownValueTag { found, offset });
        };
        Ok(match tag {
            Tag::I64 => Value::I64(c.i64("field.value")?),
            Tag::U64 => Value::U64(c.u64("field.value")?),
            Tag::I128 => Value::I128(i128::from_le_bytes(c.array("field.value")?)),
            Tag::U128 => Value::U128(u128::from_le_bytes(c.array("field.value")?)),
            Tag::F64 => Value::F64(f64::from_bits(c.u64("field.value")?)),
            Tag::Bool => {
                let offset = c.offset();
                match c.u8("field.value")? {
                    0 => Value::Bool(false),
                    1 => Value::Bool(true),
                    found => return Err(WireError::InvalidBool { found, offset }),
                }
            }
            Tag::Str => Value::Str(c.str("field.value")?),
            Tag::Debug => Value::Debug(c.str("field.value")?),
        })
    }

    /// Reads a value as [`decode`](Self::decode) does, with no error to
    /// build: `None` where `decode` fails (the decoder's fast path, and the
    /// iterators' over a list `decode` validated already: see
    /// `Cursor::validated`).
    #[inline]
    pub(super) fn read(c: &mut Cursor<'a>) -> Option<Self> {
        let [found] = c.next_array()?;
        Some(match Tag::from_u8(found)? {
            Tag::I64 => Value::I64(i64::from_le_bytes(c.next_array()?)),
            Tag::U64 => Value::U64(u64::from_le_bytes(c.next_array()?)),
            Tag::I128 => Value::I128(i128::from_le_bytes(c.next_array()?)),
            Tag::U128 => Value::U128(u128::from_le_bytes(c.next_array()?)),
            Tag::F64 => Value::F64(f64::from_bits(u64::from_le_bytes(c.next_array()?))),
            Tag::Bool => match c.next_array()? {
                [0] => Value::Bool(false),
                [1] => Value::Bool(true),
                _ => return None,
            },
            Tag::Str => Value::Str(c.next_str()?),
            Tag::Debug => Value::Debug(c.next_str()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value table of `docs/wire.md`: each tag byte and its encoding,
    /// both ways, from the one table the encoders and the decoder share.
    #[test]
    fn every_value_encodes_and_decodes_as_the_spec_says() {
        let le = |tag: u8, payload: &[u8]| [&[tag][..], payload].concat();
        let cases = [
            (Value::I64(-2), le(1, &(-2i64).to_le_bytes())),
            (Value::U64(3), le(2, &3u64.to_le_bytes())),
            (Value::I128(-4), le(3, &(-4i128).to_le_bytes())),
            (Value::U128(5), le(4, &5u128.to_le_bytes())),
            (Value::F64(1.5), le(5, &1.5f64.to_bits().to_le_bytes())),
            (Value::Bool(true), le(6, &[1])),
            (Value::Str("ab"), le(7, &[2, 0, 0, 0, b'a', b'b'])),
            (Value::Debug("c"), le(8, &[1, 0, 0, 0, b'c'])),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            value.encode(&mut out);
            assert_eq!(out, bytes, "{value:?}");
            let mut c = Cursor::new(&bytes, 0);
            assert_eq!(Value::decode(&mut c).expect("decodes"), value);
            assert_eq!(c.remaining(), 0, "{value:?} left bytes");
        }
    }

    #[test]
    fn the_table_is_in_the_order_of_the_tag_numbers() {
        for (i, tag) in Tag::ALL.into_iter().enumerate() {
            assert_eq!(tag as usize, i + 1);
            assert_eq!(Tag::from_u8(tag as u8), Some(tag));
        }
        assert_eq!(Tag::from_u8(0), None);
        assert_eq!(Tag::from_u8(9), None);
    }

    /// `read`, the iterators' path over validated bytes, reads what
    /// `decode` reads.
    #[test]
    fn read_agrees_with_decode() {
        for value in [
            Value::I64(-2),
            Value::U64(3),
            Value::I128(-4),
            Value::U128(5),
            Value::F64(1.5),
            Value::Bool(true),
            Value::Bool(false),
            Value::Str("ab"),
            Value::Debug("c"),
        ] {
            let mut bytes = Vec::new();
            value.encode(&mut bytes);
            let mut c = Cursor::new(&bytes, 0);
            assert_eq!(Value::read(&mut c), Some(value));
            assert_eq!(c.remaining(), 0, "{value:?} left bytes");
        }
        assert_eq!(Value::read(&mut Cursor::new(&[6, 2], 0)), None);
        assert_eq!(Value::read(&mut Cursor::new(&[1, 0, 0], 0)), None);
    }

    #[test]
    fn tags_outside_the_table_are_errors() {
        for found in [0, 9, 0xff] {
            let bytes = [found, 0, 0, 0, 0, 0, 0, 0, 0];
            let err = Value::decode(&mut Cursor::new(&bytes, 3)).expect_err("unknown tag");
            assert!(
                matches!(err, WireError::UnknownValueTag { found: f, offset: 3 } if f == found),
                "{err}"
            );
        }
    }
}
