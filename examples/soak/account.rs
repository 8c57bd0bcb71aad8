//! The account: reading every log file the sink left, plain or gzipped,
//! into how often each worker's numbered events were found (in the
//! consolidated `all.log*` and in each worker's own `soak-K.log*`), and
//! summing per worker what was found, duplicated, reported dropped and
//! lost.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::Path;

use crate::workers::Worker;

/// Per worker id, how often each event number was found (index `n`).
pub(crate) type Found = HashMap<u64, Vec<u32>>;

/// What the files hold.
#[derive(Debug, Default)]
pub(crate) struct Files {
    /// In `all.log*`.
    pub(crate) all: Found,
    /// In each worker's own `soak-K.log*`.
    pub(crate) own: Found,
    /// The sink's WARN lines `worker soak-K[PID] dropped N events`, summed
    /// per worker (from `all.log*`).
    pub(crate) sink_reported: HashMap<u64, u64>,
    /// Lines of a worker that do not parse (torn and glued to the next).
    pub(crate) malformed: u64,
    /// The longest line seen, and in which file.
    pub(crate) longest: (usize, String),
    /// ERROR lines mentioning a panic, per worker (own files).
    pub(crate) panics: HashMap<u64, u64>,
    pub(crate) rotated: u64,
    pub(crate) gzipped: u64,
    pub(crate) files: u64,
}

impl Files {
    /// Counts one line of file `name`, the own file of worker `own_id` or
    /// (`None`) a consolidated one.
    fn count_line(&mut self, line: &str, name: &str, own_id: Option<u64>) {
        if line.len() > self.longest.0 {
            self.longest = (line.len(), name.to_owned());
        }
        if let Some((id, n)) = parse_event(line) {
            let found = if own_id.is_some() {
                &mut self.own
            } else {
                &mut self.all
            };
            let counts = found.entry(id).or_default();
            if counts.len() <= n as usize {
                counts.resize(n as usize + 1, 0);
            }
            counts[n as usize] += 1;
        } else if line.starts_with("soak-") && line.contains(" w") && !line.contains(" worker ") {
            self.malformed += 1;
        }
        if let Some(id) = own_id {
            if line.contains(" ERROR ") && line.contains("panicked") {
                *self.panics.entry(id).or_default() += 1;
            }
        } else if line.contains(" WARN ") {
            if let Some((id, n)) = sink_drop_report(line) {
                *self.sink_reported.entry(id).or_default() += n;
            }
        }
    }
}

/// `w{id} e{n}` in a line of our template.
pub(crate) fn parse_event(line: &str) -> Option<(u64, u64)> {
    let at = line.find(" w")?;
    let mut words = line[at + 2..].split(' ');
    let id = words.next()?.parse().ok()?;
    let n = words.next()?.strip_prefix('e')?.parse().ok()?;
    Some((id, n))
}

/// The worker id and the number in the sink's `worker soak-K[PID] dropped
/// N events`.
fn sink_drop_report(line: &str) -> Option<(u64, u64)> {
    let rest = line.split("worker soak-").nth(1)?;
    let id = rest.split('[').next()?.parse::<u64>().ok()?;
    let n = rest
        .split(" dropped ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse::<u64>()
        .ok()?;
    Some((id, n))
}

/// The file's text, gunzipped if it is a `.gz`.
fn read_text(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    } else {
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The names in `logdir` but half-written `.tmp` files, sorted.
fn file_names(logdir: &Path) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = fs::read_dir(logdir)
        .map_err(|e| format!("{}: {e}", logdir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.ends_with(".tmp"))
        .collect();
    names.sort();
    Ok(names)
}

/// Reads every log file: for a rotated file both plain and gzipped (a kill
/// during compression leaves both), the plain one counts.
pub(crate) fn read_files(logdir: &Path) -> Result<Files, String> {
    let names = file_names(logdir)?;
    let plain: HashSet<String> = names
        .iter()
        .filter(|n| !n.ends_with(".gz"))
        .cloned()
        .collect();
    let mut files = Files::default();
    for name in &names {
        if let Some(stem) = name.strip_suffix(".gz") {
            if plain.contains(stem) {
                continue;
            }
            files.gzipped += 1;
        }
        let Some((base, rest)) = name.split_once(".log") else {
            continue;
        };
        files.files += 1;
        if !rest.is_empty() {
            files.rotated += 1;
        }
        let own_id = base
            .strip_prefix("soak-")
            .and_then(|k| k.parse::<u64>().ok());
        let text = read_text(&logdir.join(name))?;
        for line in text.lines() {
            files.count_line(line, name, own_id);
        }
    }
    Ok(files)
}

/// Of worker `w`'s events 1..=events in `found`: (unique, duplicates).
pub(crate) fn tally(found: &Found, w: &Worker) -> (u64, u64) {
    let Some(counts) = found.get(&w.id) else {
        return (0, 0);
    };
    let range = counts.iter().skip(1).take(w.events as usize);
    range.fold((0, 0), |(unique, dups), &c| {
        (
            unique + u64::from(c > 0),
            dups + u64::from(c.saturating_sub(1)),
        )
    })
}

/// Totals over the workers, for one set of files.
#[derive(Debug, Default)]
pub(crate) struct Account {
    pub(crate) expected: u64,
    pub(crate) unique: u64,
    pub(crate) duplicates: u64,
    /// Missing, and reported by the worker as dropped after the grace.
    pub(crate) after_grace: u64,
    /// Missing, and reported by the worker's guard as not delivered when it
    /// gave up (an upper bound: with acks, unacknowledged events count
    /// though some were written).
    pub(crate) gave_up: u64,
    pub(crate) lost: u64,
    pub(crate) losers: Vec<String>,
}

pub(crate) fn account(found: &Found, workers: &[Worker]) -> Account {
    let mut a = Account::default();
    for w in workers.iter().filter(|w| !w.unsupported()) {
        let (unique, dups) = tally(found, w);
        let missing = w.events - unique;
        let after_grace = w.said("event(s) were dropped").min(missing);
        let gave_up = w.said("event(s) not delivered").min(missing - after_grace);
        let reported = after_grace + gave_up;
        a.expected += w.events;
        a.unique += unique;
        a.duplicates += dups;
        a.after_grace += after_grace;
        a.gave_up += gave_up;
        a.lost += missing - reported;
        if missing > reported && a.losers.len() < 10 {
            a.losers.push(format!(
                "{} lost {} of {} (reported {})",
                w.name(),
                missing - reported,
                w.events,
                w.reported_drops()
            ));
        }
    }
    a
}
