//! Command-line arguments of the parent, of a scenario child and of a
//! pipeline worker.

use std::error::Error;
use std::path::PathBuf;

/// The pipeline over loopback TCP and TLS, with and without acknowledged
/// delivery: run with `--network` or named in `--only`.
pub(crate) const NETWORK: [&str; 4] = [
    "pipeline-tcp",
    "pipeline-tcp-ack",
    "pipeline-tls",
    "pipeline-tls-ack",
];

/// The pipeline with the monitor on (`/metrics` served, two alert rules):
/// run when named in `--only`, beside `pipeline` for the overhead row.
pub(crate) const MONITOR: &str = "pipeline-monitor";

/// The pipeline forwarding every record to a real rsyslogd and an OTLP/HTTP
/// receiver too, and to each alone: run when named in `--only`, beside
/// `pipeline`.
pub(crate) const FORWARD: [&str; 3] = [
    "pipeline-forward",
    "pipeline-forward-syslog",
    "pipeline-forward-otlp",
];

/// Every scenario the table mode runs by default, in the order it runs them.
pub(crate) const SCENARIOS: [&str; 5] = [
    "pipeline",
    "pipeline-consolidated",
    "baseline-a",
    "baseline-b",
    "floor",
];

const USAGE: &str = "\
usage: bench [--workers N] [--events M] [--runs R] [--only S1,S2,..] [--python] [--keep]
       bench --scaling 1,2,4,8,16,64 [--scaling-total T] [--runs R] [--svg PATH]

  --workers N        worker processes (threads for the baselines), default 4
  --events M         events per worker, default 1000000
  --runs R           runs of every scenario (interleaved), default 3
  --only LIST        scenarios among pipeline, pipeline-consolidated, baseline-a,
                     baseline-b, floor, pipeline-monitor (the pipeline with
                     /metrics and two alert rules), pipeline-forward (the
                     pipeline also forwarding to rsyslogd and an OTLP/HTTP
                     receiver; needs rsyslogd), pipeline-forward-syslog and
                     pipeline-forward-otlp (one of them) and the --network ones
                     (default: all but pipeline-monitor and the --network ones)
  --python           also the Python peers (scripts/bench_python.sh)
  --network          also the pipeline over loopback tcp:// and tls://, with and
                     without acknowledged delivery (pipeline-tcp, pipeline-tcp-ack,
                     pipeline-tls, pipeline-tls-ack)
  --keep             keep the log files (under --root)
  --root DIR         where the runs write, default target/bench-run
  --scaling LIST     scaling run: pipeline and baseline-a at each worker count
  --scaling-total T  events per point of the scaling run, split among the
                     workers, default 2000000
  --svg PATH         where the scaling run draws its chart,
                     default target/bench-run/scaling.svg";

/// Command-line arguments (parent, scenario child and worker).
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) workers: usize,
    pub(crate) events: u64,
    pub(crate) runs: usize,
    pub(crate) python: bool,
    pub(crate) network: bool,
    pub(crate) keep: bool,
    pub(crate) only: Vec<String>,
    pub(crate) scaling: Vec<usize>,
    pub(crate) scaling_total: u64,
    pub(crate) svg: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) scenario: Option<String>,
    pub(crate) dir: PathBuf,
    pub(crate) worker_id: Option<usize>,
}

impl Args {
    pub(crate) fn parse(mut it: impl Iterator<Item = String>) -> Result<Self, Box<dyn Error>> {
        let mut a = Args {
            workers: 4,
            events: 1_000_000,
            runs: 3,
            python: false,
            network: false,
            keep: false,
            only: Vec::new(),
            scaling: Vec::new(),
            scaling_total: 2_000_000,
            svg: PathBuf::from("target/bench-run/scaling.svg"),
            root: PathBuf::from("target/bench-run"),
            scenario: None,
            dir: PathBuf::from("target/bench-run"),
            worker_id: None,
        };
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--workers" => a.workers = number(&flag, &value()?)?,
                "--events" => a.events = number(&flag, &value()?)?,
                "--runs" => a.runs = number(&flag, &value()?)?,
                "--python" => a.python = true,
                "--network" => a.network = true,
                "--keep" => a.keep = true,
                "--only" => a.only = value()?.split(',').map(str::to_owned).collect(),
                "--scaling" => {
                    a.scaling = value()?
                        .split(',')
                        .map(|n| number(&flag, n))
                        .collect::<Result<_, _>>()?
                }
                "--scaling-total" => a.scaling_total = number(&flag, &value()?)?,
                "--svg" => a.svg = PathBuf::from(value()?),
                "--root" => a.root = PathBuf::from(value()?),
                "--scenario" => a.scenario = Some(value()?),
                "--dir" => a.dir = PathBuf::from(value()?),
                "--worker-id" => a.worker_id = Some(number(&flag, &value()?)?),
                "--help" | "-h" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown flag `{other}` (try --help)").into()),
            }
        }
        if a.workers == 0 || a.events == 0 || a.runs == 0 || a.scaling.contains(&0) {
            return Err("--workers, --events, --runs and --scaling must be at least 1".into());
        }
        if let Some(bad) = a.only.iter().find(|s| {
            !SCENARIOS.contains(&s.as_str())
                && !NETWORK.contains(&s.as_str())
                && s.as_str() != MONITOR
                && !FORWARD.contains(&s.as_str())
        }) {
            return Err(format!("--only: unknown scenario `{bad}`").into());
        }
        Ok(a)
    }

    /// The scenarios this run measures, in order.
    pub(crate) fn selected(&self) -> Vec<&'static str> {
        SCENARIOS
            .into_iter()
            .chain(NETWORK)
            .chain([MONITOR])
            .chain(FORWARD)
            .filter(|s| match self.only.is_empty() {
                true => SCENARIOS.contains(s) || (self.network && NETWORK.contains(s)),
                false => self.only.iter().any(|o| o == s),
            })
            .collect()
    }
}

/// Parses a positive number given to `flag`.
fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{flag} `{text}`: {e}"))
}
