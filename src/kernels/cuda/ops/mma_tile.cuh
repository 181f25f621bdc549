// The tensor-core tile shared by the matrix kernels of steps of many tokens (bf16w_matmul_mma.cu,
// bf16_mxfp4w_moe_mma.cu): a block of 8 warps computes kTileTokens activation rows × kTileRows weight rows,
// one k block of 32 at a time, from two bf16 tiles staged in shared memory by the kernel:
//   a: [kTileTokens][kTileStride] activation rows, b: [kTileRows][kTileStride] weight rows (k contiguous).
// Warp w owns rows 32·(w & 1) .. of a and 32·(w >> 1) .. of b: 2 × 4 mma.sync m16n8k16 tiles, whose f32
// fragments are acc[mi][ni][0..3] = (a row g, b rows 2q, 2q + 1) and (a row g + 8, same b rows) for
// g = lane / 4, q = lane % 4 within tile (mi, ni).
#pragma once

#include "common.cuh"

namespace tllm_dev {

constexpr int kTileTokens = 64;
constexpr int kTileRows = 128;
constexpr int kTileThreads = 256;
// bf16 per staged row: 32 values and 4 words of padding, so that a warp's fragment loads (8 rows × 4 words)
// fall on 32 distinct banks.
constexpr int kTileStride = 40;

struct WarpTile {
    int token0; // first activation row of the warp in the block's tile
    int row0;   // first weight row of the warp in the block's tile
    int group;  // lane / 4: fragment row
    int quad;   // lane % 4: fragment column pair
};

__device__ __forceinline__ WarpTile warp_tile() {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    return {(warp & 1) * 32, (warp >> 1) * 32, lane >> 2, lane & 3};
}

__device__ __forceinline__ void zero(float (&acc)[2][4][4]) {
#pragma unroll
    for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) {
            acc[mi][ni][0] = acc[mi][ni][1] = acc[mi][ni][2] = acc[mi][ni][3] = 0.0f;
        }
    }
}

// acc += a · bᵀ over one staged k block of 32.
__device__ __forceinline__ void warp_mma_k32(const u16* a, const u16* b, const WarpTile& t, float (&acc)[2][4][4]) {
    const u16* a_base = a + (t.token0 + t.group) * kTileStride + t.quad * 2;
    const u16* b_base = b + (t.row0 + t.group) * kTileStride + t.quad * 2;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        u32 frag[2][4];
#pragma unroll
        for (int mi = 0; mi < 2; ++mi) {
            const u16* p = a_base + mi * 16 * kTileStride + half * 16;
            frag[mi][0] = *reinterpret_cast<const u32*>(p);
            frag[mi][1] = *reinterpret_cast<const u32*>(p + 8 * kTileStride);
            frag[mi][2] = *reinterpret_cast<const u32*>(p + 8);
            frag[mi][3] = *reinterpret_cast<const u32*>(p + 8 * kTileStride + 8);
        }
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) {
            const u16* p = b_base + ni * 8 * kTileStride + half * 16;
            const u32 b0 = *reinterpret_cast<const u32*>(p);
            const u32 b1 = *reinterpret_cast<const u32*>(p + 8);
#pragma unroll
            for (int mi = 0; mi < 2; ++mi) {
                mma_bf16(acc[mi][ni], frag[mi], b0, b1);
            }
        }
    }
}

// The k loop of the tile kernels over two shared buffers: block kb's products (compute(buffer), buffer kb & 1)
// run while the global loads of blocks kb + 1 and kb + 2 are in flight in registers (load(staged, block));
// then block kb + 1 is staged into the other buffer (stage(staged, buffer)). One barrier per block keeps the
// buffers apart. Two blocks in flight rather than one: a block's loads come from L2 or memory, hundreds of
// cycles, while a block's MMAs take fewer. The loop is unrolled by two so that the register stages keep names.
template <typename Staged, typename Load, typename Stage, typename Compute>
__device__ __forceinline__ void pipelined_k_blocks(int n_blocks, Load load, Stage stage, Compute compute) {
    Staged even; // blocks 0, 2, 4, ...
    Staged odd;  // blocks 1, 3, 5, ...
    load(even, 0);
    if (n_blocks > 1) {
        load(odd, 1);
    }
    stage(even, 0);
    __syncthreads();
    for (int kb = 0; kb < n_blocks; kb += 2) {
        if (kb + 2 < n_blocks) {
            load(even, kb + 2);
        }
        compute(0);
        if (kb + 1 < n_blocks) {
            stage(odd, 1);
        }
        __syncthreads();
        if (kb + 1 >= n_blocks) {
            break;
        }
        if (kb + 3 < n_blocks) {
            load(odd, kb + 3);
        }
        compute(1);
        if (kb + 2 < n_blocks) {
            stage(even, 0);
        }
        __syncthreads();
    }
}

// Eight f32 activations into a staged row. They hold bf16 values in this precision, so the high halves of their
// bits are exactly their bf16 bits: one byte permute packs two.
__device__ __forceinline__ u32 pack_exact_bf16(float lo, float hi) {
    return __byte_perm(__float_as_uint(lo), __float_as_uint(hi), 0x7632);
}

__device__ __forceinline__ void stage_activations(u16* dst, float4 x0, float4 x1) {
    *reinterpret_cast<uint4*>(dst) = make_uint4(pack_exact_bf16(x0.x, x0.y), pack_exact_bf16(x0.z, x0.w),
                                                pack_exact_bf16(x1.x, x1.y), pack_exact_bf16(x1.z, x1.w));
}

} // namespace tllm_dev
