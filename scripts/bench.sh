#!/usr/bin/env bash
# The whole end-to-end benchmark set of BENCHMARKS.md (issue 12), in one go:
#
#   1. 4 workers × 250 000 events, every scenario
#   2. 4 workers × 1 000 000 events, every scenario
#   3. 64 workers × 50 000 events, every scenario
#   4. the scaling run (1, 2, 4, 8, 16, 64 workers; pipeline and baseline A),
#      drawn into docs/bench-scaling.svg
#
# Each scenario runs RUNS times (default 3), interleaved. The tables, the
# machine's load average before and after every step, and the versions go to
# target/bench-run/report.md (and to the terminal); paste its tables into
# BENCHMARKS.md. Takes 10–20 minutes on 2 cores. Run it on a quiet machine:
# the load columns say whether it was.
#
# Usage: scripts/bench.sh [--python] [--quick]
#   --python  also the Python peers at 4 × 250 000 (needs python3 and pip)
#   --quick   a smoke run with 1/50 of the events and 1 run (checks the
#             script and the bench, not the speed)
# Environment: RUNS (default 3), SVG (default docs/bench-scaling.svg).
set -euo pipefail
cd "$(dirname "$0")/.."

python=() scale=1 runs=${RUNS:-3} svg=${SVG:-docs/bench-scaling.svg}
for arg in "$@"; do
  case $arg in
    --python) python=(--python) ;;
    --quick) scale=50 runs=1 svg=target/bench-run/scaling-quick.svg ;;
    *) echo "usage: scripts/bench.sh [--python] [--quick]" >&2; exit 2 ;;
  esac
done

cargo build --release --example bench
mkdir -p target/bench-run
# Run a copy, so that a rebuild while the set runs cannot swap the binary
# between runs (every scenario and worker re-executes it).
bench=target/bench-run/bench-bin
cp target/release/examples/bench "$bench"
report=target/bench-run/report.md

step() { # title, bench arguments...
  local title=$1; shift
  {
    echo
    echo "### $title"
    echo
    echo "\`bench $*\`, load before: $(cat /proc/loadavg)"
  } | tee -a "$report"
  "$bench" "$@" | tee -a "$report"
  echo "load after: $(cat /proc/loadavg)" | tee -a "$report"
}

{
  echo "# bench run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)'),"
  echo "$(rustc --version), $(nproc) cores, $(uname -sr), RUNS=$runs"
} | tee "$report"

step "4 workers × $((250000 / scale)) events" \
  --workers 4 --events $((250000 / scale)) --runs "$runs" "${python[@]}"
step "4 workers × $((1000000 / scale)) events" \
  --workers 4 --events $((1000000 / scale)) --runs "$runs"
step "64 workers × $((50000 / scale)) events" \
  --workers 64 --events $((50000 / scale)) --runs "$runs"
step "scaling, $((2000000 / scale)) events per point" \
  --scaling 1,2,4,8,16,64 --scaling-total $((2000000 / scale)) --runs "$runs" --svg "$svg"

echo
echo "bench.sh: report in $report, chart in $svg"
