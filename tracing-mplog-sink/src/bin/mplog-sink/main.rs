//! `mplog-sink`: the log daemon of tracing-mplog (see `docs/cli.md`).
//!
//! Reads the command line and the optional TOML config file into one
//! resolved [`config::Config`], starts the sink, prints
//! `listening on <endpoint>` to stderr, and on SIGTERM or SIGINT drains
//! every connection and prints the report.

mod alerts;
mod args;
mod config;
mod error;
mod file_values;
mod forwards;
mod run;
mod settings;
mod signals;
mod status;
mod tail;
mod values;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Args;
use crate::error::CliError;

fn main() -> ExitCode {
    let mut flags = Args::parse();
    if let Some(command) = flags.command.take() {
        return command.run();
    }
    match load(flags) {
        Ok(config) => match run::run(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("mplog-sink: {err}");
                ExitCode::from(err.exit_code() as u8)
            }
        },
        Err(err) => {
            eprintln!("mplog-sink: {err}");
            ExitCode::from(err.exit_code() as u8)
        }
    }
}

/// The command line over the config file it names, resolved.
fn load(mut flags: Args) -> Result<config::Config, CliError> {
    let file = match flags.config.take() {
        Some(path) => {
            let args = config::load_file(&path)?;
            Some((path, args))
        }
        None => None,
    };
    config::resolve(flags, file)
}
