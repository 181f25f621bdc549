// y[n, m] = x[n, k] · W[m, k]ᵀ + bias[m] on tensor cores, for steps of many tokens in bf16 precision (CPU
// reference: kernels/cpu bf16w_matmul; bf16w_matmul.cu keeps decode and the f32 reference). x is f32 holding
// bf16 values in this precision, so its conversion to bf16 is exact; products are exact in f32 and only the
// order of the f32 sums differs from the CPU. Epilogues as bf16w_matmul.cu's: store, store rounded to bf16,
// or the residual update y = round_bf16(y + x·Wᵀ + bias).
//
// Block (x, y): 256 weight rows × 64 tokens (mma_tile.cuh). k runs in stages of 32 copied into shared memory
// with cp.async, kStages − 1 stages in flight while the tensor cores work on the oldest. With mma_tile.cuh's
// permutation of k, lane q's weights in a stage are one 16-byte load per row, already bf16 pairs.
// Grid: (ceil(m / 256), ceil(n / 64), splits); block: 128 threads; k a multiple of 32.
// Dynamic shared memory: kStages × (64 × 36 floats + 256 × 64 bytes) = 76,800 bytes (ops.cpp).
//
// Split k: a step of a few tokens has few blocks (20 for QKV, 12 for the out-projection), far fewer than the SMs,
// so each reads its weights alone at a fraction of the card's bandwidth. With splits > 1, block z sums only the
// stages [z·stages_per_split, (z + 1)·stages_per_split) into partials[z, n, m], and bf16w_matmul_split_reduce adds
// the splits in order (the same sums on every run), then the bias and the epilogue.
#include "mma_tile.cuh"

using namespace tllm_dev;

namespace {

enum Epilogue { kStore = 0, kStoreBf16 = 1, kResidualBf16 = 2 };

constexpr int kStages = 3;
constexpr int kStageK = 32;
constexpr int kAStride = kStageK + 4; // f32 per staged activation row (mma_tile.cuh's bank rule)
constexpr int kAStageFloats = kTileTokens * kAStride;
// bf16 weight rows of 64 bytes: a quarter warp's 16-byte loads read two adjacent rows, all 32 banks once.
constexpr int kBStageElements = kTileRows * kStageK;

__device__ __forceinline__ void matmul_mma(const float* __restrict__ x, // [n, k]
                                           int n,
                                           int k,
                                           const u16* __restrict__ w, // [m, k] bf16
                                           int m,
                                           const u16* __restrict__ bias, // [m] bf16 or null
                                           float* __restrict__ y,        // [n, m]
                                           int epilogue,
                                           float* __restrict__ partials, // [splits, n, m] when split
                                           int stages_per_split) {
    extern __shared__ __align__(16) u8 shared[];
    float* a_stages = reinterpret_cast<float*>(shared);                                       // [kStages][64][kAStride]
    u16* b_stages = reinterpret_cast<u16*>(shared + kStages * kAStageFloats * sizeof(float)); // [kStages][256][32]

    grid_dependency_wait();
    allow_dependents();
    const int token0 = blockIdx.y * kTileTokens;
    const int row0 = blockIdx.x * kTileRows;
    const int split = blockIdx.z;
    const int first_stage = split * stages_per_split;
    const int n_stages = min(stages_per_split, k / kStageK - first_stage);
    const int tokens = min(kTileTokens, n - token0);
    const int valid_rows = min(kTileRows, m - row0);
    const u16* tile_w = w + static_cast<i64>(row0) * k;
    const float* tile_x = x + static_cast<i64>(token0) * k;

    const int m_tiles = (tokens + 15) / 16; // row tiles of 16 tokens that hold a token (the last token tile)
    // Weight copies: 4 chunks of 16 bytes per row, thread → chunk tid % 4 of rows tid / 4 + 32i.
    const int b_chunk = threadIdx.x & 3;
    auto load_stage = [&](int stage) {
        const int k0 = (first_stage + stage) * kStageK;
        copy_activation_stage<kStageK>(
            a_stages + (stage % kStages) * kAStageFloats, kAStride, tile_x, k, k0,
            [&](int row) { return row < tokens ? row : -1; }, m_tiles * 16);
        u16* b_dst = b_stages + (stage % kStages) * kBStageElements;
#pragma unroll
        for (int i = 0; i < kTileRows / 32; ++i) {
            const int row = (threadIdx.x >> 2) + 32 * i;
            const bool valid = row < valid_rows;
            const u16* src = tile_w + (valid ? static_cast<i64>(row) * k + k0 + b_chunk * 8 : 0);
            copy_async_16(b_dst + row * kStageK + b_chunk * 8, src, valid ? 16 : 0);
        }
    };

    const TileLane l = tile_lane();
    float acc[4][8][4];
    zero(acc);

    pipelined_stages<kStages>(n_stages, load_stage, [&](int stage) {
        const float* a_stage = a_stages + (stage % kStages) * kAStageFloats;
        const u16* b_stage = b_stages + (stage % kStages) * kBStageElements;
        u32 a[2][4][4]; // [k half]
        load_activation_fragments(a[0], a_stage, kAStride, 0, 0, l, m_tiles);
        load_activation_fragments(a[1], a_stage, kAStride, 0, 1, l, m_tiles);
#pragma unroll
        for (int ni = 0; ni < 8; ++ni) {
            // Lane q's k = 8q .. 8q + 7 of row 8ni + g: the B fragments of both k halves.
            const uint4 b =
                *reinterpret_cast<const uint4*>(b_stage + (l.warp_row0 + ni * 8 + l.group) * kStageK + l.quad * 8);
#pragma unroll
            for (int mi = 0; mi < 4; ++mi) {
                if (mi < m_tiles) {
                    mma_bf16(acc[mi][ni], a[0][mi], b.x, b.y);
                    mma_bf16(acc[mi][ni], a[1][mi], b.z, b.w);
                }
            }
        }
    });

    for_each_result(acc, l, [&](int token, int tile_row, float v0, float v1) {
        const int row = row0 + tile_row;
        if (token >= tokens || row >= m) {
            return;
        }
        const bool two = row + 1 < m;
        if (gridDim.z > 1) {
            float* part = partials + (static_cast<i64>(split) * n + token0 + token) * m + row;
            part[0] = v0;
            if (two) {
                part[1] = v1;
            }
            return;
        }
        float* dst = y + static_cast<i64>(token0 + token) * m + row;
        const float v[2] = {v0 + (bias != nullptr ? bf16_to_f32(bias[row]) : 0.0f),
                            v1 + (bias != nullptr && two ? bf16_to_f32(bias[row + 1]) : 0.0f)};
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
    });
}

} // namespace

TLLM_KERNEL void __launch_bounds__(kTileThreads, 2) bf16w_matmul_mma(const float* x,
                                                                     int n,
                                                                     int k,
                                                                     const u16* w,
                                                                     int m,
                                                                     const u16* bias,
                                                                     float* y,
                                                                     int epilogue,
                                                                     float* partials,
                                                                     int stages_per_split) {
    matmul_mma(x, n, k, w, m, bias, y, epilogue, partials, stages_per_split);
}

// y[i] = epilogue(Σ_z partials[z, i] + bias) over the n·m results, the splits added in order.
// Grid: ceil(n·m / 256) blocks of 256 threads.
TLLM_KERNEL void __launch_bounds__(256) bf16w_matmul_split_reduce(
    const float* partials, int splits, int n, int m, const u16* bias, float* y, int epilogue) {
    grid_dependency_wait();
    allow_dependents();
    const i64 size = static_cast<i64>(n) * m;
    const i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= size) {
        return;
    }
    float v = 0.0f;
    for (int z = 0; z < splits; ++z) {
        v += partials[z * size + i];
    }
    v += bias != nullptr ? bf16_to_f32(bias[i % m]) : 0.0f;
    if (epilogue == kStore) {
        y[i] = v;
    } else if (epilogue == kStoreBf16) {
        y[i] = round_bf16(v);
    } else {
        y[i] = round_bf16(y[i] + v);
    }
}
