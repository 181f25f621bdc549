// The MoE expert products on tensor cores, for steps of many tokens in bf16 precision (CPU reference:
// mxfp4w_matmul and swiglu_interleaved; mxfp4w_moe_matmul.cu keeps decode and the f32 reference):
//   mlp1: act[p, i] = round_bf16(swiglu(x[token(p)] · W1[e]ᵀ + b1[e]))   rows 2i (gate) and 2i+1 (linear)
//   mlp2: out[p, j] = act[p] · W2[e]ᵀ[j] + b2[e][j]                        f32
// Tiles of up to 64 (token, slot) pairs of one expert come from f32_topk_route.cu, on the device.
// Block (x, tile): 128 weight rows of the tile's expert for all its pairs (mma_tile.cuh).
//
// Per MXFP4 block of k (32 values) the block stages, in shared memory as bf16: the pairs' activations (bf16
// values in this precision, so the conversion is exact) and the weights' doubled E2M1 codes (the integers
// 0..12, exact in bf16). mma.sync m16n8k16 (f32 accumulation) multiplies them into a per-block product
// that is scaled by the block's half scale 2^(e−128) and added to the accumulator: the CPU reference also
// sums each block before scaling it, so only the order of the f32 sums differs. Global loads of the next
// block are in flight while the tensor cores work on this one (two shared buffers, one barrier per block).
// Grid: (ceil(rows / kRows), max tiles); tiles past *n_tiles exit at once, which keeps graphs valid.
#include "mma_tile.cuh"

using namespace tllm_dev;

namespace {

constexpr int kPairs = kTileTokens; // pairs per tile: OpKernels::kMmaTileSize
constexpr int kRows = kTileRows;
constexpr int kStride = kTileStride;
// Doubled E2M1 codes as bf16 bits: 0, 1, 2, 3, 4, 6, 8, 12 and their negatives.
__constant__ u16 kDoubledBf16[16] = {0x0000, 0x3f80, 0x4000, 0x4040, 0x4080, 0x40c0, 0x4100, 0x4140,
                                     0x8000, 0xbf80, 0xc000, 0xc040, 0xc080, 0xc0c0, 0xc100, 0xc140};

// What one thread loads for one k block before it stages it: 8 activations of one pair and 16 weight codes
// (8 bytes) with the scale byte of one row.
struct Staged {
    float4 x0, x1;
    uint2 q;
    u32 e;
};

template <bool SWIGLU>
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
    __shared__ __align__(16) u16 a_tile[2][kPairs * kStride];
    __shared__ __align__(16) u16 b_tile[2][kRows * kStride];
    __shared__ float b_scale[2][kRows];
    __shared__ u32 codes[16];
    __shared__ int pair_of[kPairs];

    grid_dependency_wait();
    allow_dependents();
    if (static_cast<int>(blockIdx.y) >= *n_tiles) {
        return;
    }
    const MoeTile tile = tiles[blockIdx.y];
    const int count = min(tile.count, kPairs);
    const int row0 = blockIdx.x * kRows;
    if (threadIdx.x < 16) {
        codes[threadIdx.x] = kDoubledBf16[threadIdx.x];
    }
    if (threadIdx.x < kPairs) {
        pair_of[threadIdx.x] = threadIdx.x < count ? sorted_pairs[tile.first + threadIdx.x] : -1;
    }
    __syncthreads();

    // Loading roles: 4 threads per pair row (8 values each), 2 threads per weight row (8 bytes each).
    const int a_row = threadIdx.x >> 2;
    const int a_col = (threadIdx.x & 3) * 8;
    const int b_row = threadIdx.x >> 1;
    const int b_half = threadIdx.x & 1;
    const int n_blocks = k >> 5;
    const i64 row_bytes = static_cast<i64>(n_blocks) * 16;
    const int a_pair = pair_of[a_row];
    // mlp1 reads the token's normalized row, mlp2 the pair's activation row.
    const float* a_src = a_pair >= 0 ? x + static_cast<i64>(SWIGLU ? a_pair / top_k : a_pair) * k + a_col : nullptr;
    const bool b_valid = row0 + b_row < rows;
    const i64 b_index = static_cast<i64>(tile.expert) * rows + row0 + b_row;
    const u8* b_src = b_valid ? blocks + b_index * row_bytes + b_half * 8 : nullptr;
    const u8* e_src = b_valid && b_half == 0 ? scales + b_index * n_blocks : nullptr;

    auto load = [&](Staged& s, int kb) {
        const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        s.x0 = a_src != nullptr ? *reinterpret_cast<const float4*>(a_src + kb * 32) : zero;
        s.x1 = a_src != nullptr ? *reinterpret_cast<const float4*>(a_src + kb * 32 + 4) : zero;
        s.q = b_src != nullptr ? __ldg(reinterpret_cast<const uint2*>(b_src + static_cast<i64>(kb) * 16))
                               : make_uint2(0, 0);
        s.e = e_src != nullptr ? __ldg(e_src + kb) : 127u;
    };
    auto stage = [&](const Staged& s, int buffer) {
        stage_activations(a_tile[buffer] + a_row * kStride + a_col, s.x0, s.x1);
        // Byte j holds element 2j in its low nibble and 2j + 1 in its high one: one bf16 pair per byte.
        u32 pairs[8];
        const u32 words[2] = {s.q.x, s.q.y};
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const u32 byte = (words[j >> 2] >> (8 * (j & 3))) & 0xffu;
            pairs[j] = codes[byte & 15u] | (codes[byte >> 4] << 16);
        }
        u16* b_dst = b_tile[buffer] + b_row * kStride + b_half * 16;
        *reinterpret_cast<uint4*>(b_dst) = make_uint4(pairs[0], pairs[1], pairs[2], pairs[3]);
        *reinterpret_cast<uint4*>(b_dst + 8) = make_uint4(pairs[4], pairs[5], pairs[6], pairs[7]);
        if (b_half == 0) {
            b_scale[buffer][b_row] = mxfp4_half_scale(s.e);
        }
    };

    const WarpTile t = warp_tile();
    float acc[2][4][4];
    zero(acc);

    // Each k block's product is scaled per weight row once the block's 32 terms are summed.
    pipelined_k_blocks<Staged>(n_blocks, load, stage, [&](int buffer) {
        float part[2][4][4];
        zero(part);
        warp_mma_k32(a_tile[buffer], b_tile[buffer], t, part);
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) {
            const float s0 = b_scale[buffer][t.row0 + ni * 8 + t.quad * 2];
            const float s1 = b_scale[buffer][t.row0 + ni * 8 + t.quad * 2 + 1];
#pragma unroll
            for (int mi = 0; mi < 2; ++mi) {
                acc[mi][ni][0] += part[mi][ni][0] * s0;
                acc[mi][ni][1] += part[mi][ni][1] * s1;
                acc[mi][ni][2] += part[mi][ni][2] * s0;
                acc[mi][ni][3] += part[mi][ni][3] * s1;
            }
        }
    });

    // Each thread holds rows (row, row + 1) of a pair: mlp1's gate and linear of one output, or two outputs.
    const u16* expert_bias = bias + static_cast<i64>(tile.expert) * rows;
    const int out_width = SWIGLU ? rows / 2 : rows;
#pragma unroll
    for (int ni = 0; ni < 4; ++ni) {
        const int row = row0 + t.row0 + ni * 8 + t.quad * 2;
        if (row >= rows) {
            continue;
        }
        const bool two = row + 1 < rows; // always true for mlp1 (rows is even)
        const float bias0 = bf16_to_f32(expert_bias[row]);
        const float bias1 = two ? bf16_to_f32(expert_bias[row + 1]) : 0.0f;
#pragma unroll
        for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int pair = pair_of[t.token0 + mi * 16 + t.group + 8 * h];
                if (pair < 0) {
                    continue;
                }
                const float v0 = acc[mi][ni][2 * h] + bias0;
                const float v1 = acc[mi][ni][2 * h + 1] + bias1;
                float* dst = out + static_cast<i64>(pair) * out_width;
                if (SWIGLU) {
                    dst[row / 2] = round_bf16(swiglu_clamped(v0, v1, alpha, limit));
                } else {
                    dst[row] = v0;
                    if (two) {
                        dst[row + 1] = v1;
                    }
                }
            }
        }
    }
}

} // namespace

TLLM_KERNEL void __launch_bounds__(kTileThreads) bf16_mxfp4w_moe_mlp1_swiglu_mma(const float* x,
                                                                                 int k,
                                                                                 const u8* blocks,
                                                                                 const u8* scales,
                                                                                 const u16* bias,
                                                                                 int rows,
                                                                                 const int* sorted_pairs,
                                                                                 const MoeTile* tiles,
                                                                                 const int* n_tiles,
                                                                                 int top_k,
                                                                                 float alpha,
                                                                                 float limit,
                                                                                 int /*round: always bf16 here*/,
                                                                                 float* act) {
    moe_mma<true>(x, k, blocks, scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, alpha, limit, act);
}

TLLM_KERNEL void __launch_bounds__(kTileThreads) bf16_mxfp4w_moe_mlp2_mma(const float* act,
                                                                          int k,
                                                                          const u8* blocks,
                                                                          const u8* scales,
                                                                          const u16* bias,
                                                                          int rows,
                                                                          const int* sorted_pairs,
                                                                          const MoeTile* tiles,
                                                                          const int* n_tiles,
                                                                          int top_k,
                                                                          float* out) {
    moe_mma<false>(act, k, blocks, scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, 0.0f, 0.0f, out);
}
