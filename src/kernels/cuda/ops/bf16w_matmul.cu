// y[n, m] = x[n, k] · W[m, k]ᵀ + bias[m] with bf16 weights, f32 activations and f32 accumulation
// (the CPU reference is kernels/cpu bf16w_matmul). Decode (n = 1) is bound by reading W once, so
// each warp streams two weight rows with 16-byte loads while the block's x tile sits in shared
// memory; TN tokens share every weight load, which is what prefill needs.
//
// Grid: x covers row groups (grid-stride, 16 rows per block and pass), y covers tiles of TN tokens.
// Block: 256 threads. Dynamic shared memory: TN · padded(k) floats.
#include "common.cuh"

using namespace tllm_dev;

namespace {

// y = dot + bias, y = round_bf16(dot + bias), the residual update y = round_bf16(y + dot + bias), or
// the f32 reference's residual update y = y + dot + bias.
enum Epilogue { kStore = 0, kStoreBf16 = 1, kResidualBf16 = 2, kResidual = 3 };

__device__ __forceinline__ void store_result(float* out, float value, int epilogue) {
    if (epilogue == kStore) {
        *out = value;
    } else if (epilogue == kStoreBf16) {
        *out = round_bf16(value);
    } else if (epilogue == kResidualBf16) {
        *out = round_bf16(*out + value);
    } else {
        *out = *out + value;
    }
}

constexpr int kWarps = 8;
constexpr int kRowsPerWarp = 2;

template <int TN>
__device__ __forceinline__ void matmul_tile(const float* __restrict__ x,
                                            int n,
                                            int k,
                                            const u16* __restrict__ w,
                                            int m,
                                            const u16* __restrict__ bias,
                                            float* __restrict__ y,
                                            int epilogue) {
    grid_dependency_wait();
    allow_dependents();
    extern __shared__ float x_tile[]; // [TN, padded(k)]
    const int token0 = blockIdx.y * TN;
    const int tokens = min(TN, n - token0);
    const int stride = padded(k);
    for (int i = threadIdx.x; i < TN * k; i += blockDim.x) {
        int t = i / k;
        int c = i - t * k;
        x_tile[t * stride + padded(c)] = t < tokens ? x[static_cast<i64>(token0 + t) * k + c] : 0.0f;
    }
    __syncthreads();

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int chunks = k >> 3; // 8 bf16 per 16-byte load
    for (int row0 = (blockIdx.x * kWarps + warp) * kRowsPerWarp; row0 < m; row0 += gridDim.x * kWarps * kRowsPerWarp) {
        const bool two = row0 + 1 < m;
        const uint4* w0 = reinterpret_cast<const uint4*>(w + static_cast<i64>(row0) * k);
        const uint4* w1 = reinterpret_cast<const uint4*>(w + static_cast<i64>(two ? row0 + 1 : row0) * k);
        float acc0[TN];
        float acc1[TN];
#pragma unroll
        for (int t = 0; t < TN; ++t) {
            acc0[t] = 0.0f;
            acc1[t] = 0.0f;
        }
#pragma unroll 4
        for (int c = lane; c < chunks; c += 32) {
            uint4 a = __ldg(w0 + c);
            uint4 b = __ldg(w1 + c);
            float wa[8] = {bf16_to_f32(a.x & 0xffff), bf16_to_f32(a.x >> 16),    bf16_to_f32(a.y & 0xffff),
                           bf16_to_f32(a.y >> 16),    bf16_to_f32(a.z & 0xffff), bf16_to_f32(a.z >> 16),
                           bf16_to_f32(a.w & 0xffff), bf16_to_f32(a.w >> 16)};
            float wb[8] = {bf16_to_f32(b.x & 0xffff), bf16_to_f32(b.x >> 16),    bf16_to_f32(b.y & 0xffff),
                           bf16_to_f32(b.y >> 16),    bf16_to_f32(b.z & 0xffff), bf16_to_f32(b.z >> 16),
                           bf16_to_f32(b.w & 0xffff), bf16_to_f32(b.w >> 16)};
            const int base = padded(c << 3);
#pragma unroll
            for (int t = 0; t < TN; ++t) {
                const float4 xa = *reinterpret_cast<const float4*>(x_tile + t * stride + base);
                const float4 xb = *reinterpret_cast<const float4*>(x_tile + t * stride + base + 4);
                acc0[t] += wa[0] * xa.x + wa[1] * xa.y + wa[2] * xa.z + wa[3] * xa.w + wa[4] * xb.x + wa[5] * xb.y +
                           wa[6] * xb.z + wa[7] * xb.w;
                acc1[t] += wb[0] * xa.x + wb[1] * xa.y + wb[2] * xa.z + wb[3] * xa.w + wb[4] * xb.x + wb[5] * xb.y +
                           wb[6] * xb.z + wb[7] * xb.w;
            }
        }
#pragma unroll
        for (int t = 0; t < TN; ++t) {
            acc0[t] = warp_sum(acc0[t]);
            acc1[t] = warp_sum(acc1[t]);
        }
        if (lane < 2 && (lane == 0 || two)) {
            const int row = row0 + lane;
            const float b = bias != nullptr ? bf16_to_f32(bias[row]) : 0.0f;
#pragma unroll
            for (int t = 0; t < TN; ++t) {
                if (t < tokens) {
                    store_result(y + static_cast<i64>(token0 + t) * m + row, (lane == 0 ? acc0[t] : acc1[t]) + b,
                                 epilogue);
                }
            }
        }
    }
}

// Decode (one token per grid row y): one row per warp with all of the row's loads issued before the first FMA, so
// a row costs one memory round trip; CHUNKS 16-byte loads per lane cover k ≤ CHUNKS · 256.
template <int CHUNKS>
__device__ __forceinline__ void matvec_rows(const float* __restrict__ x,
                                            int k,
                                            const u16* __restrict__ w,
                                            int m,
                                            const u16* __restrict__ bias,
                                            float* __restrict__ y,
                                            int epilogue) {
    extern __shared__ float x_tile[]; // [padded(k)]
    // Grid y runs over the tokens: a matrix of few rows (the router's) at many tokens reads its rows per token.
    x += static_cast<i64>(blockIdx.y) * k;
    y += static_cast<i64>(blockIdx.y) * m;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int chunks = k >> 3;
    uint4 q[CHUNKS];
    auto load_row = [&](int row) {
        const uint4* w_row = reinterpret_cast<const uint4*>(w + static_cast<i64>(row) * k);
#pragma unroll
        for (int j = 0; j < CHUNKS; ++j) {
            const int c = lane + 32 * j;
            q[j] = c < chunks ? __ldg(w_row + c) : make_uint4(0, 0, 0, 0);
        }
    };
    // The first row's weights do not depend on earlier kernels: they are requested before waiting for them.
    int row = blockIdx.x * kWarps + warp;
    if (row < m) {
        load_row(row);
    }
    grid_dependency_wait();
    allow_dependents();
    stage_padded(x_tile, x, k);
    __syncthreads();
    for (; row < m; row += gridDim.x * kWarps) {
        // Four independent chains of FMAs instead of one long one.
        float acc4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int j = 0; j < CHUNKS; ++j) {
            const int c = lane + 32 * j;
            if (c < chunks) {
                const int base = padded(c << 3);
                const float4 xa = *reinterpret_cast<const float4*>(x_tile + base);
                const float4 xb = *reinterpret_cast<const float4*>(x_tile + base + 4);
                float& lo = acc4[(j & 1) * 2];
                float& hi = acc4[(j & 1) * 2 + 1];
                lo += bf16_to_f32(q[j].x & 0xffff) * xa.x + bf16_to_f32(q[j].x >> 16) * xa.y +
                      bf16_to_f32(q[j].y & 0xffff) * xa.z + bf16_to_f32(q[j].y >> 16) * xa.w;
                hi += bf16_to_f32(q[j].z & 0xffff) * xb.x + bf16_to_f32(q[j].z >> 16) * xb.y +
                      bf16_to_f32(q[j].w & 0xffff) * xb.z + bf16_to_f32(q[j].w >> 16) * xb.w;
            }
        }
        float acc = (acc4[0] + acc4[1]) + (acc4[2] + acc4[3]);
        if (row + static_cast<int>(gridDim.x) * kWarps < m) {
            load_row(row + gridDim.x * kWarps);
        }
        acc = warp_sum(acc);
        if (lane == 0) {
            store_result(y + row, acc + (bias != nullptr ? bf16_to_f32(bias[row]) : 0.0f), epilogue);
        }
    }
}

} // namespace

#define TLLM_MATVEC_KERNEL(CHUNKS)                                                                                     \
    TLLM_KERNEL void __launch_bounds__(256)                                                                            \
        bf16w_matvec_c##CHUNKS(const float* x, int k, const u16* w, int m, const u16* bias, float* y, int epilogue) {  \
        matvec_rows<CHUNKS>(x, k, w, m, bias, y, epilogue);                                                            \
    }
TLLM_MATVEC_KERNEL(4)
TLLM_MATVEC_KERNEL(8)
TLLM_MATVEC_KERNEL(12)
TLLM_MATVEC_KERNEL(16)

TLLM_KERNEL void __launch_bounds__(256)
    bf16w_matmul_t1(const float* x, int n, int k, const u16* w, int m, const u16* bias, float* y, int epilogue) {
    matmul_tile<1>(x, n, k, w, m, bias, y, epilogue);
}

TLLM_KERNEL void __launch_bounds__(256)
    bf16w_matmul_t4(const float* x, int n, int k, const u16* w, int m, const u16* bias, float* y, int epilogue) {
    matmul_tile<4>(x, n, k, w, m, bias, y, epilogue);
}

TLLM_KERNEL void __launch_bounds__(256)
    bf16w_matmul_t8(const float* x, int n, int k, const u16* w, int m, const u16* bias, float* y, int epilogue) {
    matmul_tile<8>(x, n, k, w, m, bias, y, epilogue);
}
