// Prefill attention with sinks on tensor cores (CPU reference: kernels/cpu attention_sinks), for
// many query tokens over the bf16 KV cache, contiguous or paged: the same result as attention_sinks_split, computed
// flash-attention style with mma.sync m16n8k16 (bf16 in, f32 accumulate; sm_80 and newer).
//
// The rows of a block are (token, query head) pairs of one kv head, token-major: row r is token r / G and
// query head kv_head·G + r % G, G = n_heads / n_kv_heads. The query heads that read the same keys share a
// block, so each K and V tile copied into shared memory serves all of them: G times fewer bytes from L2 than
// a block per query head, which bounded the kernel at long contexts. Block: 4 warps of kMTiles tiles of 16
// rows (2 for D = 64, 1 for D = 128, whose accumulators are twice as wide); every K or V fragment read with
// ldmatrix feeds kMTiles MMAs. Key tiles of 64 cover the union of the block's key ranges (causal, and the
// window when window > 0), kStages tiles in flight by cp.async; tiles that every row sees whole skip the mask.
//
// Precision: S = q·kᵀ is exact in f32 (bf16 products, f32 sums); the softmax runs in base 2. P enters P·V as
// bf16 hi + lo parts, so it keeps about 16 bits instead of bf16's 8: the engine's bf16 precision rounds only
// where the model stores bf16 tensors (docs/precision.md), and P rounded to bf16 alone moved the logits of a
// 4-layer model by up to 12% (relative L2) against the CPU engine. The sink joins the denominator at the end; the
// output is rounded to bf16.
// A run is consecutive step tokens of one sequence (their keys are one cache's, or one block table's). Contiguous:
// one run of all n tokens, blocks (row block, kv head) with the latest tokens first. Paged: `plan` lists each
// block's run and row block, longest first (OpKernels::prefill_attention_plan), and every token of a run uses the
// block table of its first.
// Grid: (blocks · n_kv_heads); block: 128 threads; dynamic shared memory: prefill_attention_shared_bytes(D) in
// ops_attention.cpp.
#include "async_copy.cuh"

using namespace tllm_dev;

namespace {

constexpr int kWarps = 4;
constexpr int kKeys = 64; // keys per tile
constexpr float kLog2e = 1.4426950408889634f;

template <int D>
__device__ __forceinline__ void attention_prefill(const float* __restrict__ q, // [n, q_stride], rotated
                                                  int q_stride,
                                                  const i32* __restrict__ positions, // [n]
                                                  int n,
                                                  int n_heads,
                                                  int n_kv_heads,
                                                  const u16* __restrict__ k_cache, // [capacity, n_kv_heads, D]
                                                  const u16* __restrict__ v_cache,
                                                  int window,
                                                  float scale,
                                                  const u16* __restrict__ sinks, // [n_heads] bf16
                                                  float* __restrict__ out,       // [n, n_heads, D]
                                                  KvRows rows,
                                                  const int4* __restrict__ plan) { // [blocks]: first, tokens, row block
    constexpr int kMTiles = D <= 64 ? 2 : 1;
    constexpr int kStages = D <= 64 ? 3 : 2; // 55 KB or 70 KB: within the 99 KB of sm_86 and sm_89
    constexpr int kRows = kWarps * kMTiles * 16;
    // bf16 per K or V row in shared memory: 8 of padding put the 8 rows of an ldmatrix on distinct banks.
    constexpr int kStride = D + 8;
    constexpr int kStageElements = 2 * kKeys * kStride;
    extern __shared__ __align__(16) u16 stages[]; // [kStages][K, V][kKeys][kStride]
    __shared__ int warp_bounds[kWarps][4];        // first key, key end, lowest position, highest first key

    grid_dependency_wait();
    allow_dependents();
    const int group = n_heads / n_kv_heads;
    const int kv_head = blockIdx.x % n_kv_heads;
    int run_first = 0;
    int run_tokens = n;
    // The latest tokens see the most keys: their blocks start first, so the last wave holds short ones.
    int row_block = gridDim.x / n_kv_heads - 1 - blockIdx.x / n_kv_heads;
    if (plan != nullptr) {
        const int4 entry = plan[blockIdx.x / n_kv_heads];
        run_first = entry.x;
        run_tokens = entry.y;
        row_block = entry.z;
    }
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int g = lane >> 2; // fragment row (and row + 8)
    const int quad = lane & 3;

    // This thread's rows: tile mt, half r is row g + 8r of the warp's tile mt.
    int row_token[kMTiles][2]; // −1: padding, sees nothing and is not written
    int row_head[kMTiles][2];
    int row_pos[kMTiles][2];
    int row_first[kMTiles][2];
    int first_key = 0x7fffffff;
    int key_end = 0;
    int lowest_pos = 0x7fffffff;
    int highest_first = 0;
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = row_block * kRows + (warp * kMTiles + mt) * 16 + g + 8 * r;
            const int token = row / group; // within the run
            const bool valid = token < run_tokens;
            row_token[mt][r] = valid ? run_first + token : -1;
            row_head[mt][r] = kv_head * group + (row - token * group);
            row_pos[mt][r] = valid ? positions[run_first + token] : -1;
            row_first[mt][r] = window > 0 ? row_pos[mt][r] - window + 1 : 0;
            if (valid) {
                first_key = min(first_key, max(0, row_first[mt][r]));
                key_end = max(key_end, row_pos[mt][r] + 1);
                lowest_pos = min(lowest_pos, row_pos[mt][r]);
                highest_first = max(highest_first, row_first[mt][r]);
            }
        }
    }
    first_key = __reduce_min_sync(0xffffffffu, first_key);
    key_end = __reduce_max_sync(0xffffffffu, key_end);
    lowest_pos = __reduce_min_sync(0xffffffffu, lowest_pos);
    highest_first = __reduce_max_sync(0xffffffffu, highest_first);
    if (lane == 0) {
        warp_bounds[warp][0] = first_key;
        warp_bounds[warp][1] = key_end;
        warp_bounds[warp][2] = lowest_pos;
        warp_bounds[warp][3] = highest_first;
    }

    // q as A fragments, one per 16 dims: values are bf16 already, so the conversion is exact.
    u32 qa[kMTiles][D / 16][4];
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
        for (int c = 0; c < D / 16; ++c) {
#pragma unroll
            for (int half = 0; half < 2; ++half) { // columns c·16 + quad·2 (+ 8)
#pragma unroll
                for (int r = 0; r < 2; ++r) {
                    float2 x = make_float2(0.0f, 0.0f);
                    if (row_token[mt][r] >= 0) {
                        x = *reinterpret_cast<const float2*>(q + static_cast<i64>(row_token[mt][r]) * q_stride +
                                                             row_head[mt][r] * D + c * 16 + half * 8 + quad * 2);
                    }
                    qa[mt][c][half * 2 + r] = pack_bf16(x.x, x.y);
                }
            }
        }
    }

    float o[kMTiles][D / 8][4];
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
        for (int j = 0; j < D / 8; ++j) {
            o[mt][j][0] = o[mt][j][1] = o[mt][j][2] = o[mt][j][3] = 0.0f;
        }
    }
    const float neg_inf = -__int_as_float(0x7f800000);
    float row_max[kMTiles][2]; // raw scores; exponents are taken of (s − max)·scale·log2 e
    float row_sum[kMTiles][2]; // this lane's share
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
        row_max[mt][0] = row_max[mt][1] = neg_inf;
        row_sum[mt][0] = row_sum[mt][1] = 0.0f;
    }

    __syncthreads();
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
        first_key = min(first_key, warp_bounds[w][0]);
        key_end = max(key_end, warp_bounds[w][1]);
        lowest_pos = min(lowest_pos, warp_bounds[w][2]);
        highest_first = max(highest_first, warp_bounds[w][3]);
    }
    const int kv_row = n_kv_heads * D;
    // Rows past key_end are zero-filled and never read from the cache: a garbage V would turn 0·NaN into NaN.
    auto load_tile = [&](int tile) {
        u16* k_dst = stages + (tile % kStages) * kStageElements;
        u16* v_dst = k_dst + kKeys * kStride;
        const int key0 = first_key + tile * kKeys;
        for (int i = threadIdx.x; i < kKeys * (D / 8); i += kWarps * 32) {
            const int key = i / (D / 8);
            const int d = (i - key * (D / 8)) * 8;
            const bool valid = key0 + key < key_end;
            const i64 at = valid ? rows.row(run_first, key0 + key) * kv_row + kv_head * D + d : 0;
            copy_async_16(k_dst + key * kStride + d, k_cache + at, valid ? 16 : 0);
            copy_async_16(v_dst + key * kStride + d, v_cache + at, valid ? 16 : 0);
        }
    };
    const float scale2 = scale * kLog2e;
    const int n_tiles = first_key < key_end ? (key_end - first_key + kKeys - 1) / kKeys : 0;
    // ldmatrix row addresses: K's matrices i are keys 0-7 at dims 8i (the B fragments of two 16-dim chunks);
    // V's (transposed) are keys 0-7 and 8-15 at dims 8j, then the same keys at dims 8(j + 1).
    const int k_lane = (lane & 7) * kStride + (lane >> 3) * 8;
    const int v_lane = (((lane >> 3) & 1) * 8 + (lane & 7)) * kStride + (lane >> 4) * 8;

    pipelined_stages<kStages>(n_tiles, load_tile, [&](int tile) {
        const u16* k_tile = stages + (tile % kStages) * kStageElements;
        const u16* v_tile = k_tile + kKeys * kStride;
        const int key0 = first_key + tile * kKeys;

        // S = q·kᵀ for the warp's rows and the tile's 64 keys: 8 column tiles of 8 keys.
        float s[kMTiles][kKeys / 8][4];
#pragma unroll
        for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
            for (int mt = 0; mt < kMTiles; ++mt) {
                s[mt][j][0] = s[mt][j][1] = s[mt][j][2] = s[mt][j][3] = 0.0f;
            }
#pragma unroll
            for (int c = 0; c < D / 16; c += 2) {
                u32 b[4];
                load_matrix_x4(b, k_tile + k_lane + j * 8 * kStride + c * 16);
#pragma unroll
                for (int mt = 0; mt < kMTiles; ++mt) {
                    mma_bf16(s[mt][j], qa[mt][c], b[0], b[1]);
                    mma_bf16(s[mt][j], qa[mt][c + 1], b[2], b[3]);
                }
            }
        }
        // Every row sees the whole tile in the middle of a long context: no mask.
        if (key0 < highest_first || key0 + kKeys - 1 > lowest_pos) {
#pragma unroll
            for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
                for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int key = key0 + j * 8 + quad * 2 + (e & 1);
                        const int r = e >> 1;
                        if (key > row_pos[mt][r] || key < row_first[mt][r]) {
                            s[mt][j][e] = neg_inf;
                        }
                    }
                }
            }
        }
        // The online softmax per row (4 lanes share a row).
        float correction[kMTiles][2];
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                float tile_max = neg_inf;
#pragma unroll
                for (int j = 0; j < kKeys / 8; ++j) {
                    tile_max = fmaxf(tile_max, fmaxf(s[mt][j][2 * r], s[mt][j][2 * r + 1]));
                }
                tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
                tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 2));
                const float new_max = fmaxf(row_max[mt][r], tile_max);
                // No visible key yet: an offset of 0 keeps every exponent at −inf, so P and the state stay 0.
                const float offset = new_max == neg_inf ? 0.0f : new_max * scale2;
                correction[mt][r] = exp2f(fmaf(row_max[mt][r], scale2, -offset));
                row_max[mt][r] = new_max;
                float sum = 0.0f;
#pragma unroll
                for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
                    for (int e = 2 * r; e < 2 * r + 2; ++e) {
                        s[mt][j][e] = exp2f(fmaf(s[mt][j][e], scale2, -offset));
                        sum += s[mt][j][e];
                    }
                }
                row_sum[mt][r] = row_sum[mt][r] * correction[mt][r] + sum;
            }
        }
        // Deep in a long context the maxima rarely move: the warp rescales its outputs only when one did.
        bool moved = false;
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
            moved |= correction[mt][0] != 1.0f || correction[mt][1] != 1.0f;
        }
        if (__any_sync(0xffffffffu, moved)) {
#pragma unroll
            for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
                for (int j = 0; j < D / 8; ++j) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        o[mt][j][e] *= correction[mt][e >> 1];
                    }
                }
            }
        }
        // O += P·V over 16-key chunks: P's C fragments of two column tiles form one A fragment, split into a hi
        // part (P's bits truncated to bf16: one byte permute per pair) and the exact remainder rounded to bf16.
#pragma unroll
        for (int c = 0; c < kKeys / 16; ++c) {
            u32 hi[kMTiles][4];
            u32 lo[kMTiles][4];
#pragma unroll
            for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
                for (int f = 0; f < 4; ++f) {
                    const float* pair = &s[mt][2 * c + (f >> 1)][(f & 1) * 2];
                    const u32 bits0 = __float_as_uint(pair[0]);
                    const u32 bits1 = __float_as_uint(pair[1]);
                    hi[mt][f] = __byte_perm(bits0, bits1, 0x7632);
                    lo[mt][f] = pack_bf16_rn(pair[0] - __uint_as_float(bits0 & 0xffff0000u),
                                             pair[1] - __uint_as_float(bits1 & 0xffff0000u));
                }
            }
#pragma unroll
            for (int j = 0; j < D / 8; j += 2) {
                u32 b[4];
                load_matrix_x4_trans(b, v_tile + v_lane + c * 16 * kStride + j * 8);
#pragma unroll
                for (int mt = 0; mt < kMTiles; ++mt) {
                    mma_bf16(o[mt][j], hi[mt], b[0], b[1]);
                    mma_bf16(o[mt][j], lo[mt], b[0], b[1]);
                    mma_bf16(o[mt][j + 1], hi[mt], b[2], b[3]);
                    mma_bf16(o[mt][j + 1], lo[mt], b[2], b[3]);
                }
            }
        }
    });
    copy_async_wait<0>();

    // The sink joins the denominator; the row sums are completed across the row's 4 lanes.
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            float sum = row_sum[mt][r];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            if (row_token[mt][r] < 0) {
                continue;
            }
            const float sink = bf16_to_f32(sinks[row_head[mt][r]]) * kLog2e;
            const float row_max2 = row_max[mt][r] * scale2; // −inf when the row saw no key
            const float final_max = fmaxf(row_max2, sink);
            const float correction = exp2f(row_max2 - final_max);
            const float factor = correction / (sum * correction + exp2f(sink - final_max));
            float* dst = out + (static_cast<i64>(row_token[mt][r]) * n_heads + row_head[mt][r]) * D + quad * 2;
#pragma unroll
            for (int j = 0; j < D / 8; ++j) {
                *reinterpret_cast<float2*>(dst + j * 8) =
                    make_float2(round_bf16(o[mt][j][2 * r] * factor), round_bf16(o[mt][j][2 * r + 1] * factor));
            }
        }
    }
}

} // namespace

#define TLLM_ATTENTION_PREFILL(D)                                                                                      \
    TLLM_KERNEL void __launch_bounds__(kWarps * 32) attention_sinks_prefill_d##D(                                      \
        const float* q, int q_stride, const i32* positions, int n, int n_heads, int n_kv_heads, const u16* k_cache,    \
        const u16* v_cache, int window, float scale, const u16* sinks, float* out, KvRows rows, const int4* plan) {    \
        attention_prefill<D>(q, q_stride, positions, n, n_heads, n_kv_heads, k_cache, v_cache, window, scale, sinks,   \
                             out, rows, plan);                                                                         \
    }
TLLM_ATTENTION_PREFILL(64)
TLLM_ATTENTION_PREFILL(128)
