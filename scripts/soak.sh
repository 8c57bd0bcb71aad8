#!/usr/bin/env bash
# Soak: for DURATION (seconds, or like 90s, 10m; default 10m), thousands of
# short-lived workers with fresh names log into the release mplog-sink,
# which is SIGKILLed and restarted every 2-10 s (once down past the
# workers' outage grace) and rotates, gzips and prunes its files every
# second; then every event is accounted for. The driver is
# examples/soak/main.rs (its doc says what it checks); extra arguments go to it
# (--concurrency N, --events N, --ack default|on|off, --seed N, --dir D).
# Exits non-zero if an event is lost or a worker failed. See
# docs/reliability.md. The old soak, the test suite in a loop, is
# scripts/soak_suite.sh RUNS.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10m}
shift || true
cargo build --release -q -p tracing-mplog-sink --bin mplog-sink
cargo build --release -q --bin mplog-test-worker
exec cargo run --release -q --example soak -- --duration "$duration" "$@"
