#!/usr/bin/env bash
# On the GPU machine, in one call: the GPU tests of the packed build (scripts/device/pack.sh), then the prefill,
# long-context and GEMM benchmarks of issue 12, each step under its own time limit. Logs go to $OUT.
#   scripts/device/issue12_check.sh BUILD_DIR_ON_BUILD_MACHINE
set -uo pipefail
build=$1
# Libraries the build machine has and the GPU machine may lack (gumbo).
export LD_LIBRARY_PATH=$PWD/.devbin/pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
timeout 240 bash scripts/device/gpu_check.sh "$build" ctest >"$OUT/gpu_check.txt" 2>&1
grep -E "tests passed|Failed|FAILED|\*\*\*|Failure|Expected|Which is|actual" "$OUT/ctest.log" | head -40
for prompt in 512 2048; do
    timeout 60 "$build/tritonllm" bench --synthetic 20b --prompt-tokens $prompt --gen-tokens 32 --runs 2 \
        >"$OUT/bench_$prompt.txt" 2>&1
    echo "$prompt-token prompt: $(tail -1 "$OUT/bench_$prompt.txt")"
done
timeout 120 bash scripts/device/gpu_check.sh "$build" context
timeout 90 bash scripts/device/gpu_check.sh "$build" gemm
