#!/usr/bin/env bash
# Runs on the GPU machine over a copy of the tree: the packed build (scripts/device/pack.sh) is
# placed where its CTest files expect it (the build machine's absolute path), then the GPU tests and
# the benchmarks run. Logs go to $OUT. Usage: scripts/device/gpu_check.sh BUILD_DIR_ON_BUILD_MACHINE [steps...]
set -uo pipefail
root=$PWD
build_path=$1 # e.g. /work/main/build/release
shift
# The source tree is the build path up to its first build/ or .devbin/ folder.
source_root=${build_path%%/.devbin/*}
source_root=${source_root%%/build/*}
mkdir -p "$(dirname "$source_root")"
[ -e "$source_root" ] || ln -s "$root" "$source_root"
mkdir -p "$(dirname "$build_path")"
[ -e "$build_path" ] || ln -s "$root/.devbin/pack" "$build_path"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/card.txt"
for step in "$@"; do
    case $step in
    ctest)
        (cd "$build_path" && ctest -L gpu --output-on-failure --timeout 500) 2>&1 | tee "$OUT/ctest.log" | tail -60 ;;
    bench)
        "$build_path/tritonllm" bench --synthetic 20b --prompt-tokens 512 --gen-tokens 128 --runs 5 2>&1 |
            tee "$OUT/bench.txt" ;;
    bench-nvrtc)
        TRITONLLM_JIT_BACKEND=nvrtc TRITONLLM_CACHE_DIR=/tmp/tllm-cache "$build_path/tritonllm" bench \
            --synthetic 20b --prompt-tokens 512 --gen-tokens 128 --runs 3 2>&1 | tee "$OUT/bench_nvrtc.txt" ;;
    check-20b)
        BIN="$build_path/tritonllm" WORK=/tmp/tllm_work scripts/reference/cuda_20b_check.sh 2>&1 | tee "$OUT/check_20b.txt" ;;
    layer-sweep)
        BIN="$build_path/tritonllm" WORK=/tmp/tllm_work scripts/reference/cuda_layer_sweep.sh 2>&1 | tee "$OUT/layer_sweep.txt" ;;
    profile)
        ncu --clock-control none --print-summary per-kernel --metrics gpu__time_duration.sum \
            "$build_path/tritonllm" bench --synthetic 20b --prompt-tokens 4 --gen-tokens 3 --runs 1 > "$OUT/ncu.txt" 2>&1
        grep -E "^  [a-z_0-9]+|gpu__time_duration|Invocations" "$OUT/ncu.txt" | head -120 ;;
    gemm)
        "$build_path/tritonllm" bench --gemm 2>"$OUT/gemm.log" >"$OUT/gemm.txt"
        sed -n '/^$/,$p' "$OUT/gemm.txt" ;;
    context)
        "$build_path/tritonllm" bench --synthetic 20b --context 32768 --prompt-tokens 512 --gen-tokens 64 --runs 2 \
            >"$OUT/bench_context32k.txt" 2>&1
        tail -4 "$OUT/bench_context32k.txt" ;;
    profile-prefill)
        ncu --clock-control none --print-summary per-kernel --metrics gpu__time_duration.sum \
            "$build_path/tritonllm" bench --synthetic 20b --prompt-tokens 2048 --gen-tokens 1 --runs 1 > "$OUT/ncu_prefill.txt" 2>&1
        grep -E "^  [a-z_0-9]+|gpu__time_duration|Invocations" "$OUT/ncu_prefill.txt" | head -120 ;;
    *)
        echo "unknown step $step" ;;
    esac
done
