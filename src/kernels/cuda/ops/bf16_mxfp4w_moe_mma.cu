// The MoE expert products on tensor cores, for steps of many tokens in bf16 precision (CPU reference:
// mxfp4w_matmul and swiglu_interleaved; mxfp4w_moe_matmul.cu keeps decode and the f32 reference):
//   mlp1: act[p, i] = round_bf16(swiglu(x[token(p)] · W1[e]ᵀ + b1[e]))   rows 2i (gate) and 2i+1 (linear)
//   mlp2: out[p, j] = act[p] · W2[e]ᵀ[j] + b2[e][j]                        f32
// Tiles of up to 64 (token, slot) pairs of one expert come from f32_topk_route.cu, on the device.
//
// Block (x, tile): 256 weight rows of the tile's expert for all its pairs (mma_tile.cuh). Tiles hold up to 64 pairs
// (prefill), 32 or 16 (batched decode, where an expert sees a few tokens: one or two row tiles of MMAs, and smaller
// activation stages, so more stages and more blocks per SM keep more weight bytes in flight). k runs in stages of 64
// (two MXFP4 blocks) copied into shared memory with cp.async, kStages − 1 stages in flight while the tensor cores
// work on the oldest: the pairs' f32 activation rows and the weights' raw MXFP4 bytes (a quarter of the bytes of
// bf16). The block's E8M0 scales are copied once, at the start.
//
// MXFP4 is expanded in registers, on the way into the MMA: a code s·e1e0m placed at bf16 bits 15 and 8..6 is
// the bf16 value·2^-126 (e = 0 lands on bf16's subnormals: 0 and 0.5·2^-126), and one bf16 multiply by
// 2^(scale − 1) makes it value·2^(scale − 127), exactly (a power of two). Activations are bf16 values in this
// precision, so their conversion is exact too; the products are exact in f32 and only the order of the f32
// sums differs from the CPU.
// Grid: (ceil(rows / 256), max tiles); tiles past *n_tiles exit at once, which keeps graphs valid.
// Block: 128 threads. Dynamic shared memory: launch_expert_kernel in ops.cpp.
#include "mma_tile.cuh"
#include "moe_mma_layout.cuh"

using namespace tllm_dev;

namespace {

constexpr int kBlockRows = tllm_moe_mma::kBlockRows;
constexpr int kThreads = tllm_moe_mma::kThreads;
constexpr int kStageK = tllm_moe_mma::kStageK;
constexpr int kAStride = tllm_moe_mma::kAStride;
constexpr int kRowStageBytes = kStageK / 2; // MXFP4 bytes of one weight row in one stage
constexpr int kBStageBytes = tllm_moe_mma::kWeightStageBytes;
static_assert(kBlockRows == kTileRows && kThreads == kTileThreads && kBStageBytes == kBlockRows * kRowStageBytes,
              "moe_mma_layout.cuh describes mma_tile.cuh's tiles");

// Where the 16 bytes of weight row `row`'s MXFP4 block `half` (0 or 1) of a stage lie: rows 4..7 of every 8
// swap their two halves, so that the 8 rows × 4 words a warp reads at once fall on 32 distinct banks.
__device__ __forceinline__ int staged_weight_offset(int row, int half) {
    return row * kRowStageBytes + 16 * (half ^ ((row >> 2) & 1));
}

// Byte i of `codes` (two E2M1 codes: the low nibble first in k) as two bf16 of value·2^-126, the first in
// the low half. `shifted` is codes << 4, whose byte i holds the low nibble in its high bits.
template <int I> __device__ __forceinline__ u32 e2m1_pair_scaled_down(u32 codes, u32 shifted) {
    constexpr u32 kSelect = (I << 12) | (I << 8) | ((4 + I) << 4) | (4 + I);
    const u32 p = __byte_perm(codes, shifted, kSelect); // nibbles at bits 12..15 and 28..31
    return (p & 0x80008000u) | ((p & 0x70007000u) >> 6);
}

// a·b on bf16 pairs, exact when b is a power of two and nothing overflows (fma with −0: sm_80 has no mul).
__device__ __forceinline__ u32 bf16x2_mul(u32 a, u32 b) {
    u32 d;
    asm("fma.rn.bf16x2 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(0x80008000u));
    return d;
}

// 2^p as two bf16, for -126 <= p <= 127.
__device__ __forceinline__ u32 bf16x2_power_of_two(int p) { return static_cast<u32>(p + 127) * 0x00800080u; }

// Starts the copies of the block's E8M0 scales ([kBlockRows][n_blocks]; they complete with the first cp.async
// group) and fills the rows past the matrix with a finite scale, which keeps their zero codes' products zero.
__device__ __forceinline__ void copy_block_scales(u8* row_scales, const u8* tile_scales, int valid_rows, int n_blocks) {
    const int tid = threadIdx.x;
    const int bytes = valid_rows * n_blocks;
    if (((reinterpret_cast<unsigned long long>(tile_scales) | static_cast<unsigned long long>(bytes)) & 15) == 0) {
        for (int i = tid * 16; i < bytes; i += kThreads * 16) {
            copy_async_16(row_scales + i, tile_scales + i, 16);
        }
    } else {
        for (int i = tid; i < bytes; i += kThreads) {
            row_scales[i] = tile_scales[i];
        }
    }
    for (int i = bytes + tid; i < kBlockRows * n_blocks; i += kThreads) {
        row_scales[i] = 127;
    }
}

// The epilogue: each call of for_each_result holds rows (row, row + 1) of a pair, mlp1's gate and linear of one
// output, or two outputs of mlp2.
template <bool SWIGLU, int MI>
__device__ __forceinline__ void store_results(const float (&acc)[MI][8][4],
                                              const TileLane& l,
                                              int row0,
                                              int rows,
                                              int expert,
                                              const u16* __restrict__ bias,
                                              const int* pair_of,
                                              float alpha,
                                              float limit,
                                              float* __restrict__ out) {
    const u16* expert_bias = bias + static_cast<i64>(expert) * rows;
    const int out_width = SWIGLU ? rows / 2 : rows;
    for_each_result(acc, l, [&](int slot, int tile_row, float v0, float v1) {
        const int row = row0 + tile_row;
        const int pair = pair_of[slot];
        if (row >= rows || pair < 0) {
            return;
        }
        const bool two = row + 1 < rows; // always true for mlp1 (rows is even)
        v0 += bf16_to_f32(expert_bias[row]);
        v1 += two ? bf16_to_f32(expert_bias[row + 1]) : 0.0f;
        float* dst = out + static_cast<i64>(pair) * out_width;
        if (SWIGLU) {
            dst[row / 2] = round_bf16(swiglu_clamped(v0, v1, alpha, limit));
        } else {
            dst[row] = v0;
            if (two) {
                dst[row + 1] = v1;
            }
        }
    });
}

// PAIRS per tile (OpKernels::kMmaTileSize, kMmaMediumTileSize or kMmaSmallTileSize), STAGES of k in the pipeline.
template <bool SWIGLU, int PAIRS, int STAGES>
__device__ __forceinline__ void moe_mma(const float* __restrict__ x, // [.., k] rows indexed by x_row(p)
                                        int k,
                                        const u8* __restrict__ blocks, // [E, rows, k/32, 16]
                                        const u8* __restrict__ scales, // [E, rows, k/32]
                                        const u16* __restrict__ bias,  // [E, rows]
                                        int rows,
                                        const int* __restrict__ sorted_pairs,
                                        const MoeTile* __restrict__ tiles,
                                        const int* __restrict__ n_tiles,
                                        int top_k,
                                        float alpha,
                                        float limit,
                                        float* __restrict__ out) {
    constexpr int kPairs = PAIRS;
    constexpr int kStages = STAGES;
    constexpr int kMTiles = kPairs / 16; // row tiles of 16 pairs
    constexpr int kAStageFloats = kPairs * kAStride;
    extern __shared__ __align__(16) u8 shared[];
    float* a_stages = reinterpret_cast<float*>(shared);              // [kStages][kPairs][kAStride]
    u8* b_stages = shared + kStages * kAStageFloats * sizeof(float); // [kStages][kBlockRows][32]
    u8* row_scales = b_stages + kStages * kBStageBytes;              // [kBlockRows][k/32]
    __shared__ int pair_of[kPairs];                                  // -1: no pair
    __shared__ int x_row_of[kPairs];

    grid_dependency_wait();
    allow_dependents();
    if (static_cast<int>(blockIdx.y) >= *n_tiles) {
        return;
    }
    const MoeTile tile = tiles[blockIdx.y];
    const int count = min(tile.count, kPairs);
    const int row0 = blockIdx.x * kBlockRows;
    const int valid_rows = min(kBlockRows, rows - row0);
    const int n_blocks = k >> 5;
    const int n_stages = (n_blocks + 1) >> 1;
    const i64 row_bytes = static_cast<i64>(n_blocks) * 16;
    const i64 first_row = static_cast<i64>(tile.expert) * rows + row0;
    const u8* tile_blocks = blocks + first_row * row_bytes;
    const u8* tile_scales = scales + first_row * n_blocks;
    const int tid = threadIdx.x;

    if (tid < kPairs) {
        const int pair = tid < count ? sorted_pairs[tile.first + tid] : -1;
        pair_of[tid] = pair;
        // mlp1 reads the token's normalized row, mlp2 the pair's activation row.
        x_row_of[tid] = pair < 0 ? -1 : (SWIGLU ? pair / top_k : pair);
    }
    copy_block_scales(row_scales, tile_scales, valid_rows, n_blocks);
    __syncthreads();

    // Weight copies: 2 chunks of 16 bytes per row (the stage's two MXFP4 blocks), thread → chunk tid % 2 of
    // rows tid / 2 + 64i.
    const int b_half = tid & 1;
    // Row tiles of 16 pairs that hold a pair: a tile of a few pairs (batched decode, an expert's last tile) skips
    // the copies, MMAs and fragment loads of the empty ones.
    const int m_tiles = (count + 15) / 16;
    auto load_stage = [&](int stage) {
        copy_activation_stage<kStageK, kPairs>(
            a_stages + (stage % kStages) * kAStageFloats, kAStride, x, k, stage * kStageK,
            [&](int row) { return x_row_of[row]; }, m_tiles * 16);
        u8* b_dst = b_stages + (stage % kStages) * kBStageBytes;
        const int block = 2 * stage + b_half;
#pragma unroll
        for (int i = 0; i < kBlockRows / 64; ++i) {
            const int row = (tid >> 1) + 64 * i;
            const bool valid = row < valid_rows && block < n_blocks;
            const u8* src = tile_blocks + (valid ? row * row_bytes + block * 16 : 0);
            copy_async_16(b_dst + staged_weight_offset(row, b_half), src, valid ? 16 : 0);
        }
    };

    const TileLane l = tile_lane();
    float acc[kMTiles][8][4];
    zero(acc);

    // One MXFP4 block (k = 32) of a staged stage: weights expanded once per row, activations per k half.
    auto compute_block = [&](const float* a_stage, const u8* b_stage, int half, int block) {
        u32 codes[8];
        u32 scale_up[8]; // 2^(min(e, 128) − 1); rows with e > 128 need a second factor
        bool large = false;
#pragma unroll
        for (int ni = 0; ni < 8; ++ni) {
            const int row = l.warp_row0 + ni * 8 + l.group;
            codes[ni] = *reinterpret_cast<const u32*>(b_stage + staged_weight_offset(row, half) + 4 * l.quad);
            const int e = row_scales[row * n_blocks + block];
            large |= e > 128;
            scale_up[ni] = bf16x2_power_of_two(min(e, 128) - 1);
        }
        // Scales above 2^1 (none in real checkpoints' experts) take a second multiply: a branch the whole warp takes
        // together, so that the common path carries no predicated instructions for it. The lambda is called with a
        // constant, so that each inlined copy keeps only its own path (NVRTC compiles no generic lambdas in device
        // code).
        auto multiply = [&](bool large_scales) {
#pragma unroll
            for (int kh = 0; kh < 2; ++kh) {
                u32 a[kMTiles][4];
                load_activation_fragments(a, a_stage, kAStride, half * 32, kh, l, m_tiles);
#pragma unroll
                for (int ni = 0; ni < 8; ++ni) {
                    const u32 shifted = codes[ni] << 4;
                    u32 b0 = kh == 0 ? e2m1_pair_scaled_down<0>(codes[ni], shifted)
                                     : e2m1_pair_scaled_down<2>(codes[ni], shifted);
                    u32 b1 = kh == 0 ? e2m1_pair_scaled_down<1>(codes[ni], shifted)
                                     : e2m1_pair_scaled_down<3>(codes[ni], shifted);
                    b0 = bf16x2_mul(b0, scale_up[ni]);
                    b1 = bf16x2_mul(b1, scale_up[ni]);
                    if (large_scales) {
                        const int e = row_scales[(l.warp_row0 + ni * 8 + l.group) * n_blocks + block];
                        const u32 rest = bf16x2_power_of_two(max(e, 128) - 128);
                        b0 = bf16x2_mul(b0, rest);
                        b1 = bf16x2_mul(b1, rest);
                    }
#pragma unroll
                    for (int mi = 0; mi < kMTiles; ++mi) {
                        if (kMTiles == 1 || mi < m_tiles) { // a tile holds a pair at least
                            mma_bf16(acc[mi][ni], a[mi], b0, b1);
                        }
                    }
                }
            }
        };
        if (__any_sync(0xffffffffu, large)) {
            multiply(true);
        } else {
            multiply(false);
        }
    };

    pipelined_stages<kStages>(n_stages, load_stage, [&](int stage) {
        const float* a_stage = a_stages + (stage % kStages) * kAStageFloats;
        const u8* b_stage = b_stages + (stage % kStages) * kBStageBytes;
        compute_block(a_stage, b_stage, 0, 2 * stage);
        if (2 * stage + 1 < n_blocks) {
            compute_block(a_stage, b_stage, 1, 2 * stage + 1);
        }
    });

    store_results<SWIGLU>(acc, l, row0, rows, tile.expert, bias, pair_of, alpha, limit, out);
}

} // namespace

// Tiles of 64 pairs: 3 stages (99 KB of shared memory at k = 2880: two blocks per SM); of 32 pairs: 3 stages (74 KB:
// three); of 16 pairs: 4 stages (73 KB: three). moe_mma_layout.cuh gives the launcher these sizes.
#define TLLM_MOE_MMA_KERNELS(SUFFIX, PAIRS, STAGES, BLOCKS_PER_SM)                                                     \
    TLLM_KERNEL void __launch_bounds__(kThreads, BLOCKS_PER_SM) bf16_mxfp4w_moe_mlp1_swiglu_mma##SUFFIX(               \
        const float* x, int k, const u8* blocks, const u8* scales, const u16* bias, int rows, const int* sorted_pairs, \
        const MoeTile* tiles, const int* n_tiles, int top_k, float alpha, float limit,                                 \
        int /*round: always bf16 here*/, float* act) {                                                                 \
        moe_mma<true, PAIRS, STAGES>(x, k, blocks, scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, alpha,     \
                                     limit, act);                                                                      \
    }                                                                                                                  \
    TLLM_KERNEL void __launch_bounds__(kThreads, BLOCKS_PER_SM) bf16_mxfp4w_moe_mlp2_mma##SUFFIX(                      \
        const float* act, int k, const u8* blocks, const u8* scales, const u16* bias, int rows,                        \
        const int* sorted_pairs, const MoeTile* tiles, const int* n_tiles, int top_k, float* out) {                    \
        moe_mma<false, PAIRS, STAGES>(act, k, blocks, scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, 0.0f,   \
                                      0.0f, out);                                                                      \
    }
TLLM_MOE_MMA_KERNELS(, tllm_moe_mma::kLargePairs, tllm_moe_mma::kLargeStages, 2)
TLLM_MOE_MMA_KERNELS(_p16, tllm_moe_mma::kSmallPairs, tllm_moe_mma::kSmallStages, 3)
TLLM_MOE_MMA_KERNELS(_p32, tllm_moe_mma::kMediumPairs, tllm_moe_mma::kMediumStages, 3)
