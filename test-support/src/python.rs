//! Records as Python's `logging.handlers.SocketHandler` sends them, built
//! by hand.

/// A protocol-1 pickle of a dict of `str` and `int` values: the body of a
/// `SocketHandler` record (without its length prefix, see [`with_length`]).
pub fn pickle_dict(text: &[(&str, &str)], ints: &[(&str, i32)]) -> Vec<u8> {
    let mut p = vec![b'}', b'('];
    let s = |p: &mut Vec<u8>, t: &str| {
        p.push(b'X');
        p.extend_from_slice(&(t.len() as u32).to_le_bytes());
        p.extend_from_slice(t.as_bytes());
    };
    for (k, v) in text {
        s(&mut p, k);
        s(&mut p, v);
    }
    for (k, v) in ints {
        s(&mut p, k);
        p.push(b'J');
        p.extend_from_slice(&v.to_le_bytes());
    }
    p.extend_from_slice(b"u.");
    p
}

/// `body` behind `SocketHandler`'s big-endian 4-byte length: one frame.
pub fn with_length(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}
