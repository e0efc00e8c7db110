#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60), one after another, from the seeds
# in fuzz/seeds/TARGET into fuzz/work/TARGET; exits non-zero on the first crash, which libFuzzer
# leaves in fuzz/artifacts/TARGET/. Needs cargo-fuzz (cargo install cargo-fuzz --locked).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
# No sanitizer: ASan needs a nightly toolchain; Rust's own checks (bounds, overflow with
# cargo fuzz's debug assertions) still turn a bug into a crash.
cargo fuzz build --sanitizer none -O -a
for t in "${targets[@]}"; do
  mkdir -p "work/$t"
  echo "fuzz $t: ${seconds}s"
  cargo fuzz run --sanitizer none -O -a "$t" "work/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 2>&1 |
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)|panicked|ERROR|SUMMARY|artifact' || true
  test "${PIPESTATUS[0]}" -eq 0 || { echo "fuzz $t: crashed (see fuzz/artifacts/$t/)"; exit 1; }
done
