//! Medians and spreads over the runs, the table, and the targets.

use crate::outcome::Outcome;

/// The median of `v` (mean of the middle two when even); NaN when empty.
pub(crate) fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Smallest and largest of `v`.
pub(crate) fn range(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// The runs of one scenario, summarised.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub(crate) name: String,
    pub(crate) runs: Vec<Outcome>,
}

impl Summary {
    /// Groups `outcomes` by scenario, in order of first appearance.
    pub(crate) fn group(outcomes: &[Outcome]) -> Vec<Summary> {
        let mut v: Vec<Summary> = Vec::new();
        for o in outcomes {
            match v.iter_mut().find(|s| s.name == o.name) {
                Some(s) => s.runs.push(o.clone()),
                None => v.push(Summary {
                    name: o.name.clone(),
                    runs: vec![o.clone()],
                }),
            }
        }
        v
    }

    pub(crate) fn rates(&self) -> Vec<f64> {
        self.runs.iter().map(Outcome::per_second).collect()
    }

    pub(crate) fn rate(&self) -> f64 {
        median(&self.rates())
    }

    fn caller_cpu(&self) -> Option<f64> {
        self.median_of(|o| o.caller.map(|c| c.cpu_ns))
            .map(|(m, _, _)| m)
    }

    fn caller_wall(&self) -> Option<f64> {
        self.median_of(|o| o.caller.map(|c| c.wall_ns))
            .map(|(m, _, _)| m)
    }

    /// The median of one per-run figure and its min–max, if the runs
    /// have it.
    fn median_of(&self, figure: impl Fn(&Outcome) -> Option<f64>) -> Option<(f64, f64, f64)> {
        let v: Vec<f64> = self.runs.iter().filter_map(figure).collect();
        let (lo, hi) = range(&v);
        (!v.is_empty()).then(|| (median(&v), lo, hi))
    }

    fn peak_rss_mib(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter_map(|o| o.peak_rss_kib)
            .max()
            .map(|k| k as f64 / 1024.0)
    }

    /// Ratio of the medians against `base`, and the range of the ratios of
    /// the runs paired in order (run k of both ran side by side in time).
    pub(crate) fn ratio(&self, base: &Summary) -> (f64, f64, f64) {
        let paired: Vec<f64> = self
            .rates()
            .iter()
            .zip(base.rates())
            .map(|(a, b)| a / b)
            .collect();
        let (lo, hi) = range(&paired);
        (self.rate() / base.rate(), lo, hi)
    }

    fn lost(&self) -> u64 {
        self.runs.iter().map(|o| o.count.lost).sum()
    }

    fn duplicated(&self) -> u64 {
        self.runs.iter().map(|o| o.count.duplicated).sum()
    }

    fn load(&self) -> String {
        let loads: Vec<(f64, f64)> = self.runs.iter().filter_map(|o| o.load).collect();
        if loads.is_empty() {
            return "-".into();
        }
        let all: Vec<f64> = loads.iter().flat_map(|&(a, b)| [a, b]).collect();
        let (lo, hi) = range(&all);
        format!("{lo:.2}–{hi:.2}")
    }
}

fn kilo(rate: f64) -> String {
    format!("{:.0} k", rate / 1e3)
}

/// Prints the table of `outcomes` (every run of every scenario) and the
/// targets; false when a record was lost or duplicated in any run.
pub(crate) fn print(outcomes: &[Outcome], workers: usize, events: u64) -> bool {
    let sums = Summary::group(outcomes);
    let base = sums.iter().find(|s| s.name == "baseline-a");
    println!();
    println!(
        "| scenario | runs | events | events/s median (min–max) | × baseline A median (paired runs min–max) | caller CPU ns/event | caller CPU × baseline A | caller wall ns/event | lost | duplicated | peak RSS | load 1-min (min–max) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let ns = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    for s in &sums {
        let (lo, hi) = range(&s.rates());
        let ratio = base.map_or("-".into(), |b| {
            let (r, rlo, rhi) = s.ratio(b);
            if s.name.starts_with("python-") {
                format!("{r:.3}")
            } else {
                format!("{r:.2} ({rlo:.2}–{rhi:.2})")
            }
        });
        let cpu_ratio = match (s.caller_cpu(), base.and_then(Summary::caller_cpu)) {
            (Some(c), Some(b)) => format!("{:.2}", c / b),
            _ => "-".into(),
        };
        println!(
            "| {} | {} | {} | {} ({}–{}) | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.name,
            s.runs.len(),
            s.runs.first().map_or(0, |o| o.events),
            kilo(s.rate()),
            kilo(lo),
            kilo(hi),
            ratio,
            ns(s.caller_cpu()),
            cpu_ratio,
            ns(s.caller_wall()),
            s.lost(),
            s.duplicated(),
            s.peak_rss_mib()
                .map_or("-".into(), |m| format!("{m:.1} MiB")),
            s.load(),
        );
    }
    let ok = outcomes.iter().all(Outcome::exact);
    if let Some(b) = base {
        print_targets(&sums, b, workers, events);
    }
    if !ok {
        for o in outcomes.iter().filter(|o| !o.exact()) {
            println!(
                "FAILED: {} lost {} and duplicated {} records",
                o.name, o.count.lost, o.count.duplicated
            );
        }
    }
    ok
}

/// The issues' targets, with this run's medians: issue 21's where it
/// tightened issue 12's.
fn print_targets(sums: &[Summary], base: &Summary, workers: usize, events: u64) {
    let find = |name: &str| sums.iter().find(|s| s.name == name);
    let met = |ok: bool| if ok { "met" } else { "not met" };
    println!();
    println!("targets (issues 12 and 21), {workers} workers × {events} events:");
    println!();
    println!("| target | result | |");
    println!("|---|---:|---|");
    let scope = if workers == 4 {
        ""
    } else {
        " (set at 4 workers)"
    };
    for (name, what, want) in [
        ("pipeline", "consolidated + per-process", 2.0),
        ("pipeline-consolidated", "consolidated file only", 2.5),
    ] {
        if let Some(p) = find(name) {
            let (r, lo, hi) = p.ratio(base);
            println!(
                "| {what} ≥ {want:.1}× baseline A{scope} | {r:.2}× ({lo:.2}–{hi:.2}) | {} |",
                met(r >= want)
            );
        }
    }
    for name in ["pipeline", "pipeline-consolidated"] {
        let Some(p) = find(name) else { continue };
        let cpu = [
            ("sink", 500.0, p.median_of(|o| o.sink_cpu_ns)),
            ("worker", 350.0, p.median_of(|o| o.worker_cpu_ns)),
        ];
        for (side, want, figure) in cpu {
            if let Some((ns, lo, hi)) = figure {
                println!(
                    "| {side} CPU per event ≤ {want:.0} ns ({name}) | {ns:.0} ns ({lo:.0}–{hi:.0}) | {} |",
                    met(ns <= want)
                );
            }
        }
        if let (Some(pc), Some(bc)) = (p.caller_cpu(), base.caller_cpu()) {
            println!(
                "| worker caller CPU per event ≤ 0.20× baseline A ({name}) | {:.2}× ({pc:.0} / {bc:.0} ns) | {} |",
                pc / bc,
                met(pc / bc <= 0.20)
            );
        }
    }
    for name in ["pipeline", "pipeline-consolidated"] {
        if let Some(m) = find(name).and_then(Summary::peak_rss_mib) {
            println!(
                "| sink peak RSS ≤ 64 MiB ({name}) | {m:.1} MiB | {} |",
                met(m <= 64.0)
            );
        }
    }
    if let Some(p) = find("pipeline") {
        for peer in sums.iter().filter(|s| s.name.starts_with("python-")) {
            println!(
                "| (pipeline vs {}) | {:.0}× | |",
                peer.name,
                p.rate() / peer.rate()
            );
        }
    }
}
