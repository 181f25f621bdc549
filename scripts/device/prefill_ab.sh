#!/usr/bin/env bash
# On the GPU machine: `tritonllm bench --synthetic 20b` of two binaries side by side in one call (the baseline, from
# a release tarball carried in .devbin/pkg, and the packed build), at the prompt lengths given. Logs go to $OUT.
#   scripts/device/prefill_ab.sh NEW_BINARY PROMPT_TOKENS...
set -uo pipefail
new=$1
shift
mkdir -p /tmp/baseline && tar -xzf .devbin/pkg/*.tar.gz -C /tmp/baseline
baseline=$(ls -d /tmp/baseline/*/)bin/tritonllm
for prompt in "$@"; do
  for which in baseline new; do
    binary=$baseline
    [[ $which == new ]] && binary=$new
    "$binary" bench --synthetic 20b --prompt-tokens "$prompt" --gen-tokens 32 --runs 3 >"$OUT/bench_${which}_$prompt.txt" 2>&1
    echo "$which, $prompt-token prompt: $(tail -1 "$OUT/bench_${which}_$prompt.txt")"
  done
done
