#!/usr/bin/env bash
# Python peers for the end-to-end bench (examples/bench): acrilog 1.1.4 and the
# stdlib QueueHandler/QueueListener, in a virtualenv under WORKDIR (made once).
# Prints one JSON line per peer.
# With SINK_BIN, a third peer: the same Python workers through the stdlib's
# SocketHandler into that mplog-sink binary (--python-listen).
# Usage: scripts/bench_python.sh WORKDIR PROCS ACRILOG_EVENTS STDLIB_EVENTS [SINK_BIN]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$1 procs=$2 acrilog_events=$3 stdlib_events=$4
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 3; }
mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q acrilog==1.1.4 >&2
fi
py="$work/venv/bin/python"
rm -rf "$work/logs"; "$py" "$here/python/bench_peers.py" --impl acrilog --procs "$procs" --events "$acrilog_events" --logdir "$work/logs"
rm -rf "$work/logs"; "$py" "$here/python/bench_peers.py" --impl stdlib --procs "$procs" --events "$stdlib_events" --logdir "$work/logs"
if [ -n "${5:-}" ]; then
  rm -rf "$work/logs"; "$py" "$here/python/bench_peers.py" --impl mplog-sink --sink "$5" --procs "$procs" --events "$stdlib_events" --logdir "$work/logs"
fi
rm -rf "$work/logs"
