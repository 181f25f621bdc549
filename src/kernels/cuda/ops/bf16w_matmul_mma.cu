// y[n, m] = x[n, k] · W[m, k]ᵀ + bias[m] on tensor cores, for steps of many tokens in bf16 precision (CPU
// reference: kernels/cpu bf16w_matmul; bf16w_matmul.cu keeps decode and the f32 reference). x is f32 holding
// bf16 values in this precision, so staging it as bf16 is exact; products are exact in f32 and only the
// order of the f32 sums differs from the CPU. Epilogues as bf16w_matmul.cu's: store, store rounded to bf16,
// or the residual update y = round_bf16(y + x·Wᵀ + bias).
//
// Block (x, y): 128 weight rows × 64 tokens (mma_tile.cuh), k in blocks of 32 with the next block's global
// loads in flight while the tensor cores work (two shared buffers, one barrier per block).
// Grid: (ceil(m / 128), ceil(n / 64)); block: 256 threads; k a multiple of 32.
#include "mma_tile.cuh"

using namespace tllm_dev;

namespace {

enum Epilogue { kStore = 0, kStoreBf16 = 1, kResidualBf16 = 2 };

// What one thread loads for one k block: 8 activations of one token and 16 weights of one row.
struct Staged {
    float4 x0, x1;
    uint4 w0, w1;
};

__device__ __forceinline__ void matmul_mma(const float* __restrict__ x,
                                           int n,
                                           int k,
                                           const u16* __restrict__ w,
                                           int m,
                                           const u16* __restrict__ bias,
                                           float* __restrict__ y,
                                           int epilogue) {
    __shared__ __align__(16) u16 a_tile[2][kTileTokens * kTileStride];
    __shared__ __align__(16) u16 b_tile[2][kTileRows * kTileStride];

    grid_dependency_wait();
    allow_dependents();
    const int token0 = blockIdx.y * kTileTokens;
    const int row0 = blockIdx.x * kTileRows;
    // Loading roles: 4 threads per token row (8 values each); 2 threads per weight row (16 values each).
    const int a_row = threadIdx.x >> 2;
    const int a_col = (threadIdx.x & 3) * 8;
    const int b_row = threadIdx.x >> 1;
    const int b_col = (threadIdx.x & 1) * 16;
    const float* a_src = token0 + a_row < n ? x + static_cast<i64>(token0 + a_row) * k + a_col : nullptr;
    const u16* b_src = row0 + b_row < m ? w + static_cast<i64>(row0 + b_row) * k + b_col : nullptr;
    const int n_blocks = k >> 5;

    auto load = [&](Staged& s, int kb) {
        const float4 zero4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        s.x0 = a_src != nullptr ? *reinterpret_cast<const float4*>(a_src + kb * 32) : zero4;
        s.x1 = a_src != nullptr ? *reinterpret_cast<const float4*>(a_src + kb * 32 + 4) : zero4;
        s.w0 = b_src != nullptr ? __ldg(reinterpret_cast<const uint4*>(b_src + kb * 32)) : make_uint4(0, 0, 0, 0);
        s.w1 = b_src != nullptr ? __ldg(reinterpret_cast<const uint4*>(b_src + kb * 32 + 8)) : make_uint4(0, 0, 0, 0);
    };
    auto stage = [&](const Staged& s, int buffer) {
        stage_activations(a_tile[buffer] + a_row * kTileStride + a_col, s.x0, s.x1);
        u16* b_dst = b_tile[buffer] + b_row * kTileStride + b_col;
        *reinterpret_cast<uint4*>(b_dst) = s.w0;
        *reinterpret_cast<uint4*>(b_dst + 8) = s.w1;
    };

    const WarpTile t = warp_tile();
    float acc[2][4][4];
    zero(acc);
    pipelined_k_blocks<Staged>(n_blocks, load, stage,
                               [&](int buffer) { warp_mma_k32(a_tile[buffer], b_tile[buffer], t, acc); });

#pragma unroll
    for (int ni = 0; ni < 4; ++ni) {
        const int row = row0 + t.row0 + ni * 8 + t.quad * 2;
        if (row >= m) {
            continue;
        }
        const bool two = row + 1 < m;
        const float bias0 = bias != nullptr ? bf16_to_f32(bias[row]) : 0.0f;
        const float bias1 = bias != nullptr && two ? bf16_to_f32(bias[row + 1]) : 0.0f;
#pragma unroll
        for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int token = token0 + t.token0 + mi * 16 + t.group + 8 * h;
                if (token >= n) {
                    continue;
                }
                float* dst = y + static_cast<i64>(token) * m + row;
                const float v[2] = {acc[mi][ni][2 * h] + bias0, acc[mi][ni][2 * h + 1] + bias1};
#pragma unroll
                for (int j = 0; j < 2; ++j) {
                    if (j == 1 && !two) {
                        break;
                    }
                    if (epilogue == kStore) {
                        dst[j] = v[j];
                    } else if (epilogue == kStoreBf16) {
                        dst[j] = round_bf16(v[j]);
                    } else {
                        dst[j] = round_bf16(dst[j] + v[j]);
                    }
                }
            }
        }
    }
}

} // namespace

TLLM_KERNEL void __launch_bounds__(kTileThreads)
    bf16w_matmul_mma(const float* x, int n, int k, const u16* w, int m, const u16* bias, float* y, int epilogue) {
    matmul_mma(x, n, k, w, m, bias, y, epilogue);
}
