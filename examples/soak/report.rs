//! The report: what the run did (workers, sink incarnations, files), the
//! account of the events in the consolidated and the per-key files, the
//! flooders and special workers, and the sink's descriptors and RSS; and
//! whether the soak passed.

use std::time::Duration;

use crate::account::{Files, account, read_files, tally};
use crate::sink::SinkLog;
use crate::workers::Worker;
use crate::{Args, GRACE, LONG_OUTAGE, SPECIALS};

/// Reads the files, prints the report and says whether the soak passed.
pub(crate) fn report(
    args: &Args,
    workers: &[Worker],
    sink: &SinkLog,
    took: Duration,
) -> Result<bool, String> {
    let files = read_files(&args.dir.join("logs"))?;
    let mut ok = true;
    ok &= print_run(workers, sink, took);
    println!(
        "files: {} ({} rotated, {} of them gzipped); longest line {} bytes in {}",
        files.files, files.rotated, files.gzipped, files.longest.0, files.longest.1
    );
    ok &= print_failed(workers);
    ok &= print_accounts(workers, &files);
    print_flooders(workers, &files);
    print_specials(workers, &files);
    print_samples(sink);
    println!("soak: {}", if ok { "OK" } else { "FAILED" });
    Ok(ok)
}

/// The workers and the sink's incarnations; false if the sink exited by
/// itself.
fn print_run(workers: &[Worker], sink: &SinkLog, took: Duration) -> bool {
    let mut ok = true;
    println!(
        "workers: {} (soak-1..soak-{}), {} events logged, {:.0} s",
        workers.len(),
        workers.len(),
        workers.iter().map(|w| w.events).sum::<u64>(),
        took.as_secs_f64()
    );
    let outage = sink.long_outage_at.map_or("none".to_owned(), |at| {
        format!("{:?} at {:.0} s", LONG_OUTAGE, at.as_secs_f64())
    });
    println!(
        "sink: {} incarnations, {} SIGKILLs, long outage {outage} (worker grace {GRACE:?}); last: {}",
        sink.incarnations.len(),
        sink.kills,
        sink.incarnations.last().map_or("-", |i| i.status.as_str())
    );
    for i in &sink.incarnations {
        if i.status.starts_with("exited by itself") {
            ok = false;
            println!("  sink pid {} {} after {:?}", i.pid, i.status, i.lived);
        }
    }
    ok
}

/// The plain workers that did not exit 0; false if any.
fn print_failed(workers: &[Worker]) -> bool {
    let failed: Vec<&Worker> = workers
        .iter()
        .filter(|w| w.mode.is_none() && w.status != Some(0))
        .collect();
    if failed.is_empty() {
        return true;
    }
    println!("FAILED workers: {}", failed.len());
    for w in failed.iter().take(5) {
        let last = w.stderr.lines().last().unwrap_or("");
        println!("  {} exit {:?}: {last}", w.name(), w.status);
    }
    false
}

/// The account of the consolidated and of the per-key files, and the drop
/// reports; false if an event is lost.
fn print_accounts(workers: &[Worker], files: &Files) -> bool {
    let mut ok = true;
    for (label, found) in [
        ("consolidated all.log*", &files.all),
        ("per-key soak-K.log*", &files.own),
    ] {
        let a = account(found, workers);
        println!(
            "events in {label}: expected {}, found {}, duplicates {}, missing {}: dropped by workers after the grace and reported {}, reported not delivered by a guard that gave up {}, lost {}",
            a.expected,
            a.unique,
            a.duplicates,
            a.expected - a.unique,
            a.after_grace,
            a.gave_up,
            a.lost
        );
        for l in &a.losers {
            println!("  {l}");
        }
        ok &= a.lost == 0;
    }
    let sink_reported: u64 = files.sink_reported.values().sum();
    let worker_reported: u64 = workers.iter().map(Worker::reported_drops).sum();
    println!(
        "drop reports: workers' stderr {worker_reported}, sink's WARN lines {sink_reported}; malformed lines {}",
        files.malformed
    );
    ok
}

fn print_flooders(workers: &[Worker], files: &Files) {
    for w in workers.iter().filter(|w| w.flood) {
        let (all, _) = tally(&files.all, w);
        println!(
            "flooder {} (started as the long outage began): {all}/{} events in all.log, reported dropped {}, sink's WARN lines for it {}",
            w.name(),
            w.events,
            w.reported_drops(),
            files.sink_reported.get(&w.id).copied().unwrap_or(0)
        );
    }
}

/// Each special worker (or that its mode is not supported yet), and the
/// specials the run was too short for.
fn print_specials(workers: &[Worker], files: &Files) {
    for w in workers.iter().filter(|w| w.mode.is_some()) {
        let mode = w.mode.unwrap_or_default();
        if w.unsupported() {
            println!(
                "special {} --mode {mode}: not supported by this mplog-test-worker yet ({})",
                w.name(),
                w.stderr.lines().last().unwrap_or("")
            );
            continue;
        }
        let (all, _) = tally(&files.all, w);
        let (own, _) = tally(&files.own, w);
        let extra = match mode {
            "panic" => format!(
                ", panic ERROR lines in its file: {}",
                files.panics.get(&w.id).copied().unwrap_or(0)
            ),
            _ if mode.starts_with("oversized") => {
                format!(", longest line overall {} bytes", files.longest.0)
            }
            _ => String::new(),
        };
        println!(
            "special {} --mode {mode}: exit {:?}, {all}/{} events in all.log, {own}/{} in its file{extra}",
            w.name(),
            w.status,
            w.events,
            w.events
        );
    }
    let missing_specials: Vec<&str> = SPECIALS
        .iter()
        .map(|s| s.0)
        .filter(|m| !workers.iter().any(|w| w.mode == Some(*m)))
        .collect();
    if !missing_specials.is_empty() {
        println!("specials not run (run too short): {missing_specials:?}");
    }
}

/// The sink's descriptors and RSS, per incarnation and overall.
fn print_samples(sink: &SinkLog) {
    println!("sink descriptors (/proc/PID/fd) and RSS (VmRSS), sampled every second:");
    for (k, i) in sink.incarnations.iter().enumerate() {
        println!(
            "  #{:<3} pid {:<7} {:>5.1} s  fds {:<10} rss kB {}",
            k + 1,
            i.pid,
            i.lived.as_secs_f64(),
            min_max(i.fds.iter().copied()),
            min_max(i.rss_kb.iter().copied())
        );
    }
    let all_fds = sink.incarnations.iter().flat_map(|i| i.fds.iter().copied());
    let all_rss = sink
        .incarnations
        .iter()
        .flat_map(|i| i.rss_kb.iter().copied());
    let firsts = sink
        .incarnations
        .iter()
        .filter_map(|i| i.fds.first().copied());
    let lasts = sink
        .incarnations
        .iter()
        .filter_map(|i| i.fds.last().copied());
    println!(
        "  overall: fds {} (first sample of each incarnation {}, last {}), rss kB {}",
        min_max(all_fds),
        min_max(firsts),
        min_max(lasts),
        min_max(all_rss)
    );
}

/// `lo..hi` of the values, or `-` if none.
fn min_max(values: impl Iterator<Item = u64>) -> String {
    let (mut lo, mut hi, mut any) = (u64::MAX, 0, false);
    for v in values {
        (lo, hi, any) = (lo.min(v), hi.max(v), true);
    }
    if any {
        format!("{lo}..{hi}")
    } else {
        "-".to_owned()
    }
}
