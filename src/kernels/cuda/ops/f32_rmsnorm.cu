// RMSNorm over f32 rows (CPU reference: kernels/cpu rmsnorm), in the reference's order
// (x · rsqrt(mean(x²) + eps)) · scale, the result rounded to bf16 as the model stores it (round ≠ 0;
// round = 0 keeps f32 for the f32 reference, as in every kernel's `round`).
// moe_combine_rmsnorm first finishes the previous MoE block, residual = round_bf16(residual +
// Σ_slot weight · expert_out), so that the combine costs no launch of its own.
// Grid: one block per row; block: 256 threads.
#include "common.cuh"

using namespace tllm_dev;

namespace {

__device__ __forceinline__ void
normalize_row(const float* row, int d, const u16* scale, float eps, float* out, int round) {
    __shared__ float scratch[32];
    float sum_sq = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        sum_sq += row[i] * row[i];
    }
    sum_sq = block_sum(sum_sq, scratch);
    const float inv_rms = 1.0f / sqrtf(sum_sq / static_cast<float>(d) + eps);
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        out[i] = round_if((row[i] * inv_rms) * bf16_to_f32(scale[i]), round);
    }
}

} // namespace

// out[t] = rmsnorm(x[t]), x and out: [n, d].
TLLM_KERNEL void __launch_bounds__(1024)
    rmsnorm_rows(const float* x, int d, const u16* scale, float eps, float* out, int round) {
    grid_dependency_wait();
    allow_dependents();
    const int t = blockIdx.x;
    normalize_row(x + static_cast<i64>(t) * d, d, scale, eps, out + static_cast<i64>(t) * d, round);
}

// residual[t] = round_bf16(residual[t] + Σ_s weights[t, s] · expert_out[t·top_k + s]); out[t] = rmsnorm.
TLLM_KERNEL void __launch_bounds__(1024) moe_combine_rmsnorm(float* __restrict__ residual,
                                                             const float* __restrict__ expert_out, // [n·top_k, d]
                                                             const float* __restrict__ weights,    // [n, top_k]
                                                             int top_k,
                                                             int d,
                                                             const u16* scale,
                                                             float eps,
                                                             float* out,
                                                             int round) {
    grid_dependency_wait();
    allow_dependents();
    // One pass with the row in registers (d ≤ kMaxPerThread · blockDim.x): every load of the row is in
    // flight at once, which is what a one-block decode launch needs.
    constexpr int kMaxTopK = 8;
    constexpr int kMaxPerThread = 4;
    __shared__ float scratch[32];
    const int t = blockIdx.x;
    float* row = residual + static_cast<i64>(t) * d;
    const float* expert_rows = expert_out + static_cast<i64>(t) * top_k * d;
    float w[kMaxTopK];
#pragma unroll
    for (int s = 0; s < kMaxTopK; ++s) {
        w[s] = s < top_k ? weights[t * top_k + s] : 0.0f;
    }
    float values[kMaxPerThread];
    float sum_sq = 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxPerThread; ++j) {
        const int i = threadIdx.x + j * blockDim.x;
        values[j] = 0.0f;
        if (i < d) {
            float sum = 0.0f;
#pragma unroll
            for (int s = 0; s < kMaxTopK; ++s) {
                if (s < top_k) {
                    sum += w[s] * expert_rows[static_cast<i64>(s) * d + i];
                }
            }
            values[j] = round_if(row[i] + sum, round);
            sum_sq += values[j] * values[j];
        }
    }
    sum_sq = block_sum(sum_sq, scratch);
    const float inv_rms = 1.0f / sqrtf(sum_sq / static_cast<float>(d) + eps);
    float* out_row = out + static_cast<i64>(t) * d;
#pragma unroll
    for (int j = 0; j < kMaxPerThread; ++j) {
        const int i = threadIdx.x + j * blockDim.x;
        if (i < d) {
            row[i] = values[j];
            out_row[i] = round_if((values[j] * inv_rms) * bf16_to_f32(scale[i]), round);
        }
    }
}
