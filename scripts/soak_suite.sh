#!/usr/bin/env bash
# Soak: run the cross-process and failure tests over and over (they kill
# workers at random moments, restart sinks, fill disks) and count failures.
# Usage: scripts/soak_suite.sh [RUNS]   (default 20)
# (scripts/soak.sh is the other soak: one long run of real processes.)
# A failing run's output is kept in target/soak/run-N.log; the seed of the
# random kills is printed there (replay with MPLOG_TEST_SEED=...).
set -u
runs=${1:-20}
mkdir -p target/soak
cargo test --release --no-run -p tracing-mplog-workspace -p tracing-mplog-sink -p tracing-mplog >/dev/null 2>&1 || { echo "build failed" >&2; exit 2; }
failed=0
start=$(date +%s)
for i in $(seq 1 "$runs"); do
  log=target/soak/run-$i.log
  if cargo test --release -p tracing-mplog-workspace -p tracing-mplog-sink -p tracing-mplog >"$log" 2>&1; then
    rm -f "$log"
  else
    failed=$((failed + 1))
    echo "run $i FAILED: $log" >&2
  fi
done
echo "soak: $runs runs, $failed failed, $(( $(date +%s) - start )) s"
[ "$failed" -eq 0 ]
