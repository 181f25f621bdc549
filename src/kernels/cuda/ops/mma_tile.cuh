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

// The k loop of the tile kernels over two shared buffers: block kb + 1's global loads (load(staged, kb + 1)) are
// in flight while the tensor cores work on block kb (compute(buffer)); then they are staged into the other
// buffer (stage(staged, buffer)), and one barrier per block keeps the buffers apart.
template <typename Staged, typename Load, typename Stage, typename Compute>
__device__ __forceinline__ void pipelined_k_blocks(int n_blocks, Load load, Stage stage, Compute compute) {
    Staged next;
    load(next, 0);
    stage(next, 0);
    __syncthreads();
    for (int kb = 0; kb < n_blocks; ++kb) {
        const int buffer = kb & 1;
        if (kb + 1 < n_blocks) {
            load(next, kb + 1);
        }
        compute(buffer);
        if (kb + 1 < n_blocks) {
            stage(next, buffer ^ 1);
        }
        __syncthreads();
    }
}

// Eight f32 activations (bf16 values in the bf16 precision, so the conversion is exact) into a staged row.
__device__ __forceinline__ void stage_activations(u16* dst, float4 x0, float4 x1) {
    *reinterpret_cast<uint4*>(dst) =
        make_uint4(pack_bf16(x0.x, x0.y), pack_bf16(x0.z, x0.w), pack_bf16(x1.x, x1.y), pack_bf16(x1.z, x1.w));
}

} // namespace tllm_dev
