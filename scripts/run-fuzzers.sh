#!/usr/bin/env bash
# Runs every libFuzzer target under BUILD_DIR/fuzz for SECONDS each, starting from its seed corpus, as many at a time
# as there are cores (each fuzzer is single-threaded, so each still gets its SECONDS of one core).
#   scripts/run-fuzzers.sh [BUILD_DIR] [SECONDS] [PARALLEL]
set -euo pipefail
build_dir=${1:-build/fuzz}
seconds=${2:-30}
parallel=${3:-$(nproc)}
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
fuzzers=("$build_dir"/fuzz/*_fuzz)
((${#fuzzers[@]})) || { echo "no fuzzers in $build_dir/fuzz" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One fuzzer on a copy of its seed corpus; its log is kept only on failure.
fuzz_one() {
  local fuzzer=$1 name corpus
  name=$(basename "$fuzzer")
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [[ -d "$root/fuzz/corpus/$name" ]]; then cp -r "$root/fuzz/corpus/$name/." "$corpus/"; fi
  echo "fuzzing $name for ${seconds}s" >&2
  if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=0 "$corpus" 2>"$corpus.log"; then
    tail -50 "$corpus.log" >&2
    echo "fuzzer $name failed" >&2
    touch "$work/failed.$name"
  fi
}

for fuzzer in "${fuzzers[@]}"; do
  while (($(jobs -rp | wc -l) >= parallel)); do
    sleep 0.2
  done
  fuzz_one "$fuzzer" &
done
wait
failures=("$work"/failed.*)
((${#failures[@]} == 0)) || exit 1
echo "fuzzers run: ${#fuzzers[@]}" >&2
