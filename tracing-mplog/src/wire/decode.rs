//! Zero-copy decoding of frame bodies into borrowed views.

use tracing_core::Level;

use super::cursor::Cursor;
use super::error::WireError;
use super::value::Value;
use super::{FrameType, MAGIC, MIN_VERSION, VERSION};

/// One decoded frame, borrowing from the buffer it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Frame<'a> {
    /// The first frame on every connection: who is talking.
    Hello(Hello<'a>),
    /// One `tracing` event.
    Event(EventView<'a>),
    /// Events the worker could not send.
    Dropped(Dropped),
    /// The worker is done and closes the connection cleanly.
    Goodbye(Goodbye),
}

impl<'a> Frame<'a> {
    /// Decodes one frame body: the bytes after the 4-byte length prefix,
    /// starting with the frame-type byte.
    ///
    /// The whole frame is validated here (every length, tag, UTF-8 string and
    /// the absence of trailing bytes), so the views and iterators it returns
    /// cannot fail later. Never panics and never allocates.
    ///
    /// ```
    /// use tracing_mplog::wire::{Frame, Goodbye, OwnedFrame};
    ///
    /// let mut bytes = Vec::new();
    /// OwnedFrame::Goodbye(Goodbye { last_seq: 7 }).encode(&mut bytes);
    /// // `bytes` holds the length prefix, then the body.
    /// let frame = Frame::decode(&bytes[4..])?;
    /// assert_eq!(frame, Frame::Goodbye(Goodbye { last_seq: 7 }));
    /// # Ok::<(), tracing_mplog::wire::WireError>(())
    /// ```
    pub fn decode(body: &'a [u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(body, 0);
        let Ok(ty) = c.u8("frame type") else {
            return Err(WireError::EmptyFrame);
        };
        let frame = match FrameType::from_u8(ty) {
            Some(FrameType::Hello) => Frame::Hello(Hello::decode(&mut c)?),
            Some(FrameType::Event) => Frame::Event(EventView::decode(&mut c)?),
            Some(FrameType::Dropped) => Frame::Dropped(Dropped::decode(&mut c)?),
            Some(FrameType::Goodbye) => Frame::Goodbye(Goodbye {
                last_seq: c.u64("goodbye.last_seq")?,
            }),
            None => return Err(WireError::UnknownFrameType { found: ty }),
        };
        c.finish("frame")?;
        Ok(frame)
    }

    /// Copies the frame into its owned, encodable form.
    pub fn into_owned(self) -> super::OwnedFrame {
        super::OwnedFrame::from(self)
    }
}

/// The hello frame: sent first on every connection.
///
/// `Debug` does not show the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hello<'a> {
    /// Protocol version: [`MIN_VERSION`](super::MIN_VERSION) to
    /// [`VERSION`] (this crate sends [`VERSION`]).
    pub version: u16,
    /// Capability bits the worker offers (see [`capabilities`](super::capabilities)).
    /// Unknown bits must be ignored.
    pub capabilities: u64,
    /// The worker's process id.
    pub pid: u32,
    /// When the worker's logging state started, in nanoseconds since the Unix
    /// epoch (UTC). With `pid`, it tells a restarted or forked process apart
    /// from an earlier one that had the same pid.
    pub start_time_ns: i64,
    /// The worker's process name.
    pub process_name: &'a str,
    /// The host the worker runs on.
    pub host: &'a str,
    /// The shared token the worker presents (version 2; empty: none, and
    /// always empty in a version-1 hello).
    pub token: &'a str,
}

impl std::fmt::Debug for Hello<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hello")
            .field("version", &self.version)
            .field("capabilities", &self.capabilities)
            .field("pid", &self.pid)
            .field("start_time_ns", &self.start_time_ns)
            .field("process_name", &self.process_name)
            .field("host", &self.host)
            .field("token", &super::redacted(self.token))
            .finish()
    }
}

impl<'a> Hello<'a> {
    fn decode(c: &mut Cursor<'a>) -> Result<Self, WireError> {
        let found = c.array::<4>("hello.magic")?;
        if found != MAGIC {
            return Err(WireError::BadMagic { found });
        }
        let version = c.u16("hello.version")?;
        if !(MIN_VERSION..=VERSION).contains(&version) {
            return Err(WireError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        Ok(Self {
            version,
            capabilities: c.u64("hello.capabilities")?,
            pid: c.u32("hello.pid")?,
            start_time_ns: c.i64("hello.start_time_ns")?,
            process_name: c.str("hello.process_name")?,
            host: c.str("hello.host")?,
            token: if version >= 2 {
                c.str("hello.token")?
            } else {
                ""
            },
        })
    }
}

/// Why events were dropped in the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The channel was full: under `Backpressure::DropNewest`, after
    /// `BlockFor`'s wait, or during a sink outage longer than the grace under
    /// the default `BlockWithGrace` (wire value 1).
    ChannelFull,
    /// The encoded event exceeded the maximum frame size (wire value 2):
    /// it could not be cut to fit (see [`Truncated`](Self::Truncated)).
    Oversized,
    /// Not a drop: `count` events exceeded the maximum frame size and were
    /// cut to fit, each with a marker saying how many bytes were cut, and
    /// delivered (wire value 3). Sent only to a sink that agreed to
    /// [`capabilities::TRUNCATION_REPORTS`](super::capabilities::TRUNCATION_REPORTS):
    /// an older sink closes a connection with a reason it does not know.
    Truncated,
}

impl DropReason {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            DropReason::ChannelFull => 1,
            DropReason::Oversized => 2,
            DropReason::Truncated => 3,
        }
    }
}

/// The dropped-count frame: `count` events were lost for `reason` since the
/// previous dropped frame of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dropped {
    /// Why they were lost.
    pub reason: DropReason,
    /// How many.
    pub count: u64,
}

impl Dropped {
    fn decode(c: &mut Cursor<'_>) -> Result<Self, WireError> {
        let offset = c.offset();
        let reason = match c.u8("dropped.reason")? {
            1 => DropReason::ChannelFull,
            2 => DropReason::Oversized,
            3 => DropReason::Truncated,
            found => return Err(WireError::UnknownDropReason { found, offset }),
        };
        Ok(Self {
            reason,
            count: c.u64("dropped.count")?,
        })
    }
}

/// The goodbye frame: a clean end of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Goodbye {
    /// The sequence number of the last event frame this process sent
    /// (0 if it sent none), so the sink can tell whether anything is missing.
    pub last_seq: u64,
}

pub(crate) const FLAG_MODULE_PATH: u8 = 0b0001;
pub(crate) const FLAG_FILE: u8 = 0b0010;
pub(crate) const FLAG_LINE: u8 = 0b0100;
pub(crate) const FLAG_THREAD_NAME: u8 = 0b1000;
const KNOWN_FLAGS: u8 = FLAG_MODULE_PATH | FLAG_FILE | FLAG_LINE | FLAG_THREAD_NAME;

/// A level's byte on the wire (`docs/wire.md`): `TRACE` 0, `DEBUG` 1,
/// `INFO` 2, `WARN` 3, `ERROR` 4 — also an index of the five levels, most
/// verbose first.
pub fn level_to_u8(level: Level) -> u8 {
    match level {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

fn level_from_u8(b: u8) -> Option<Level> {
    Some(match b {
        0 => Level::TRACE,
        1 => Level::DEBUG,
        2 => Level::INFO,
        3 => Level::WARN,
        4 => Level::ERROR,
        _ => return None,
    })
}

/// A decoded event frame, borrowing its strings from the frame buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventView<'a> {
    /// The whole frame body, type byte first.
    body: &'a [u8],
    seq: u64,
    timestamp_ns: i64,
    level: Level,
    thread_id: u64,
    line: Option<u32>,
    target: &'a str,
    module_path: Option<&'a str>,
    file: Option<&'a str>,
    thread_name: Option<&'a str>,
    span_count: u32,
    spans: Cursor<'a>,
    fields: Cursor<'a>,
    /// The message and where its field starts and ends inside `fields.buf`.
    message: Message<'a>,
    /// How many fields [`fields`](Self::fields) yields (all but the message).
    field_count: u32,
}

impl<'a> EventView<'a> {
    fn decode(c: &mut Cursor<'a>) -> Result<Self, WireError> {
        let seq = c.u64("event.seq")?;
        let timestamp_ns = c.i64("event.timestamp_ns")?;
        let offset = c.offset();
        let level_byte = c.u8("event.level")?;
        let level = level_from_u8(level_byte).ok_or(WireError::UnknownLevel {
            found: level_byte,
            offset,
        })?;
        let offset = c.offset();
        let flags = c.u8("event.flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(WireError::UnknownFlags {
                found: flags,
                offset,
            });
        }
        let thread_id = c.u64("event.thread_id")?;
        let line = if flags & FLAG_LINE != 0 {
            Some(c.u32("event.line")?)
        } else {
            None
        };
        let target = c.str("event.target")?;
        let module_path = opt_str(c, flags & FLAG_MODULE_PATH, "event.module_path")?;
        let file = opt_str(c, flags & FLAG_FILE, "event.file")?;
        let thread_name = opt_str(c, flags & FLAG_THREAD_NAME, "event.thread_name")?;

        let span_count = c.u32("event.span_count")?;
        let spans_start = c.pos;
        for _ in 0..span_count {
            c.str("span.name")?;
            validate_fields(c.blob("span.fields")?)?;
        }
        let mut spans = Cursor::new(&c.buf[..c.pos], c.base);
        spans.pos = spans_start;
        let spans = spans.validated();
        let fields = c.blob("event.fields")?;
        let (message, count) = validate_fields(fields)?;
        let field_count = count - u32::from(message.is_some());
        let fields = fields.validated();
        Ok(Self {
            body: c.buf,
            seq,
            timestamp_ns,
            level,
            thread_id,
            line,
            target,
            module_path,
            file,
            thread_name,
            span_count,
            spans,
            fields,
            message,
            field_count,
        })
    }

    /// The frame body this view was decoded from (the bytes after the
    /// length prefix, frame type byte first): what keeps the event in its
    /// compact form without encoding it again.
    ///
    /// ```
    /// use tracing_mplog::wire::{Frame, OwnedEvent, OwnedFrame};
    /// use tracing_core::Level;
    ///
    /// let mut bytes = Vec::new();
    /// OwnedFrame::Event(OwnedEvent {
    ///     seq: 1, timestamp_ns: 0, level: Level::INFO, target: "app".into(),
    ///     module_path: None, file: None, line: None, thread_id: 1, thread_name: None,
    ///     message: Some("hi".into()), fields: vec![], spans: vec![],
    /// })
    /// .encode(&mut bytes);
    /// let Frame::Event(e) = Frame::decode(&bytes[4..])? else { panic!("not an event") };
    /// assert_eq!(e.body(), &bytes[4..]);
    /// # Ok::<(), tracing_mplog::wire::WireError>(())
    /// ```
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The event's sequence number: 1 for the first event a process sends,
    /// then +1 per event frame. A frame re-sent after a reconnect keeps its
    /// number, so a sink can drop duplicates; a gap means lost events.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When the event happened in the worker: nanoseconds since the Unix
    /// epoch, UTC.
    pub fn timestamp_ns(&self) -> i64 {
        self.timestamp_ns
    }

    /// The event's level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The event's target.
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The Rust module path of the call site, if known.
    pub fn module_path(&self) -> Option<&'a str> {
        self.module_path
    }

    /// The source file of the call site, if known.
    pub fn file(&self) -> Option<&'a str> {
        self.file
    }

    /// The source line of the call site, if known.
    pub fn line(&self) -> Option<u32> {
        self.line
    }

    /// The emitting thread's id (the OS thread id where there is one).
    pub fn thread_id(&self) -> u64 {
        self.thread_id
    }

    /// The emitting thread's name, if it has one.
    pub fn thread_name(&self) -> Option<&'a str> {
        self.thread_name
    }

    /// The message: the first field named `message` holding a string or
    /// `Debug` text; `""` if there is none.
    pub fn message(&self) -> &'a str {
        self.message.map_or("", |(m, _)| m)
    }

    /// Whether the event has a message field ([`message`](Self::message)
    /// is `""` both for an empty message and for none).
    pub fn has_message(&self) -> bool {
        self.message.is_some()
    }

    pub(crate) fn message_opt(&self) -> Option<&'a str> {
        self.message.map(|(m, _)| m)
    }

    /// The event's fields in the order they were recorded, without the
    /// message field that [`message`](Self::message) returns.
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            cur: self.fields,
            skip: self.message.map(|(_, at)| at),
        }
    }

    /// How many fields [`fields`](Self::fields) yields (known from the
    /// decoding: counting them reads nothing).
    pub fn field_count(&self) -> usize {
        self.field_count as usize
    }

    /// The spans the event happened in, outermost first.
    pub fn spans(&self) -> Spans<'a> {
        Spans {
            cur: self.spans,
            left: self.span_count,
        }
    }
}

fn opt_str<'a>(
    c: &mut Cursor<'a>,
    present: u8,
    what: &'static str,
) -> Result<Option<&'a str>, WireError> {
    if present != 0 {
        c.str(what).map(Some)
    } else {
        Ok(None)
    }
}

/// The message of a field list and where its field starts and ends.
type Message<'a> = Option<(&'a str, (usize, usize))>;

/// Decodes every field of a list (validating it) and returns the message:
/// the first field named `message` holding a string or `Debug` text, with
/// where it starts; and how many fields the list holds.
fn validate_fields(mut c: Cursor<'_>) -> Result<(Message<'_>, u32), WireError> {
    let mut message = None;
    let mut count = 0u32;
    while c.remaining() > 0 {
        let at = c.pos;
        let field = read_field(&mut c)?;
        let end = c.pos;
        // At least 6 bytes a field, in a frame whose length is a u32.
        count += 1;
        if message.is_none() && field.name == "message" {
            if let Value::Str(m) | Value::Debug(m) = field.value {
                message = Some((m, (at, end)));
            }
        }
    }
    Ok((message, count))
}

/// Reads and validates one field: the fast path first (`Option`, no
/// error to build), and only if it fails the reads that say why.
#[inline]
fn read_field<'a>(c: &mut Cursor<'a>) -> Result<Field<'a>, WireError> {
    let start = c.pos;
    if let Some(name) = c.next_str() {
        if let Some(value) = Value::read(c) {
            return Ok(Field { name, value });
        }
    }
    c.pos = start;
    field_error(c)
}

/// [`read_field`] for a field its fast path could not read: the same
/// reads, each with its error.
#[cold]
#[inline(never)]
fn field_error<'a>(c: &mut Cursor<'a>) -> Result<Field<'a>, WireError> {
    let name = c.str("field.name")?;
    let value = Value::decode(c)?;
    Ok(Field { name, value })
}

/// One span of an event's scope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpanView<'a> {
    name: &'a str,
    fields: Cursor<'a>,
}

impl<'a> SpanView<'a> {
    /// The span's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The span's fields, in the order they were recorded (values recorded
    /// later with `Span::record` follow the ones given at creation).
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            cur: self.fields,
            skip: None,
        }
    }
}

/// Iterator over an event's spans, outermost first.
#[derive(Debug, Clone)]
pub struct Spans<'a> {
    cur: Cursor<'a>,
    left: u32,
}

impl<'a> Iterator for Spans<'a> {
    type Item = SpanView<'a>;

    fn next(&mut self) -> Option<SpanView<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Validated by `Frame::decode`; an error cannot happen, but ending the
        // iteration is the safe answer if it did.
        let name = self.cur.next_str()?;
        let fields = self.cur.next_blob()?;
        Some(SpanView { name, fields })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Spans<'_> {}

/// Iterator over fields.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    cur: Cursor<'a>,
    /// Where the message field starts and ends: stepped over, not read.
    skip: Option<(usize, usize)>,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        if let Some((at, end)) = self.skip.filter(|&(at, _)| at == self.cur.pos) {
            // The message (`EventView::message`): stepped over.
            debug_assert!(end > at);
            self.cur.pos = end;
        }
        if self.cur.remaining() == 0 {
            return None;
        }
        // Validated by `Frame::decode` (see `Spans::next`); read with no
        // error to build or carry.
        let name = self.cur.next_str()?;
        let value = Value::read(&mut self.cur)?;
        Some(Field { name, value })
    }
}

/// One field: a name and a typed value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field<'a> {
    /// The field's name.
    pub name: &'a str,
    /// The field's value.
    pub value: Value<'a>,
}
