//! [`Builder::start`], in steps: check every setting ([`Checked`]), make
//! what the sink writes with (forwarders, the log folder, the rotation
//! template, the descriptor budget), bind the endpoints, assemble the
//! shared state and the writer, and spawn the threads. From binding on, a
//! [`SocketFiles`] guard owns the socket files: a step that fails removes
//! them as it returns, and a started writer is told to stop and joined.

use std::collections::HashMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use tracing_mplog::Endpoint;

use super::super::bind::{SocketFiles, bind_all};
use super::super::fds::Descriptors;
use super::super::lines::LineMaker;
use super::super::listener::Protocol;
use super::super::monitor::{self, Compiled, Evaluator, Firing, Monitor, Running};
use super::super::report::Tally;
use super::super::router::Router;
use super::super::seen::SeqStore;
use super::super::tail::Tail;
use super::super::writer::FILE_BUFFER;
use super::super::writer::Watch;
use super::super::writer::{self, Config, Msg, Writer};
use super::super::{Shared, SinkError, SinkHandle, listener};
use super::{Builder, CHANNEL_CAPACITY, FILE_PERMISSIONS, MIN_FRAME_SIZE};
use crate::format;
use crate::forward::{Forwarders, Notify, StartError};
use crate::record::Client;
use crate::rotate;
use crate::sys;
use crate::transport::Listener;

/// The settings, checked, and what checking them built.
struct Checked {
    token: Option<String>,
    allowed_uids: Vec<u32>,
    formatter: format::Lines,
    router: Router,
    rules: Vec<Compiled>,
    metrics_addr: Option<SocketAddr>,
}

/// The bound endpoints, and the guard of their socket files.
struct Bound {
    listeners: Vec<(Listener, Protocol)>,
    endpoints: Vec<Endpoint>,
    python_endpoints: Vec<Endpoint>,
    sockets: SocketFiles,
}

/// What the threads share and run, before they are spawned.
struct Assembled {
    shared: Arc<Shared>,
    writer: Writer,
    firings: flume::Receiver<Firing>,
    files: Arc<Mutex<Vec<PathBuf>>>,
}

/// The listener and the writer threads, and the monitor's.
type Threads = ((JoinHandle<()>, JoinHandle<Tally>), Running);

impl Builder {
    /// Validates every setting, checks that the log folder is writable,
    /// binds the socket and starts the threads.
    ///
    /// # Errors
    ///
    /// [`SinkError::Config`] naming the setting, [`SinkError::Format`] /
    /// [`SinkError::Rotate`] for templates and rotation settings,
    /// [`SinkError::Io`] naming the log folder or socket path that failed,
    /// [`SinkError::Thread`].
    pub fn start(self) -> Result<SinkHandle, SinkError> {
        let checked = self.check()?;
        let metrics_addr = checked.metrics_addr;
        let (tx, rx) = flume::bounded(CHANNEL_CAPACITY);
        // Before anything is created: a destination that cannot work (a
        // missing CA file, say) leaves no log folder behind.
        let forwarders = start_forwarders(&self.forwards, &tx)?;
        check_logdir(&self.logdir)?;
        let rotation = self.rotation_template(&checked.router)?;
        // Before binding: the raised limit and what is open now size it.
        let fds = Arc::new(Descriptors::new(self.max_open_files));
        let Bound {
            listeners,
            endpoints,
            python_endpoints,
            sockets,
        } = self.bind()?;
        let parts = self.assemble(checked, &forwarders, rotation, fds, tx);
        let files = Arc::clone(&parts.files);
        // A failure from here on removes the socket files with `sockets`.
        let ((threads, running), shared) = spawn(parts, rx, metrics_addr, listeners)?;
        Ok(SinkHandle {
            endpoints,
            python_endpoints,
            socket_paths: sockets,
            shared,
            files,
            clock: self.clock,
            drain_timeout: self.drain_timeout,
            threads: Some(threads),
            monitor: Some(running),
            forwarders,
            forward_drain: self.forward_drain,
        })
    }

    /// Every check that needs nothing created.
    fn check(&self) -> Result<Checked, SinkError> {
        if self.endpoints.is_empty() {
            return Err(SinkError::config("listen", "no endpoint given (required)"));
        }
        let token = self.net.check(&self.endpoints)?;
        self.net.check_python(&self.python_endpoints)?;
        if self.name.is_empty() {
            return Err(SinkError::config("name", "must not be empty"));
        }
        if self.keys.is_empty() && !self.consolidate && !self.echo {
            return Err(SinkError::config(
                "process_key",
                "empty, with consolidate and echo off: records would be written nowhere",
            ));
        }
        if self.max_frame_size < MIN_FRAME_SIZE {
            return Err(SinkError::config(
                "max_frame_size",
                format!(
                    "{} is below the minimum of {MIN_FRAME_SIZE} bytes",
                    self.max_frame_size
                ),
            ));
        }
        if self.max_open_files == Some(0) {
            return Err(SinkError::config("max_open_files", "must be at least 1"));
        }
        if self.socket_dir_mode > 0o7777 {
            return Err(SinkError::config(
                "socket_dir_mode",
                format!("{:o} is not a permission mode", self.socket_dir_mode),
            ));
        }
        let allowed_uids = self.peer_uids();
        if allowed_uids.is_empty() {
            return Err(SinkError::config(
                "allowed_uids",
                "empty: nobody could connect",
            ));
        }
        let router = Router::new(
            &self.logdir,
            &self.name,
            &self.prefix,
            &self.suffix,
            self.keys.clone(),
            self.consolidate,
        )
        .map_err(|(field, reason)| SinkError::config(field, reason))?;
        let (rules, metrics_addr) = self.monitor.check()?;
        Ok(Checked {
            token,
            allowed_uids,
            formatter: self.build_formatter()?,
            router,
            rules,
            metrics_addr,
        })
    }

    /// The uids allowed to connect: as set, else the sink's own and root.
    fn peer_uids(&self) -> Vec<u32> {
        self.allowed_uids.clone().unwrap_or_else(|| {
            let own_uid = sys::current_uid();
            let mut uids = vec![own_uid];
            if own_uid != 0 {
                uids.push(0);
            }
            uids
        })
    }

    /// The formatter of the lines, its templates named after the sink
    /// unless they have a name (checked also when JSON leaves them unused).
    fn build_formatter(&self) -> Result<format::Lines, SinkError> {
        let mut format = self.format.clone();
        if !format.has_process_name() {
            format = format.process_name(self.name.clone());
        }
        Ok(format::Lines::new(self.line_format, format.build()?))
    }

    /// The rotation settings every output file is built from, checked
    /// (without creating a file), with one housekeeping thread for all.
    fn rotation_template(&self, router: &Router) -> Result<rotate::Builder, SinkError> {
        let rotation = self
            .rotation
            .clone()
            .buffer_capacity(FILE_BUFFER)
            .permissions(FILE_PERMISSIONS)
            .shared_housekeeping()
            .map_err(SinkError::Rotate)?;
        rotation
            .clone()
            .delay(true)
            .build(router.own_file())
            .map_err(SinkError::Rotate)?;
        Ok(rotation)
    }

    /// Binds the native and the Python endpoints.
    fn bind(&self) -> Result<Bound, SinkError> {
        let mut sockets = SocketFiles::default();
        let mode = self.socket_dir_mode;
        let (native, endpoints) = bind_all(&self.endpoints, &self.net, mode, &mut sockets)?;
        let (python, python_endpoints) =
            bind_all(&self.python_endpoints, &self.net, mode, &mut sockets)?;
        let listeners = native.into_iter().map(|l| (l, Protocol::Native));
        #[cfg(feature = "python")]
        let listeners = listeners.chain(python.into_iter().map(|l| (l, Protocol::Python)));
        // Without the feature there is no `python_listen`: none to serve.
        #[cfg(not(feature = "python"))]
        drop(python);
        let listeners = listeners.collect();
        Ok(Bound {
            listeners,
            endpoints,
            python_endpoints,
            sockets,
        })
    }

    /// The monitor, the shared state and the writer.
    fn assemble(
        &self,
        checked: Checked,
        forwarders: &Forwarders,
        rotation: rotate::Builder,
        fds: Arc<Descriptors>,
        tx: flume::Sender<Msg>,
    ) -> Assembled {
        let monitor = Arc::new(Monitor::new(
            checked.rules,
            self.monitor.retention,
            self.logdir.clone(),
            forwarders.stats(),
        ));
        let senders = forwarders.senders();
        let (firing_tx, firings) = flume::bounded(monitor::QUEUE);
        let eval =
            (!monitor.rules.is_empty()).then(|| Evaluator::new(Arc::clone(&monitor), firing_tx));
        let files = Arc::new(Mutex::new(Vec::new()));
        let own = Client {
            conn: 0,
            pid: std::process::id(),
            start_time_ns: 0,
            process_name: self.name.clone(),
            host: tracing_mplog::origin::hostname(),
        };
        // The live tail is served by the metrics server.
        let tail = (checked.metrics_addr.is_some()).then(|| Arc::new(Tail::default()));
        let lines = LineMaker {
            formatter: checked.formatter.clone(),
            router: checked.router.clone(),
            level: self.level,
            forward: senders.level().map(|l| l.min(self.level)),
            tail: (tail.clone()).map(|t| (t, crate::format::JsonFormatter::new())),
        };
        let writer = Writer::new(Config {
            formatter: checked.formatter,
            router: checked.router,
            rotation,
            level: self.level,
            consolidated_level: self.outputs.consolidated.unwrap_or(self.level),
            per_key_level: self.outputs.per_key.unwrap_or(self.level),
            echo_level: self.outputs.echo.unwrap_or(self.level),
            echo: self.echo,
            own: Arc::new(own),
            clock: Arc::clone(&self.clock),
            files: Arc::clone(&files),
            seq_store: SeqStore::open(&self.logdir, &self.name),
            watch: Watch::new(Arc::clone(&monitor), eval),
            forward: senders,
            fds: Arc::clone(&fds),
            tail,
            max_ended_processes: self.max_ended_processes,
        });
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            readers: Mutex::new(Vec::new()),
            rejects: super::super::rejects::Counters::default(),
            token: checked.token,
            hello_timeout: self.net.hello_timeout,
            max_connections: self.net.max_connections,
            next_conn: AtomicU64::new(0),
            tx,
            max_frame_size: self.max_frame_size,
            allowed_uids: checked.allowed_uids,
            lines,
            monitor,
            fds,
        });
        Assembled {
            shared,
            writer,
            firings,
            files,
        }
    }
}

/// Spawns the writer, the monitor's threads and the listener; on failure
/// stops what was started.
fn spawn(
    parts: Assembled,
    rx: flume::Receiver<Msg>,
    metrics_addr: Option<SocketAddr>,
    listeners: Vec<(Listener, Protocol)>,
) -> Result<(Threads, Arc<Shared>), SinkError> {
    let Assembled {
        shared,
        writer,
        firings,
        ..
    } = parts;
    let writer = thread::Builder::new()
        .name("mplog-writer".into())
        .spawn(move || writer.run(&rx))
        .map_err(|source| SinkError::Thread {
            thread: "writer",
            source,
        })?;
    let stop_writer = |writer: JoinHandle<Tally>| {
        let _ = shared.tx.send(Msg::Shutdown);
        let _ = writer.join();
    };
    let mut running = match Running::start(&shared, metrics_addr, firings) {
        Ok(running) => running,
        Err(e) => {
            stop_writer(writer);
            return Err(e);
        }
    };
    let for_listener = Arc::clone(&shared);
    let spawned = thread::Builder::new()
        .name("mplog-listen".into())
        .spawn(move || listener::run(&for_listener, &listeners));
    match spawned {
        Ok(listener) => Ok((((listener, writer), running), shared)),
        Err(source) => {
            stop_writer(writer);
            running.stop();
            Err(SinkError::Thread {
                thread: "listener",
                source,
            })
        }
    }
}

/// Checks every forwarding destination and starts its queue and thread;
/// the threads report through the writer's channel.
fn start_forwarders(
    dests: &[crate::forward::Destination],
    tx: &flume::Sender<Msg>,
) -> Result<Forwarders, SinkError> {
    let tx = tx.clone();
    let notify: Notify = Arc::new(move |level, message| {
        if let Err(flume::SendError(Msg::Notice { message, .. })) =
            tx.send(Msg::Notice { level, message })
        {
            eprintln!("{}: {message}", writer::SINK_TARGET);
        }
    });
    Forwarders::start(dests, &notify).map_err(|e| match e {
        StartError::Destination(e) => SinkError::config("forward", e.to_string()),
        StartError::Thread(source) => SinkError::Thread {
            thread: "forward",
            source,
        },
    })
}

/// Creates the log folder and checks that a file can be created in it.
fn check_logdir(dir: &Path) -> Result<(), SinkError> {
    fs::create_dir_all(dir).map_err(|e| SinkError::io("cannot create the log folder", dir, e))?;
    let probe = dir.join(format!(".mplog-write-check-{}", std::process::id()));
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| SinkError::io("the log folder is not writable", dir, e))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}
