#!/usr/bin/env bash
# Instruction counts per thread (valgrind --tool=callgrind), the figures of
# BENCHMARKS.md that the machine's load does not change:
#
#   1. the pipeline's sink process, 4 workers × 50 000 events (its writer,
#      reader and listener threads; the workers run natively);
#   2. the pipeline with 1 worker × 50 000 events, the worker traced too
#      (its logging thread and its sender thread);
#   3. baseline A, 1 thread × 50 000 events (the logging thread and the
#      non_blocking writer thread).
#
# Prints, per process and thread, the instructions and the instructions per
# event, and keeps the callgrind files under target/bench-run/callgrind/ for
# `callgrind_annotate FILE`. Thread numbers are callgrind's, in order of
# creation: in the sink, 01 main (starts the sink, then counts the lines),
# 02 writer, 03 listener, 04.. readers. Takes a few minutes.
# Usage: scripts/bench_callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 3; }
cargo build --release --example bench
out=target/bench-run/callgrind
rm -rf "$out"; mkdir -p "$out"
bin=$out/bench-bin
cp target/release/examples/bench "$bin"

profile() { # name, events in all, trace children (yes/no), bench arguments...
  local name=$1 events=$2 children=$3; shift 3
  mkdir -p "$out/$name/run"
  valgrind --tool=callgrind --separate-threads=yes --trace-children="$children" \
    --callgrind-out-file="$out/$name/cg.%p" "$bin" "$@" --dir "$out/$name/run" \
    >"$out/$name/stdout" 2>"$out/$name/stderr"
  grep RESULT "$out/$name/stdout"
  for f in "$out/$name"/cg.*-*; do
    local n
    n=$(grep -m1 '^summary:' "$f" | awk '{print $2}')
    printf '%s %-40s %14s instructions %8s per event\n' "$name" "${f##*/}" "$n" $((n / events))
  done
}

profile sink-4x50k 200000 no --scenario pipeline --workers 4 --events 50000
profile pipeline-1x50k 50000 yes --scenario pipeline --workers 1 --events 50000
profile baseline-a-1x50k 50000 no --scenario baseline-a --workers 1 --events 50000
