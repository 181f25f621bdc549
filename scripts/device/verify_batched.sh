#!/usr/bin/env bash
# On the GPU machine, in one call: the GPU tests of the batched path and the decode kernels, then decode A/B against
# a baseline binary, the batched throughput, the 32K decode, the GEMM table and a per-kernel profile of a 512-token
# prefill. Each step has its own time limit and writes its log under $OUT, so a call cut short keeps what ran.
#   Pack first on the build machine (a build with the device preset, or any build of sm_90):
#     scripts/device/pack.sh BUILD kernels_gpu_tests forward_cuda_gpu_test batch_engine_gpu_test
#     mkdir -p .devbin/pack/lib .devbin/pack/base && cp -L /lib/x86_64-linux-gnu/libgumbo.so.1 .devbin/pack/lib/
#     cp BASELINE_BUILD/tritonllm .devbin/pack/base/   # optional: the A/B baseline
#   then run with carry [".devbin/pack"]:  bash scripts/device/verify_batched.sh BUILD_DIR_ON_BUILD_MACHINE
set -uo pipefail
root=$PWD
build_path=$1 # where the tests were built, e.g. /work/main/.devbin/build: its source tree must resolve here
source_root=${build_path%%/.devbin/*}
source_root=${source_root%%/build/*}
mkdir -p "$(dirname "$source_root")"
[ -e "$source_root" ] || ln -s "$root" "$source_root"
P=$root/.devbin/pack
export LD_LIBRARY_PATH=$P/lib
start=$SECONDS
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/card.txt"
step() {
    local name=$1 limit=$2
    shift 2
    timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
    echo "$name rc $? ($((SECONDS - start)) s)"
    grep -E "^\[  (PASSED|FAILED)|Failure" "$OUT/$name.txt" | head -6
}
step kernels 120 "$P/tests/kernels/kernels_gpu_tests" \
    --gtest_filter='AttentionSinksGpu.*:PagedKvGpu.*:LogitsSamplerGpu.*:Bf16wMatmulGpu.*:Mxfp4wMoeGpu.*'
step batch 120 "$P/tests/runtime/batch_engine_gpu_test"
step forward 120 "$P/tests/model/forward_cuda_gpu_test" \
    --gtest_filter='*GreedyDecodeFollowsCpu/small_original_cubin:ForwardCudaDecode.*'
for which in base new; do
    bin=$P/tritonllm
    [[ $which == base ]] && bin=$P/base/tritonllm
    [[ -x $bin ]] || continue
    step "decode512_$which" 90 "$bin" bench --synthetic 20b --prompt-tokens 512 --gen-tokens 128 --runs 3
    grep -vE "^\{" "$OUT/decode512_$which.txt" | tail -4
done
step concurrency 150 "$P/tritonllm" bench --synthetic 20b --concurrency 1,8,64 --prompt-tokens 512 --gen-tokens 128
grep -vE "^\{" "$OUT/concurrency.txt" | tail -6
step context32k 90 "$P/tritonllm" bench --synthetic 20b --context 32768 --prompt-tokens 512 --gen-tokens 64 --runs 2
grep -vE "^\{" "$OUT/context32k.txt" | tail -4
step gemm 90 "$P/tritonllm" bench --synthetic 20b --gemm
step profile512 150 ncu --metrics gpu__time_duration.sum --print-summary per-kernel \
    "$P/tritonllm" bench --synthetic 20b --prompt-tokens 512 --gen-tokens 1 --runs 1
