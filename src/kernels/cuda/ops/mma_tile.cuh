// The tensor-core tile shared by the matrix kernels of steps of many tokens (bf16w_matmul_mma.cu,
// bf16_mxfp4w_moe_mma.cu): a block of 4 warps computes 64 activation rows (tokens, or an expert's pairs) ×
// 256 weight rows; warp w owns weight rows 64w .. 64w + 63 for all 64 activation rows, as 4 × 8 mma.sync
// m16n8k16 tiles with f32 accumulators acc[mi][ni][0..3] = (activation row 16mi + g, weight rows 8ni + 2q,
// 8ni + 2q + 1) and (activation row 16mi + g + 8, same weight rows), g = lane / 4, q = lane % 4. Every
// fragment a warp loads feeds 4 or 8 MMAs, which keeps shared-memory reads below the tensor cores' rate.
//
// Both operands sit in shared memory with k contiguous, activations as f32 (bf16 values in this precision,
// so their conversion is exact). Inside every block of 32 k the kernels permute k the same way for both
// operands, which the dot product does not see: lane q holds k = 8q .. 8q + 7, so that its activations are
// two 16-byte loads per row (mma k16 half kh takes k = 8q + 4kh .. 8q + 4kh + 3).
#pragma once

#include "async_copy.cuh"

namespace tllm_dev {

constexpr int kTileTokens = 64;
constexpr int kTileRows = 256;
constexpr int kWarpRows = 64;
constexpr int kTileThreads = 128;

struct TileLane {
    int group;     // lane / 4: fragment row of the activations, weight row of the B fragments
    int quad;      // lane % 4
    int warp_row0; // the warp's first weight row in the tile
};

__device__ __forceinline__ TileLane tile_lane() {
    const int lane = threadIdx.x & 31;
    return {lane >> 2, lane & 3, static_cast<int>(threadIdx.x >> 5) * kWarpRows};
}

template <int MI> __device__ __forceinline__ void zero(float (&acc)[MI][8][4]) {
#pragma unroll
    for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
        for (int ni = 0; ni < 8; ++ni) {
            acc[mi][ni][0] = acc[mi][ni][1] = acc[mi][ni][2] = acc[mi][ni][3] = 0.0f;
        }
    }
}

// Two f32 that hold bf16 values as one bf16 pair: the high halves of their bits are exactly their bf16 bits.
__device__ __forceinline__ u32 pack_exact_bf16(float lo, float hi) {
    return __byte_perm(__float_as_uint(lo), __float_as_uint(hi), 0x7632);
}

// The A fragments of the first m_tiles (1 to MI) activation row tiles for mma k16 half kh of the block of 32 k at
// `k_offset` in the staged rows (row stride `stride` floats, a multiple of 4 that is 4 more than a multiple of 32).
// Row tiles past m_tiles hold no activation row of the block: their fragments are neither loaded nor used.
template <int MI>
__device__ __forceinline__ void load_activation_fragments(
    u32 (&a)[MI][4], const float* stage, int stride, int k_offset, int kh, const TileLane& l, int m_tiles) {
#pragma unroll
    for (int mi = 0; mi < MI; ++mi) {
        if (mi >= m_tiles) {
            break;
        }
        const float* p = stage + (mi * 16 + l.group) * stride + k_offset + l.quad * 8 + kh * 4;
        const float4 lo = *reinterpret_cast<const float4*>(p);
        const float4 hi = *reinterpret_cast<const float4*>(p + 8 * stride);
        a[mi][0] = pack_exact_bf16(lo.x, lo.y);
        a[mi][1] = pack_exact_bf16(hi.x, hi.y);
        a[mi][2] = pack_exact_bf16(lo.z, lo.w);
        a[mi][3] = pack_exact_bf16(hi.z, hi.w);
    }
}

// Starts the copies of k = k0 .. k0 + K − 1 of the ROWS activation rows into a stage (row stride `stride`),
// row r from x_row(r) of x (negative: zeros); k past the matrix reads as zeros. 128 threads, 16 bytes each.
// Rows from `used_rows` on are never read by the tile (row tiles past m_tiles): they are not copied at all.
template <int K, int ROWS = kTileTokens, typename XRow>
__device__ __forceinline__ void
copy_activation_stage(float* stage, int stride, const float* x, int k, int k0, XRow x_row, int used_rows = ROWS) {
    constexpr int kChunks = K / 4; // 16-byte chunks per row
    static_assert(ROWS * kChunks % kTileThreads == 0, "whole copies per thread");
    const int chunk = threadIdx.x % kChunks;
    const bool in_k = k0 + chunk * 4 < k;
#pragma unroll
    for (int i = 0; i < ROWS * kChunks / kTileThreads; ++i) {
        const int row = threadIdx.x / kChunks + (kTileThreads / kChunks) * i;
        if (row >= used_rows) {
            break;
        }
        const int source = x_row(row);
        const bool valid = source >= 0 && in_k;
        const float* src = x + (valid ? static_cast<i64>(source) * k + k0 + chunk * 4 : 0);
        copy_async_16(stage + row * stride + chunk * 4, src, valid ? 16 : 0);
    }
}

// Calls out(activation_row, weight_row, v0, v1) for each pair of adjacent weight rows of the warp's results
// (weight_row is even, relative to the tile).
template <int MI, typename Out>
__device__ __forceinline__ void for_each_result(const float (&acc)[MI][8][4], const TileLane& l, Out out) {
#pragma unroll
    for (int ni = 0; ni < 8; ++ni) {
#pragma unroll
        for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                out(mi * 16 + l.group + 8 * h, l.warp_row0 + ni * 8 + l.quad * 2, acc[mi][ni][2 * h],
                    acc[mi][ni][2 * h + 1]);
            }
        }
    }
}

} // namespace tllm_dev
