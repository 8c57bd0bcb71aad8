//! Running the sink: the resolved [`Config`] → `Sink::builder()`, the wait
//! for SIGTERM/SIGINT, the drain and the report.

use tracing_mplog_sink::zone::Zone;
use tracing_mplog_sink::{Sink, SinkError, sink};

use crate::config::Config;
use crate::error::{CliError, EXIT_RUNTIME};
use crate::signals::{self, Signals};

/// The sink's builder with every setting of `config`: the lists here, the
/// single values by their table entries ([`Config::apply`]).
pub(crate) fn builder(config: &Config) -> sink::Builder {
    let mut b = Sink::builder();
    for endpoint in &config.listen {
        b = b.listen(endpoint.clone());
    }
    for endpoint in &config.python_listen {
        b = b.python_listen(endpoint.clone());
    }
    b = b.process_key(config.process_key.iter().copied());
    for (level, template) in &config.formats {
        b = b.format(*level, template.clone());
    }
    b = b.line_format(config.line_format);
    for rule in &config.alerts {
        b = b.alert(rule.clone());
    }
    for dest in &config.forward {
        b = b.forward(dest.clone());
    }
    config.apply(b)
}

/// Starts the sink, says `listening on <endpoint>` for each endpoint, waits for SIGTERM or
/// SIGINT, drains and prints the report.
pub(crate) fn run(config: &Config) -> Result<(), CliError> {
    // Local time comes from `TZ` (or /etc/localtime): a `TZ` that names no
    // zone stops the daemon here rather than silently logging in UTC.
    if !config.utc {
        Zone::local().map_err(|source| CliError::Zone { source })?;
    }
    // Before the sink starts, so a signal sent as soon as the socket exists
    // already drains instead of killing.
    let mut signals = Signals::register().map_err(|source| CliError::Signals { source })?;
    let handle = builder(config)
        .start()
        .map_err(|error| start_error(config, error))?;
    for endpoint in handle.endpoints() {
        eprintln!("listening on {endpoint}");
    }
    if let Some(addr) = handle.metrics_addr() {
        eprintln!("metrics on http://{addr}/metrics");
    }
    for endpoint in handle.python_endpoints() {
        eprintln!("listening for Python on {endpoint}");
    }

    let signal = signals.wait();
    eprintln!(
        "mplog-sink: {}: draining (a second signal exits at once)",
        signals::name(signal)
    );
    if let Err(error) = signals.exit_on_next(EXIT_RUNTIME) {
        // Not fatal: the drain is bounded by the sink's drain timeout.
        eprintln!("mplog-sink: cannot watch for a second signal: {error}");
    }
    let report = handle
        .shutdown()
        .map_err(|source| CliError::Shutdown { source })?;
    let text = report.to_string();
    eprint!("{text}");
    if !text.ends_with('\n') {
        eprintln!();
    }
    Ok(())
}

/// A start error: an invalid setting is a usage error named after its flag
/// or key; anything else (log folder, socket) a runtime error.
fn start_error(config: &Config, error: SinkError) -> CliError {
    match error {
        SinkError::Config { field, reason } => CliError::Invalid {
            setting: config.setting(field),
            reason,
        },
        source => CliError::Start { source },
    }
}
