#!/usr/bin/env bash
# Runs the libFuzzer targets in fuzz/ (see docs/reliability.md, "Fuzzing").
#
#   scripts/fuzz.sh [RUNS] [TARGET...]
#
# RUNS: executions per target (default 10000000). TARGETs: default all of
# `cargo fuzz list`. One job, one worker: the machine is shared.
#
# Toolchain: nightly by default (`cargo +nightly fuzz`). With
# FUZZ_TOOLCHAIN=stable it uses the stable compiler with RUSTC_BOOTSTRAP=1
# (which lets stable accept the -Z sanitizer flags) and its own target dir.
#
# Needs cargo-fuzz: `cargo install cargo-fuzz --locked`.
# A crash stops the script; the input is in fuzz/artifacts/<target>/ and
# `cargo +nightly fuzz run -a <target> <file>` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10000000}
shift || true

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 1
fi

case "${FUZZ_TOOLCHAIN:-nightly}" in
  nightly) fuzz=(cargo +nightly fuzz) ; target_dir=() ;;
  stable)
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo +stable fuzz)
    target_dir=(--target-dir fuzz/target/stable)
    ;;
  *) echo "FUZZ_TOOLCHAIN must be nightly or stable" >&2; exit 1 ;;
esac

# The committed seeds (fuzz/corpus/<target>/seed-*), rewritten from the
# current encoder so they stay real frames.
cargo run --quiet --manifest-path fuzz/Cargo.toml --example seeds

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# Inputs longer than this teach the fuzzer nothing new for these targets.
max_len() {
  case "$1" in
    wire_frame) echo 1024 ;;     # a few fields and spans
    wire_stream) echo 2048 ;;    # several frames under its 300-byte limit
    template_parse) echo 512 ;;  # two templates
    python_pickle) echo 4096 ;;  # a LogRecord dict with a traceback
    *) echo 4096 ;;
  esac
}

for t in "${targets[@]}"; do
  echo "== $t: $runs runs"
  start=$(date +%s)
  # -a: debug assertions and overflow checks on, so arithmetic overflow is
  # a crash too.
  "${fuzz[@]}" run -a "${target_dir[@]}" "$t" -- \
    -runs="$runs" -max_len="$(max_len "$t")" -print_final_stats=1
  echo "== $t: done in $(( $(date +%s) - start )) s"
done
