//! A log file that rotates when a time boundary passes **or** when the next
//! record would pass a size, whichever comes first, and loses nothing.
//!
//! [`RotatingFile`] is an [`io::Write`] (also through `&RotatingFile`) and a
//! [`MakeWriter`], so it plugs into `tracing_subscriber::fmt` directly or
//! behind `tracing_appender::non_blocking`. See `docs/rotation.md` for the
//! full story; in short:
//!
//! - **One `write` call is one record.** Each call goes whole into one file:
//!   rotation is decided before the bytes are written, a record never
//!   straddles two files, and a record longer than `max_bytes` gets a file
//!   of its own. `tracing_subscriber::fmt` and the `non_blocking` worker
//!   both issue one `write_all` per event, and `write` here always takes
//!   the whole buffer, so one `write_all` is one `write`. Callers that
//!   assemble a record from several writes must join it first.
//! - **Names** are `<file>.<period start>.<seq>[.gz]`, for example
//!   `app.log.2024-03-10_00-00-00.0000`; they sort chronologically and an
//!   existing name is never reused (see [`Builder`] and the docs).
//! - **Retention** (`backup_count`, `max_age`) and **compression** run on a
//!   background thread from what is on disk, so they also apply to files
//!   of earlier runs.
//! - **Errors** are returned to the caller as [`io::Error`]; the next write
//!   reopens the file (recreating its folder) and carries on. A failed
//!   write leaves no partial record behind when the file can be truncated
//!   back. On Unix, an active file deleted while open (alone or with its
//!   folder) is noticed at the next write, which goes to a new file.
//!
//! ```
//! use time::macros::datetime;
//! use tracing_mplog_sink::clock::ManualClock;
//! use tracing_mplog_sink::rotate::{RotatingFile, When};
//! use std::io::Write;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let clock = ManualClock::new(datetime!(2024-05-01 23:59:59 UTC));
//! let mut log = RotatingFile::builder()
//!     .when(When::Midnight)
//!     .utc(true)
//!     .clock(clock.clone())
//!     .build(dir.path().join("app.log"))?;
//! log.write_all(b"before midnight\n")?;
//! clock.advance(time::Duration::seconds(1));
//! log.write_all(b"after midnight\n")?;
//! let rotated = dir.path().join("app.log.2024-05-01_00-00-00.0000");
//! assert_eq!(std::fs::read_to_string(rotated)?, "before midnight\n");
//! assert_eq!(std::fs::read_to_string(log.path())?, "after midnight\n");
//! # Ok(()) }
//! ```

mod buffer;
mod builder;
mod naming;
mod retention;
mod schedule;
#[cfg(feature = "sink")]
mod sink;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use time::{OffsetDateTime, Time};
use tracing_subscriber::fmt::MakeWriter;

#[cfg(feature = "sink")]
pub(crate) use buffer::SharedText;
pub use builder::{Builder, DEFAULT_INTERVAL, FileMode, ParseWhenError, RotateError, When};

use crate::clock::Clock;
use crate::sys;
use buffer::Buffer;
use naming::Namer;
use retention::{Policy, Retention};
use schedule::{Period, Schedule};

/// A log file rotated by time or size, whichever comes first.
///
/// Build one with [`RotatingFile::builder`]. Thread-safe: every write
/// takes an internal lock, so share it by reference (it is a
/// [`MakeWriter`]) or move it into `tracing_appender::non_blocking`.
///
/// ```
/// use tracing_mplog_sink::rotate::{RotatingFile, When};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let file = RotatingFile::builder()
///     .when(When::Hours)
///     .max_bytes(10 * 1024 * 1024)
///     .build(dir.path().join("app.log"))?;
/// let subscriber = tracing_subscriber::fmt().with_writer(file).finish();
/// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
/// assert!(std::fs::read_to_string(dir.path().join("app.log"))?.contains("hello"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    dir: PathBuf,
    schedule: Schedule,
    max_bytes: u64,
    buffer_capacity: usize,
    file_mode: FileMode,
    permissions: u32,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    retention: Option<Retention>,
    /// Rotations done so far (read by the sink's metrics).
    rotations: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct State {
    /// `None` before the first open (delay) and after an I/O error.
    file: Option<File>,
    /// Whole records not yet written (buffered mode only).
    buf: Buffer,
    /// Length of the active file, written or buffered.
    size: u64,
    period: Period,
    opened_once: bool,
    namer: Namer,
}

impl RotatingFile {
    /// A [`Builder`] with the defaults (no rotation until configured).
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_builder(b: &Builder, path: &Path) -> Result<Self, RotateError> {
        let bad = |reason| RotateError::Path {
            path: path.to_owned(),
            reason,
        };
        let bytes = path.as_os_str().as_encoded_bytes();
        if bytes.is_empty() {
            return Err(bad("the path is empty"));
        }
        if bytes
            .last()
            .is_some_and(|&c| std::path::is_separator(char::from(c)))
        {
            return Err(bad("the path ends with a separator, so it names a folder"));
        }
        let base = path
            .file_name()
            .ok_or_else(|| bad("the path does not end with a file name"))?
            .to_str()
            .ok_or_else(|| bad("the file name is not valid UTF-8"))?
            .to_owned();
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir)
            .map_err(|e| RotateError::io("cannot create the log folder", &dir, e))?;
        if path.is_dir() {
            return Err(bad("the path is an existing folder"));
        }
        let schedule = Schedule::new(
            b.when,
            b.interval,
            b.at_time.unwrap_or(Time::MIDNIGHT),
            b.zone.clone().unwrap_or_default(),
        );
        let namer = Namer::new(&dir, &base)
            .map_err(|e| RotateError::io("cannot list the log folder", &dir, e))?;
        let policy = Policy {
            dir: dir.clone(),
            base,
            compress: b.compress,
            backup_count: b.backup_count,
            max_age: b.max_age.clone().ok().flatten(),
            permissions: b.permissions,
            clock: Arc::clone(&b.clock),
        };
        let retention = match (&b.housekeeper, policy.is_active()) {
            (_, false) => None,
            (Some(keeper), true) => Some(Retention::on(keeper, policy)),
            (None, true) => Some(Retention::start(policy).map_err(RotateError::Thread)?),
        };
        let now = b.clock.now();
        let this = Self {
            path: path.to_owned(),
            dir,
            max_bytes: b.max_bytes,
            buffer_capacity: b.buffer_capacity,
            file_mode: b.file_mode,
            permissions: b.permissions,
            clock: Arc::clone(&b.clock),
            state: Mutex::new(State {
                file: None,
                buf: Buffer::with_capacity(b.buffer_capacity),
                size: 0,
                period: schedule.period_at(now),
                opened_once: false,
                namer,
            }),
            schedule,
            retention,
            rotations: std::sync::atomic::AtomicU64::new(0),
        };
        if !b.delay {
            let mut state = this.lock();
            this.open(&mut state, now)
                .map_err(|e| RotateError::io("cannot open the log file", path, e))?;
        }
        Ok(this)
    }

    /// The active file's path (rotated files are renamed away from it, so
    /// this never changes).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes buffered records, then asks the operating system to put the
    /// file on disk (`fsync`). For shutdown.
    ///
    /// # Errors
    ///
    /// When writing or syncing fails.
    pub fn sync_all(&self) -> io::Result<()> {
        let mut state = self.lock();
        self.flush_locked(&mut state)?;
        match &state.file {
            Some(file) => file.sync_all(),
            None => Ok(()),
        }
    }

    /// Blocks until the background thread has finished every compression
    /// and pruning requested so far. Returns at once when there is no
    /// background work (no `compress`, `backup_count` or `max_age`).
    /// Dropping the `RotatingFile` also waits for them.
    pub fn wait_idle(&self) {
        if let Some(retention) = &self.retention {
            retention.wait_idle();
        }
    }

    /// How many times the file was rotated (renamed out) so far.
    pub fn rotations(&self) -> u64 {
        self.rotations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many background operations (compressing, deleting) have failed.
    /// Each failure is also reported on stderr.
    pub fn background_errors(&self) -> u64 {
        self.retention.as_ref().map_or(0, Retention::errors)
    }
}

impl RotatingFile {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave `State` half-updated in a way that
        // matters more than losing the log.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes one record (see the module docs for the contract).
    fn write_record(&self, record: &[u8]) -> io::Result<()> {
        let mut st = self.lock();
        // Only a timed schedule needs the time of every record; a size-only
        // file asks the clock when it opens or rotates.
        let timed = self.schedule.is_timed();
        let now = (timed || st.file.is_none()).then(|| self.clock.now());
        let now_or_clock = |now: Option<OffsetDateTime>| now.unwrap_or_else(|| self.clock.now());
        if st.file.is_none() {
            self.open(&mut st, now_or_clock(now))?;
        }
        // Checked only when this record reaches the file (one `fstat`), so
        // buffered records cost no system call.
        let reaches_file =
            self.buffer_capacity == 0 || st.buf.len() + record.len() > self.buffer_capacity;
        if reaches_file && st.file.as_ref().is_some_and(sys::is_unlinked) {
            // Deleted behind our back (with its folder, perhaps): what is
            // written there is lost, so start a new file at the same path.
            st.file = None;
            self.open(&mut st, now_or_clock(now))?;
        }
        if let Some(now) = now.filter(|&now| st.period.end.is_some_and(|end| now >= end)) {
            let next = self.schedule.period_at(now);
            if st.size > 0 {
                let stamp = naming::stamp(st.period.start_civil);
                self.rotate(&mut st, stamp, now)?;
            }
            st.period = next;
        }
        let len = record.len() as u64;
        if self.max_bytes > 0 && st.size > 0 && st.size.saturating_add(len) > self.max_bytes {
            let now = now_or_clock(now);
            let civil = if timed {
                st.period.start_civil
            } else {
                self.schedule.civil(now)
            };
            self.rotate(&mut st, naming::stamp(civil), now)?;
        }
        if self.buffer_capacity == 0 {
            Self::write_through(&mut st, record)?;
        } else {
            if st.buf.len() + record.len() > self.buffer_capacity {
                Self::flush_buf(&mut st)?;
            }
            if record.len() >= self.buffer_capacity {
                Self::write_through(&mut st, record)?;
            } else {
                st.buf.push_bytes(record);
            }
        }
        st.size += len;
        Ok(())
    }

    /// Opens the active file if it is not open. The first open rotates a
    /// file last written in an earlier period, and truncates if asked.
    fn open(&self, st: &mut State, now: OffsetDateTime) -> io::Result<()> {
        if st.file.is_some() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir)?;
        let first = !st.opened_once;
        if first && self.file_mode == FileMode::Append {
            self.rotate_stale(st, now)?;
        }
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        sys::set_create_mode(&mut options, self.permissions);
        let file = options.open(&self.path)?;
        if first && self.file_mode == FileMode::Truncate {
            file.set_len(0)?;
        }
        st.size = file.metadata()?.len() + st.buf.len() as u64;
        if first && self.file_mode == FileMode::Append && ends_mid_line(&self.path)? {
            // An earlier run was killed in the middle of a record: end that
            // fragment so the first record of this run starts a line of its own.
            (&file).write_all(b"\n")?;
            st.size += 1;
        }
        st.file = Some(file);
        st.opened_once = true;
        Ok(())
    }

    /// Rotates a file left by an earlier run whose modification time lies
    /// in an earlier period, under that period's name.
    fn rotate_stale(&self, st: &mut State, now: OffsetDateTime) -> io::Result<()> {
        if !self.schedule.is_timed() {
            return Ok(());
        }
        let meta = match fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if !meta.is_file() || meta.len() == 0 {
            return Ok(());
        }
        let then = self.schedule.period_at(meta.modified()?.into());
        if then.start < self.schedule.period_at(now).start {
            self.rename_out(st, naming::stamp(then.start_civil))?;
        }
        Ok(())
    }

    /// Closes the active file (buffer written, modification time set to
    /// `now`), renames it to the next name for `stamp` and opens a new one.
    fn rotate(&self, st: &mut State, stamp: String, now: OffsetDateTime) -> io::Result<()> {
        Self::flush_buf(st)?;
        if let Some(file) = st.file.take() {
            // Retention ages files by this time; keep the clock's notion.
            // Failing to set it only makes the age less exact.
            let _ = file.set_modified(now.into());
        }
        self.rename_out(st, stamp)?;
        st.size = 0;
        self.open(st, now)
    }

    fn rename_out(&self, st: &mut State, stamp: String) -> io::Result<()> {
        let (target, stamp, seq) = st.namer.next(stamp);
        fs::rename(&self.path, &target)?;
        st.namer.commit(stamp, seq);
        self.rotations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(retention) = &self.retention {
            retention.request_sweep();
        }
        Ok(())
    }

    /// Writes `bytes` to the open file; on failure cuts the file back to
    /// where it was and closes it, so the next write reopens it.
    fn write_through(st: &mut State, bytes: &[u8]) -> io::Result<()> {
        let on_disk = st.size - st.buf.len() as u64;
        Self::write_at(st, on_disk, |file| file.write_all(bytes))
    }

    /// Runs `write` on the open file, whose length before it is `on_disk`;
    /// on failure cuts the file back to `on_disk` and closes it.
    fn write_at(
        st: &mut State,
        on_disk: u64,
        write: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> io::Result<()> {
        let Some(file) = st.file.as_mut() else {
            return Err(io::Error::other("the log file is not open"));
        };
        if let Err(e) = write(file) {
            let _ = file.set_len(on_disk);
            st.file = None;
            return Err(e);
        }
        Ok(())
    }

    fn flush_buf(st: &mut State) -> io::Result<()> {
        if st.buf.is_empty() {
            return Ok(());
        }
        // What the file held before the buffer: computed before the buffer
        // is taken out (a failed write is cut back to exactly this).
        let on_disk = st.size - st.buf.len() as u64;
        let buf = std::mem::take(&mut st.buf);
        let result = Self::write_at(st, on_disk, |file| buf.write_to(file));
        st.buf = buf;
        if result.is_ok() {
            st.buf.clear();
        }
        result
    }

    fn flush_locked(&self, st: &mut State) -> io::Result<()> {
        if st.buf.is_empty() {
            return Ok(());
        }
        // Buffered records reach the file here: the same check as in
        // `write_record`, or they would go to a deleted file and be lost.
        if st.file.as_ref().is_some_and(sys::is_unlinked) {
            st.file = None;
        }
        if st.file.is_none() {
            self.open(st, self.clock.now())?;
        }
        Self::flush_buf(st)
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if !st.buf.is_empty() && st.file.is_some() {
            if let Err(e) = Self::flush_buf(st) {
                eprintln!(
                    "tracing-mplog-sink: {} buffered bytes for {:?} lost at drop: {e}",
                    st.buf.len(),
                    self.path
                );
            }
        }
        // `retention` drops next: it finishes queued work and joins.
    }
}

impl Write for &RotatingFile {
    /// Writes `buf` as one record, whole, or fails without writing it.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_record(buf)?;
        Ok(buf.len())
    }

    /// Writes buffered records (the file itself has no buffer).
    fn flush(&mut self) -> io::Result<()> {
        let mut st = self.lock();
        self.flush_locked(&mut st)
    }
}

impl Write for RotatingFile {
    /// Writes `buf` as one record, whole, or fails without writing it.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    /// Writes buffered records.
    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

/// The writer [`RotatingFile`] hands out per event as a [`MakeWriter`]: a
/// borrow, each `write` call a whole record.
#[derive(Debug)]
pub struct RotatingWriter<'a> {
    file: &'a RotatingFile,
}

impl Write for RotatingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write_record(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut file = self.file;
        file.flush()
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = RotatingWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        RotatingWriter { file: self }
    }
}

/// Whether the file at `path` is non-empty and its last byte is not a
/// newline: what a process killed in the middle of a `write` leaves behind.
fn ends_mid_line(path: &Path) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}
