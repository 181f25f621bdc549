#!/usr/bin/env bash
# Runs every libFuzzer target under BUILD_DIR/fuzz for SECONDS each, starting from its seed corpus.
set -euo pipefail
build_dir=${1:-build/fuzz}
seconds=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
ran=0
for fuzzer in "$build_dir"/fuzz/*_fuzz; do
  name=$(basename "$fuzzer")
  corpus=$(mktemp -d)
  if [[ -d "$root/fuzz/corpus/$name" ]]; then cp -r "$root/fuzz/corpus/$name/." "$corpus/"; fi
  echo "fuzzing $name for ${seconds}s" >&2
  "$fuzzer" -max_total_time="$seconds" -print_final_stats=0 "$corpus" 2>"$corpus.log" || {
    tail -50 "$corpus.log" >&2
    echo "fuzzer $name failed" >&2
    exit 1
  }
  rm -rf "$corpus" "$corpus.log"
  ran=$((ran + 1))
done
echo "fuzzers run: $ran" >&2
