//! The scaling run: the pipeline and baseline A at 1, 2, 4, … workers
//! (threads for the baseline), drawn as events/s against workers in an SVG.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::args::Args;
use crate::report::{self, Summary};

/// The two scenarios the scaling run compares.
const SCALED: [&str; 2] = ["pipeline", "baseline-a"];

/// One point of the chart: median and range of events/s.
#[derive(Debug, Clone, Copy)]
struct Point {
    workers: usize,
    median: f64,
    lo: f64,
    hi: f64,
}

/// Runs every point `--runs` times (the two scenarios interleaved), prints
/// a table and draws `--svg`; false when a record was lost or duplicated.
pub(crate) fn run(args: &Args) -> Result<bool, Box<dyn Error>> {
    println!(
        "bench: scaling run, {} events per point split among the workers, {} run(s), workers {:?}",
        args.scaling_total, args.runs, args.scaling
    );
    let root = args.root.clone();
    let mut ok = true;
    let mut series: Vec<Vec<Point>> = vec![Vec::new(); SCALED.len()];
    let mut all_loads = Vec::new();
    println!();
    println!(
        "| workers | events per worker | pipeline events/s median (min–max) | baseline A events/s median (min–max) | × baseline A (paired min–max) | load 1-min (min–max) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &workers in &args.scaling {
        let events = args.scaling_total.div_ceil(workers as u64);
        let mut outcomes = Vec::new();
        for run in 1..=args.runs {
            for scenario in SCALED {
                let o = crate::run_child(scenario, workers, events, &root, args.keep)?;
                eprintln!("bench: run {run}/{} {}", args.runs, crate::describe(&o));
                ok &= o.exact();
                outcomes.push(o);
            }
        }
        let sums = Summary::group(&outcomes);
        for (i, name) in SCALED.iter().enumerate() {
            if let Some(s) = sums.iter().find(|s| s.name == *name) {
                let (lo, hi) = report::range(&s.rates());
                series[i].push(Point {
                    workers,
                    median: s.rate(),
                    lo,
                    hi,
                });
            }
        }
        if let (Some(p), Some(b)) = (sums.first(), sums.get(1)) {
            let (r, rlo, rhi) = p.ratio(b);
            let (plo, phi) = report::range(&p.rates());
            let (blo, bhi) = report::range(&b.rates());
            let loads: Vec<f64> = outcomes
                .iter()
                .filter_map(|o| o.load)
                .flat_map(|(a, b)| [a, b])
                .collect();
            let (llo, lhi) = report::range(&loads);
            all_loads.extend(loads);
            println!(
                "| {workers} | {events} | {:.0} k ({:.0}–{:.0}) | {:.0} k ({:.0}–{:.0}) | {r:.2} ({rlo:.2}–{rhi:.2}) | {llo:.2}–{lhi:.2} |",
                p.rate() / 1e3,
                plo / 1e3,
                phi / 1e3,
                b.rate() / 1e3,
                blo / 1e3,
                bhi / 1e3,
            );
        }
    }
    if let Some(parent) = args.svg.parent() {
        std::fs::create_dir_all(parent)?;
    }
    draw(
        &args.svg,
        &series,
        args.scaling_total,
        report::range(&all_loads),
    )?;
    println!();
    println!("bench: chart written to {}", args.svg.display());
    if !ok {
        println!("FAILED: records were lost or duplicated (see the runs above)");
    }
    Ok(ok)
}

/// Draws events/s (median, with the min–max range as an error bar) against
/// workers on a log₂ axis.
fn draw(
    path: &Path,
    series: &[Vec<Point>],
    total: u64,
    load: (f64, f64),
) -> Result<(), Box<dyn Error>> {
    let ymax = series
        .iter()
        .flatten()
        .map(|p| p.hi)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.4
        / 1e6;
    // x is log2(workers), labelled with the worker counts.
    let log2 = |w: usize| (w.max(1) as f64).log2();
    let xmax = series
        .iter()
        .flatten()
        .map(|p| log2(p.workers))
        .fold(0.0, f64::max);
    let root = SVGBackend::new(path, (820, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = format!(
        "events/s against workers: {} k events per point, median and min–max, load {:.1}–{:.1}",
        total / 1000,
        load.0,
        load.1
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 16))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..xmax + 0.3, 0f64..ymax)?;
    let label_x = |x: &f64| {
        let r = x.round();
        if (x - r).abs() < 1e-6 && r >= 0.0 {
            format!("{}", 1u64 << (r as u32))
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc("workers (processes for the pipeline, threads for baseline A), log scale")
        .y_desc("million events/s")
        .light_line_style(WHITE)
        .x_labels(xmax.round() as usize + 1)
        .x_label_formatter(&label_x)
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()?;
    let names = [
        "pipeline: worker processes → sink, consolidated + per-process files",
        "baseline A: fmt + non_blocking (lossy off), N threads",
    ];
    let colors = [BLUE, RED];
    for ((points, name), color) in series.iter().zip(names).zip(colors) {
        let line = points.iter().map(|p| (log2(p.workers), p.median / 1e6));
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(points.iter().map(|p| {
            ErrorBar::new_vertical(
                log2(p.workers),
                p.lo / 1e6,
                p.median / 1e6,
                p.hi / 1e6,
                color.filled(),
                8,
            )
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
