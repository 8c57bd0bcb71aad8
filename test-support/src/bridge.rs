//! A record of the `log` crate, bridged into tracing.

use log::Log;

/// Logs a record of the `log` crate — `warn!(target: "dep", "from log
/// {n}")` from module `dep::inner` at `dep/src/inner.rs:42` — bridged the
/// way `worker::init()` does it (tracing-log's `LogTracer`), to the
/// current tracing subscriber, without installing a global logger.
pub fn log_through_the_bridge(n: u32) {
    tracing_log::LogTracer::new().log(
        &log::Record::builder()
            .args(format_args!("from log {n}"))
            .level(log::Level::Warn)
            .target("dep")
            .module_path(Some("dep::inner"))
            .file(Some("dep/src/inner.rs"))
            .line(Some(42))
            .build(),
    );
}
