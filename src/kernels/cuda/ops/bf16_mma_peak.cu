// The card's mma.sync peak (m16n8k16, bf16 operands, f32 accumulation), for `tritonllm bench --gemm`: every warp
// issues `rounds` rounds of kChains independent MMAs on register operands, so the tensor cores never wait on
// memory or on a previous result. The operands are ones, so each MMA adds 16 to every accumulator: out[thread]
// = 16 · rounds · kChains · 4 (exact in f32 below 2^24) shows the work was done (CPU reference: that product).
// Grid: any; block: any multiple of 32.
#include "common.cuh"

using namespace tllm_dev;

namespace {
constexpr int kChains = 8;
constexpr u32 kOnes = 0x3f803f80u; // two bf16 1.0
} // namespace

TLLM_KERNEL void bf16_mma_peak(int rounds, float* out) { // out: [grid · block] f32
    const u32 a[4] = {kOnes, kOnes, kOnes, kOnes};
    float d[kChains][4] = {};
    for (int r = 0; r < rounds; ++r) {
#pragma unroll
        for (int c = 0; c < kChains; ++c) {
            mma_bf16(d[c], a, kOnes, kOnes);
        }
    }
    float total = 0.0f;
#pragma unroll
    for (int c = 0; c < kChains; ++c) {
        total += d[c][0] + d[c][1] + d[c][2] + d[c][3];
    }
    out[static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x] = total;
}
