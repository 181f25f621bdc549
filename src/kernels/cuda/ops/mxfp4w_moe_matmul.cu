// The MoE expert products with MXFP4 weights (CPU reference: mxfp4w_matmul, swiglu_interleaved):
//   mlp1: act[p, i] = round_bf16(swiglu(x[token(p)] · W1[e]ᵀ + b1[e]))   rows 2i (gate) and 2i+1 (linear)
//   mlp2: out[p, j] = act[p] · W2[e]ᵀ[j] + b2[e][j]                        f32
// Pairs p = token · top_k + slot are grouped by expert into tiles of at most TN pairs (see
// f32_topk_route.cu); block (x, tile) handles a slice of rows for one tile, so an expert's weights
// are read once per tile. Tiles past *n_tiles exit at once, which keeps the grid fixed for graphs.
//
// Weights: blocks [E, rows, k/32, 16] u8 (element 2j in the low nibble of byte j), scales
// [E, rows, k/32] u8 E8M0, bias [E, rows] bf16. Codes are looked up as doubled E2M1 values and each
// block's sum is multiplied by the half scale 2^(e−128): exact for every e, as on the CPU.
#include "common.cuh"

using namespace tllm_dev;

namespace {

constexpr int kWarps = 8;
__constant__ float kE2m1Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

__device__ __forceinline__ float code(const float* table, u32 word, int j) {
    // Byte offset of the nibble's table entry straight from the word: one shift and one mask.
    u32 offset = j == 0 ? (word << 2) & 0x3c : (word >> (4 * j - 2)) & 0x3c;
    return *reinterpret_cast<const float*>(reinterpret_cast<const char*>(table) + offset);
}

// Dot products of two weight rows with TN activation rows over one 32-element block.
template <int TN>
__device__ __forceinline__ void block_dot(const float* table,
                                          uint4 q0,
                                          uint4 q1,
                                          const float* x, // TN rows of 32 values, row stride `stride`
                                          int stride,
                                          float (&s0)[TN],
                                          float (&s1)[TN]) {
    const u32 w0[4] = {q0.x, q0.y, q0.z, q0.w};
    const u32 w1[4] = {q1.x, q1.y, q1.z, q1.w};
#pragma unroll
    for (int word = 0; word < 4; ++word) {
        float c0[8];
        float c1[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            c0[j] = code(table, w0[word], j);
            c1[j] = code(table, w1[word], j);
        }
#pragma unroll
        for (int t = 0; t < TN; ++t) {
            // 16-byte reads: x rows start 144-byte aligned (36 floats per padded block).
            const float4 xa = *reinterpret_cast<const float4*>(x + t * stride + word * 8);
            const float4 xb = *reinterpret_cast<const float4*>(x + t * stride + word * 8 + 4);
            s0[t] += c0[0] * xa.x + c0[1] * xa.y + c0[2] * xa.z + c0[3] * xa.w + c0[4] * xb.x + c0[5] * xb.y +
                     c0[6] * xb.z + c0[7] * xb.w;
            s1[t] += c1[0] * xa.x + c1[1] * xa.y + c1[2] * xa.z + c1[3] * xa.w + c1[4] * xb.x + c1[5] * xb.y +
                     c1[6] * xb.z + c1[7] * xb.w;
        }
    }
}

// Writes the results of a row pair for one routed pair: mlp1's SwiGLU of (gate, linear) rounded to
// bf16 at act[row0 / 2], or mlp2's two outputs (the second only when it exists).
template <bool SWIGLU>
__device__ __forceinline__ void store_row_pair(
    float* dst, int row0, int row1, bool two, float value0, float value1, float alpha, float limit, int round) {
    if (SWIGLU) {
        dst[row0 / 2] = round_if(swiglu_clamped(value0, value1, alpha, limit), round);
    } else {
        dst[row0] = value0;
        if (two) {
            dst[row1] = value1;
        }
    }
}

// SWIGLU: rows (2i, 2i+1) → act[p, i]. Otherwise rows (r, r+1) → out[p, r], out[p, r+1].
template <int TN, bool SWIGLU>
__device__ __forceinline__ void moe_tile(const float* __restrict__ x, // [.., k] rows indexed by x_row(p)
                                         int k,
                                         const u8* __restrict__ blocks,
                                         const u8* __restrict__ scales,
                                         const u16* __restrict__ bias,
                                         int rows, // rows per expert (2I for mlp1, H for mlp2)
                                         const int* __restrict__ sorted_pairs,
                                         const MoeTile* __restrict__ tiles,
                                         const int* __restrict__ n_tiles,
                                         int top_k,
                                         float alpha,
                                         float limit,
                                         int round,
                                         float* __restrict__ out) {
    grid_dependency_wait();
    allow_dependents();
    if (static_cast<int>(blockIdx.y) >= *n_tiles) {
        return;
    }
    extern __shared__ float smem[]; // [16] table, then [TN, padded(k)] x
    float* table = smem;
    float* x_tile = smem + 16;
    const MoeTile tile = tiles[blockIdx.y];
    const int count = min(tile.count, TN);
    const int stride = padded(k);
    if (threadIdx.x < 16) {
        table[threadIdx.x] = kE2m1Doubled[threadIdx.x];
    }
    for (int i = threadIdx.x; i < TN * k; i += blockDim.x) {
        const int t = i / k;
        const int c = i - t * k;
        float value = 0.0f;
        if (t < count) {
            const int pair = sorted_pairs[tile.first + t];
            // mlp1 reads the token's normalized row; mlp2 reads the pair's activation row.
            const int row = SWIGLU ? pair / top_k : pair;
            value = x[static_cast<i64>(row) * k + c];
        }
        x_tile[t * stride + padded(c)] = value;
    }
    __syncthreads();

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int n_blocks = k >> 5;
    const i64 row_bytes = static_cast<i64>(n_blocks) * 16;
    const u8* expert_blocks = blocks + static_cast<i64>(tile.expert) * rows * row_bytes;
    const u8* expert_scales = scales + static_cast<i64>(tile.expert) * rows * n_blocks;
    const u16* expert_bias = bias + static_cast<i64>(tile.expert) * rows;
    const int out_width = SWIGLU ? rows / 2 : rows;

    for (int row0 = (blockIdx.x * kWarps + warp) * 2; row0 < rows; row0 += gridDim.x * kWarps * 2) {
        const bool two = row0 + 1 < rows; // always true for SWIGLU (rows is even)
        const int row1 = two ? row0 + 1 : row0;
        const uint4* q0 = reinterpret_cast<const uint4*>(expert_blocks + row0 * row_bytes);
        const uint4* q1 = reinterpret_cast<const uint4*>(expert_blocks + row1 * row_bytes);
        const u8* e0 = expert_scales + static_cast<i64>(row0) * n_blocks;
        const u8* e1 = expert_scales + static_cast<i64>(row1) * n_blocks;
        float acc0[TN];
        float acc1[TN];
#pragma unroll
        for (int t = 0; t < TN; ++t) {
            acc0[t] = 0.0f;
            acc1[t] = 0.0f;
        }
#pragma unroll 2
        for (int b = lane; b < n_blocks; b += 32) {
            const uint4 a = __ldg(q0 + b);
            const uint4 c = __ldg(q1 + b);
            const float h0 = mxfp4_half_scale(__ldg(e0 + b));
            const float h1 = mxfp4_half_scale(__ldg(e1 + b));
            float s0[TN];
            float s1[TN];
#pragma unroll
            for (int t = 0; t < TN; ++t) {
                s0[t] = 0.0f;
                s1[t] = 0.0f;
            }
            block_dot<TN>(table, a, c, x_tile + padded(b << 5), stride, s0, s1);
#pragma unroll
            for (int t = 0; t < TN; ++t) {
                acc0[t] += s0[t] * h0;
                acc1[t] += s1[t] * h1;
            }
        }
#pragma unroll
        for (int t = 0; t < TN; ++t) {
            acc0[t] = warp_sum(acc0[t]);
            acc1[t] = warp_sum(acc1[t]);
        }
        if (lane == 0) {
            const float b0 = bf16_to_f32(expert_bias[row0]);
            const float b1 = bf16_to_f32(expert_bias[row1]);
#pragma unroll
            for (int t = 0; t < TN; ++t) {
                if (t < count) {
                    const int pair = sorted_pairs[tile.first + t];
                    store_row_pair<SWIGLU>(out + static_cast<i64>(pair) * out_width, row0, row1, two, acc0[t] + b0,
                                           acc1[t] + b1, alpha, limit, round);
                }
            }
        }
    }
}

// Decode (one pair per tile). x stays in registers: the k blocks are split into S slices of 32,
// lane l of a slice-s warp always takes block 32·s + l and holds its 32 values of x, so an element
// costs one table lookup in shared memory and no read of x there. Warps form G row groups of S
// slices; each row group takes kDecodeRows rows per iteration with the next iteration's blocks and
// scales in flight, and the slices' partial dot products meet in shared memory. Nibble offsets into
// the table come four at a time from one shift and mask.
constexpr int kDecodeRows = 4;   // rows per row group and iteration (two SwiGLU outputs)
constexpr int kDecodeGroups = 2; // row groups per block

__device__ __forceinline__ u32 byte_at(u32 word, int i) {
    return i == 0 ? word & 0xffu : (i == 3 ? word >> 24 : __byte_perm(word, 0u, 0x4440u + i));
}

__device__ __forceinline__ float lookup(const float* table, u32 offset) {
    return *reinterpret_cast<const float*>(reinterpret_cast<const char*>(table) + offset);
}

template <int S, bool SWIGLU>
__device__ __forceinline__ void moe_rows_decode(const float* __restrict__ x,
                                                int k,
                                                const u8* __restrict__ blocks,
                                                const u8* __restrict__ scales,
                                                const u16* __restrict__ bias,
                                                int rows,
                                                const int* __restrict__ sorted_pairs,
                                                const MoeTile* __restrict__ tiles,
                                                const int* __restrict__ n_tiles,
                                                int top_k,
                                                float alpha,
                                                float limit,
                                                int round,
                                                float* __restrict__ out) {
    __shared__ float table[16];
    __shared__ float partial[2][kDecodeGroups][S][kDecodeRows];
    grid_dependency_wait();
    allow_dependents();
    if (static_cast<int>(blockIdx.y) >= *n_tiles) {
        return;
    }
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int slice = warp % S;
    const int group = warp / S;
    const MoeTile tile = tiles[blockIdx.y];
    const int n_blocks = k >> 5;
    const int b = slice * 32 + lane; // this lane's k block
    const bool active = b < n_blocks;
    const i64 row_bytes = static_cast<i64>(n_blocks) * 16;
    const u8* expert_blocks = blocks + static_cast<i64>(tile.expert) * rows * row_bytes + b * 16;
    const u8* expert_scales = scales + static_cast<i64>(tile.expert) * rows * n_blocks + b;
    const u16* expert_bias = bias + static_cast<i64>(tile.expert) * rows;

    const int stride = gridDim.x * kDecodeGroups * kDecodeRows;
    const int block_row0 = blockIdx.x * kDecodeGroups * kDecodeRows;
    const int row0 = block_row0 + group * kDecodeRows;
    // The same count for every warp of the block, so that all of them reach each barrier.
    const int iterations = block_row0 < rows ? (rows - block_row0 + stride - 1) / stride : 0;

    struct RowSet {
        uint4 q[kDecodeRows];
        u32 e[kDecodeRows];
    };
    auto load_rows = [&](RowSet& into, int first) {
#pragma unroll
        for (int i = 0; i < kDecodeRows; ++i) {
            const int row = first + i;
            const bool in = active && row < rows;
            into.q[i] =
                in ? __ldg(reinterpret_cast<const uint4*>(expert_blocks + row * row_bytes)) : make_uint4(0, 0, 0, 0);
            into.e[i] = in ? __ldg(expert_scales + static_cast<i64>(row) * n_blocks) : 127u;
        }
    };
    RowSet first;
    RowSet second;
    if (iterations > 0) {
        load_rows(first, row0);
    }

    const int pair = sorted_pairs[tile.first];
    const float* x_row = x + static_cast<i64>(SWIGLU ? pair / top_k : pair) * k;
    float xr[32];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        const float4 v = active ? reinterpret_cast<const float4*>(x_row + b * 32)[j] : make_float4(0, 0, 0, 0);
        xr[4 * j] = v.x;
        xr[4 * j + 1] = v.y;
        xr[4 * j + 2] = v.z;
        xr[4 * j + 3] = v.w;
    }
    if (threadIdx.x < 16) {
        table[threadIdx.x] = kE2m1Doubled[threadIdx.x];
    }
    __syncthreads();
    const int out_width = SWIGLU ? rows / 2 : rows;
    float* dst = out + static_cast<i64>(pair) * out_width;

    auto step = [&](const RowSet& p, int it) {
        // Two accumulators per row and the rows interleaved: eight independent chains, so that table
        // lookups and FMAs overlap instead of each waiting for the one before.
        float acc[kDecodeRows][2];
#pragma unroll
        for (int i = 0; i < kDecodeRows; ++i) {
            acc[i][0] = 0.0f;
            acc[i][1] = 0.0f;
        }
#pragma unroll
        for (int w = 0; w < 4; ++w) {
#pragma unroll
            for (int i = 0; i < kDecodeRows; ++i) {
                const u32 word = w == 0 ? p.q[i].x : (w == 1 ? p.q[i].y : (w == 2 ? p.q[i].z : p.q[i].w));
                // Byte j holds element 2j in its low nibble: offsets of the even and odd elements.
                const u32 even = (word << 2) & 0x3c3c3c3cu;
                const u32 odd = (word >> 2) & 0x3c3c3c3cu;
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    acc[i][0] += lookup(table, byte_at(even, j)) * xr[8 * w + 2 * j];
                    acc[i][1] += lookup(table, byte_at(odd, j)) * xr[8 * w + 2 * j + 1];
                }
            }
        }
        float dots[kDecodeRows];
#pragma unroll
        for (int i = 0; i < kDecodeRows; ++i) {
            dots[i] = warp_sum((acc[i][0] + acc[i][1]) * mxfp4_half_scale(p.e[i]));
        }
        if (lane == 0) {
#pragma unroll
            for (int i = 0; i < kDecodeRows; ++i) {
                partial[it & 1][group][slice][i] = dots[i];
            }
        }
        __syncthreads();
        // The slice-0 warp of each group finishes its rows: one lane per output (a row pair for mlp1).
        const int first_row = row0 + it * stride;
        constexpr int kOutputs = SWIGLU ? kDecodeRows / 2 : kDecodeRows;
        if (slice == 0 && lane < kOutputs) {
            const int i0 = SWIGLU ? 2 * lane : lane;
            const int row = first_row + i0;
            if (row < rows) {
                float v0 = 0.0f;
                float v1 = 0.0f;
#pragma unroll
                for (int s = 0; s < S; ++s) {
                    v0 += partial[it & 1][group][s][i0];
                    if (SWIGLU) {
                        v1 += partial[it & 1][group][s][i0 + 1];
                    }
                }
                v0 += bf16_to_f32(expert_bias[row]);
                if (SWIGLU) {
                    v1 += bf16_to_f32(expert_bias[row + 1]);
                }
                store_row_pair<SWIGLU>(dst, row, row + 1, false, v0, v1, alpha, limit, round);
            }
        }
    };
    // Unrolled by two so that the register sets swap roles without copies.
    for (int it = 0; it < iterations; it += 2) {
        if (it + 1 < iterations) {
            load_rows(second, row0 + (it + 1) * stride);
        }
        step(first, it);
        if (it + 1 >= iterations) {
            break;
        }
        if (it + 2 < iterations) {
            load_rows(first, row0 + (it + 2) * stride);
        }
        step(second, it + 1);
    }
}

} // namespace

#define TLLM_MOE_DECODE_KERNELS(BPL)                                                                                   \
    TLLM_KERNEL void __launch_bounds__(32 * BPL * kDecodeGroups) mxfp4w_moe_mlp1_swiglu_d##BPL(                        \
        const float* x, int k, const u8* blocks, const u8* scales, const u16* bias, int rows, const int* sorted_pairs, \
        const MoeTile* tiles, const int* n_tiles, int top_k, float alpha, float limit, int round, float* act) {        \
        moe_rows_decode<BPL, true>(x, k, blocks, scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, alpha,       \
                                   limit, round, act);                                                                 \
    }                                                                                                                  \
    TLLM_KERNEL void __launch_bounds__(32 * BPL * kDecodeGroups) mxfp4w_moe_mlp2_d##BPL(                               \
        const float* act, int k, const u8* blocks, const u8* scales, const u16* bias, int rows,                        \
        const int* sorted_pairs, const MoeTile* tiles, const int* n_tiles, int top_k, float* out) {                    \
        moe_rows_decode<BPL, false>(act, k, blocks, scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, 0.0f,     \
                                    0.0f, 0, out);                                                                     \
    }

TLLM_MOE_DECODE_KERNELS(1)
TLLM_MOE_DECODE_KERNELS(2)
TLLM_MOE_DECODE_KERNELS(3)
TLLM_MOE_DECODE_KERNELS(4)

#define TLLM_MOE_KERNELS(TN)                                                                                           \
    TLLM_KERNEL void __launch_bounds__(256) mxfp4w_moe_mlp1_swiglu_t##TN(                                              \
        const float* x, int k, const u8* blocks, const u8* scales, const u16* bias, int rows, const int* sorted_pairs, \
        const MoeTile* tiles, const int* n_tiles, int top_k, float alpha, float limit, int round, float* act) {        \
        moe_tile<TN, true>(x, k, blocks, scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, alpha, limit, round, \
                           act);                                                                                       \
    }                                                                                                                  \
    TLLM_KERNEL void __launch_bounds__(256) mxfp4w_moe_mlp2_t##TN(                                                     \
        const float* act, int k, const u8* blocks, const u8* scales, const u16* bias, int rows,                        \
        const int* sorted_pairs, const MoeTile* tiles, const int* n_tiles, int top_k, float* out) {                    \
        moe_tile<TN, false>(act, k, blocks, scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, 0.0f, 0.0f, 0,    \
                            out);                                                                                      \
    }

TLLM_MOE_KERNELS(1)
TLLM_MOE_KERNELS(4)
TLLM_MOE_KERNELS(8)
