// Decode attention with sinks over the bf16 KV cache on tensor cores (CPU reference: kernels/cpu
// attention_sinks), for head_dim D of 64 or 128 and up to 16 query heads per kv head: the same result as
// bf16kv_attention_sinks.cu's attention_sinks_split, for any number of tokens, each at its own position.
//
// A decode token's query heads of one kv head all read the same keys, so they form the M side of mma.sync
// m16n8k16 (heads as rows, padded to 16): S = Q·Kᵀ and O += P·V run on tensor cores and the CUDA cores keep
// only the softmax, so the kernel reads the cache at the memory's rate instead of spending four instructions
// per key and head. Block (token · kv head, split): 4 warps; the split's keys arrive in stages of 64 (K and V
// rows copied with cp.async, one or two stages in flight), warp w takes keys 16w .. 16w + 15 of each stage
// with its own online softmax (base 2), and the 4 warps' states are merged in shared memory into the split's
// partial (attention_splits.cuh), which the last block of the (token, kv head) merges with the sink. Splits
// begin on stage boundaries, so splits past the visible keys exit at once.
//
// Precision as the prefill kernel's: q and the cache are bf16, so S is exact in f32; the probabilities enter
// P·V as bf16 hi + lo parts (about 16 bits instead of 8).
// Grid: (n · n_kv_heads, n_splits); block: 128 threads; dynamic shared memory: split_mma_shared_bytes(D), ops.cpp.
#include "async_copy.cuh"
#include "attention_splits.cuh"

using namespace tllm_dev;

namespace {

constexpr int kStageKeys = 64;
constexpr int kWarpKeys = 16;
constexpr int kThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

template <int D>
__device__ __forceinline__ void attention_split_mma(const float* __restrict__ q, // [n, q_stride]: heads at h·D
                                                    int q_stride,
                                                    const i32* __restrict__ positions,
                                                    int n_heads,
                                                    int n_kv_heads,
                                                    const u16* __restrict__ k_cache, // [rows, n_kv_heads, D]
                                                    const u16* __restrict__ v_cache,
                                                    int window,
                                                    float scale,
                                                    const u16* __restrict__ sinks, // [n_heads] bf16
                                                    float* partial_stats,          // [n, n_heads, n_splits, 2]
                                                    float* partial_acc,            // [n, n_heads, n_splits, D]
                                                    int* tickets,                  // [n, n_kv_heads]
                                                    float* out,                    // [n, n_heads, D]
                                                    KvRows rows) {
    // bf16 per staged K or V row: 8 of padding put the 8 rows of a fragment load or an ldmatrix on distinct banks.
    constexpr int kStride = D + 8;
    // Stages of 27 KB (D = 64) or 34 KB (D = 128): the latter take two, within the 99 KB of sm_86 and sm_89.
    constexpr int kStages = D <= 64 ? 3 : 2;
    constexpr int kStageElements = 2 * kStageKeys * kStride; // K then V
    extern __shared__ __align__(16) u16 stages[];            // [kStages][K, V][kStageKeys][kStride]

    grid_dependency_wait();
    allow_dependents();
    const int group = n_heads / n_kv_heads;
    const int t = blockIdx.x / n_kv_heads;
    const int kv_head = blockIdx.x - t * n_kv_heads;
    const int split = blockIdx.y;
    const int n_splits = gridDim.y;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int g = lane >> 2; // fragment row: query head g (and g + 8) of the group
    const int quad = lane & 3;
    const int p = positions[t];
    const int first = window > 0 ? max(0, p - window + 1) : 0;
    const int length = p + 1 - first;
    const int chunk = ((length + n_splits - 1) / n_splits + kStageKeys - 1) / kStageKeys * kStageKeys;
    const int begin = first + split * chunk;
    const int end = min(p + 1, begin + chunk);
    const int n_stages = begin < end ? (end - begin + kStageKeys - 1) / kStageKeys : 0;

    // q of heads g and g + 8 as A fragments, one per 16 dims; rows past the group are zeros.
    u32 qa[D / 16][4];
#pragma unroll
    for (int c = 0; c < D / 16; ++c) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                const int h = g + 8 * r;
                const int d = c * 16 + half * 8 + quad * 2;
                const float* row = q + static_cast<i64>(t) * q_stride + (kv_head * group + h) * D;
                qa[c][half * 2 + r] = h < group ? pack_bf16(row[d], row[d + 1]) : 0u;
            }
        }
    }

    const int kv_width = n_kv_heads * D;
    // Keys past the split's end are zero-filled and never read from the cache: a garbage V would turn 0·NaN
    // into NaN, and they may lie past the cache.
    auto load_stage = [&](int stage) {
        u16* k_dst = stages + (stage % kStages) * kStageElements;
        u16* v_dst = k_dst + kStageKeys * kStride;
        const int key0 = begin + stage * kStageKeys;
        for (int i = threadIdx.x; i < kStageKeys * (D / 8); i += kThreads) {
            const int key = i / (D / 8);
            const int d = (i - key * (D / 8)) * 8;
            const bool valid = key0 + key < end;
            const i64 at = valid ? rows.row(t, key0 + key) * kv_width + kv_head * D + d : 0;
            copy_async_16(k_dst + key * kStride + d, k_cache + at, valid ? 16 : 0);
            copy_async_16(v_dst + key * kStride + d, v_cache + at, valid ? 16 : 0);
        }
    };

    const float neg_inf = -__int_as_float(0x7f800000);
    float o[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
        o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    }
    float row_max[2] = {neg_inf, neg_inf}; // base 2, heads g and g + 8
    float row_sum[2] = {0.0f, 0.0f};       // this lane's share
    const float scale2 = scale * kLog2e;

    pipelined_stages<kStages>(n_stages, load_stage, [&](int stage) {
        const u16* k_tile = stages + (stage % kStages) * kStageElements + warp * kWarpKeys * kStride;
        const u16* v_tile = k_tile + kStageKeys * kStride;
        const int key0 = begin + stage * kStageKeys + warp * kWarpKeys;

        // S = q·kᵀ for the warp's 16 keys: 2 column tiles of 8 keys.
        float s[2][4];
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
            const u16* k_row = k_tile + (j * 8 + g) * kStride + quad * 2;
#pragma unroll
            for (int c = 0; c < D / 16; ++c) {
                mma_bf16(s[j], qa[c], *reinterpret_cast<const u32*>(k_row + c * 16),
                         *reinterpret_cast<const u32*>(k_row + c * 16 + 8));
            }
        }
        float tile_max[2] = {neg_inf, neg_inf};
#pragma unroll
        for (int j = 0; j < 2; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const bool visible = key0 + j * 8 + quad * 2 + (e & 1) < end;
                s[j][e] = visible ? s[j][e] * scale2 : neg_inf;
                tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[j][e]);
            }
        }
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
            tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
            const float new_max = fmaxf(row_max[r], tile_max[r]);
            // No visible key yet: keep everything at zero rather than exp(−inf + inf).
            const float correction = new_max == neg_inf ? 1.0f : exp2f(row_max[r] - new_max);
            row_max[r] = new_max;
            row_sum[r] *= correction;
#pragma unroll
            for (int j = 0; j < D / 8; ++j) {
                o[j][2 * r] *= correction;
                o[j][2 * r + 1] *= correction;
            }
        }
        // P as one A fragment (two column tiles of 8 keys), split into bf16 hi + lo.
        u32 hi[4];
        u32 lo[4];
#pragma unroll
        for (int f = 0; f < 4; ++f) {
            float* pair = &s[f >> 1][(f & 1) * 2];
            const int r = f & 1;
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                pair[e] = pair[e] == neg_inf ? 0.0f : exp2f(pair[e] - row_max[r]);
                row_sum[r] += pair[e];
            }
            const u16 h0 = f32_to_bf16(pair[0]);
            const u16 h1 = f32_to_bf16(pair[1]);
            hi[f] = static_cast<u32>(h0) | (static_cast<u32>(h1) << 16);
            lo[f] = pack_bf16(pair[0] - bf16_to_f32(h0), pair[1] - bf16_to_f32(h1));
        }
        // O += P·V: one ldmatrix.trans gives the B fragments of two 8-dim column tiles: lanes 0-7 and 8-15
        // address keys 0-7 and 8-15 at dims 8j, lanes 16-31 the same keys at dims 8(j + 1).
        const u16* v_lane = v_tile + (((lane >> 3) & 1) * 8 + (lane & 7)) * kStride + (lane >> 4) * 8;
#pragma unroll
        for (int j = 0; j < D / 8; j += 2) {
            u32 b[4];
            load_matrix_x4_trans(b, v_lane + j * 8);
            mma_bf16(o[j], hi, b[0], b[1]);
            mma_bf16(o[j], lo, b[0], b[1]);
            mma_bf16(o[j + 1], hi, b[2], b[3]);
            mma_bf16(o[j + 1], lo, b[2], b[3]);
        }
    });
    copy_async_wait<0>();
    __syncthreads(); // the stages are free for the merge of the warps

    // The 4 warps' states, per head row: max (base 2), sum, and the unnormalized output.
    float* warp_stats = reinterpret_cast<float*>(stages); // [4 warps][16 heads][2]
    float* warp_out = warp_stats + 4 * 16 * 2;            // [4 warps][16 heads][D]
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
        const int h = g + 8 * r;
        if (quad == 0) {
            warp_stats[(warp * 16 + h) * 2] = row_max[r];
            warp_stats[(warp * 16 + h) * 2 + 1] = row_sum[r];
        }
#pragma unroll
        for (int j = 0; j < D / 8; ++j) {
            warp_out[(warp * 16 + h) * D + j * 8 + quad * 2] = o[j][2 * r];
            warp_out[(warp * 16 + h) * D + j * 8 + quad * 2 + 1] = o[j][2 * r + 1];
        }
    }
    __syncthreads();
    // The split's partial, in the natural-log terms of attention_splits.cuh: max·ln 2, and sums and outputs
    // relative to it.
    for (int i = threadIdx.x; i < group * D; i += kThreads) {
        const int h = i / D;
        const int d = i - h * D;
        float max2 = neg_inf;
#pragma unroll
        for (int w = 0; w < 4; ++w) {
            max2 = fmaxf(max2, warp_stats[(w * 16 + h) * 2]);
        }
        float sum = 0.0f;
        float acc = 0.0f;
        if (max2 != neg_inf) {
#pragma unroll
            for (int w = 0; w < 4; ++w) {
                const float factor = exp2f(warp_stats[(w * 16 + h) * 2] - max2);
                sum += warp_stats[(w * 16 + h) * 2 + 1] * factor;
                acc += warp_out[(w * 16 + h) * D + d] * factor;
            }
        }
        const i64 slot = (static_cast<i64>(t) * n_heads + kv_head * group + h) * n_splits + split;
        if (d == 0) {
            partial_stats[slot * 2] = max2 == neg_inf ? neg_inf : max2 * kLn2;
            partial_stats[slot * 2 + 1] = sum;
        }
        partial_acc[slot * D + d] = acc;
    }
    // The stages are free again (last_split_block's barrier follows every read of them): the merge's scratch,
    // 2·16·n_splits + 16 floats, within their 55 KB for n_splits up to 400.
    if (last_split_block(tickets, t, n_kv_heads, kv_head, n_splits)) {
        merge_splits_block(t, kv_head * group, group, n_heads, n_splits, D, sinks, partial_stats, partial_acc, k_cache,
                           out, reinterpret_cast<float*>(stages));
    }
}

} // namespace

#define TLLM_ATTENTION_SPLIT_MMA(NAME, D)                                                                              \
    TLLM_KERNEL void __launch_bounds__(kThreads)                                                                       \
        NAME(const float* q, int q_stride, const i32* positions, int n_heads, int n_kv_heads, const u16* k_cache,      \
             const u16* v_cache, int window, float scale, const u16* sinks, float* partial_stats, float* partial_acc,  \
             int* tickets, float* out) {                                                                               \
        attention_split_mma<D>(q, q_stride, positions, n_heads, n_kv_heads, k_cache, v_cache, window, scale, sinks,    \
                               partial_stats, partial_acc, tickets, out, KvRows{nullptr, nullptr, 1, 1});              \
    }
TLLM_ATTENTION_SPLIT_MMA(attention_sinks_split_d64, 64)
TLLM_ATTENTION_SPLIT_MMA(attention_sinks_split_d128, 128)

// Over a paged cache (KvRows in common.cuh): the tokens of a batch may belong to different sequences, each
// token with its own block table.
#define TLLM_ATTENTION_SPLIT_MMA_PAGED(NAME, D)                                                                        \
    TLLM_KERNEL void __launch_bounds__(kThreads)                                                                       \
        NAME(const float* q, int q_stride, const i32* positions, int n_heads, int n_kv_heads, const u16* k_cache,      \
             const u16* v_cache, int window, float scale, const u16* sinks, float* partial_stats, float* partial_acc,  \
             int* tickets, float* out, KvRows rows) {                                                                  \
        attention_split_mma<D>(q, q_stride, positions, n_heads, n_kv_heads, k_cache, v_cache, window, scale, sinks,    \
                               partial_stats, partial_acc, tickets, out, rows);                                        \
    }
TLLM_ATTENTION_SPLIT_MMA_PAGED(attention_sinks_split_paged_d64, 64)
TLLM_ATTENTION_SPLIT_MMA_PAGED(attention_sinks_split_paged_d128, 128)
