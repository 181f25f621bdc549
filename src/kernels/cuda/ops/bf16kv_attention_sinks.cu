// Grouped-query attention with a learned sink per head over the bf16 KV cache (CPU reference:
// kernels/cpu attention_sinks). Token t at position p, head h attends keys j ≤ p (and p − j <
// window when window > 0) of kv head h / group; scores are scale·q·k; the sink joins the softmax
// denominator and contributes no value.
//
// Split-K ("flash decoding"): attention_sinks_split gives each block one (token, kv head, split):
// one warp per query head of the group reads the split's keys with an online softmax and writes
// a partial (max, sum, acc). The split ranges come from the positions in device memory, so a
// captured decode graph stays valid as the context grows. The last block of each (token, kv head)
// to finish merges the splits with the sink and rounds the output to bf16.
// attention_sinks_split_f32kv is the f32 reference's variant: f32 caches, output not rounded (its paged form,
// attention_sinks_split_paged_f32kv, serves every token of a batched f32 step). bf16 caches with
// head_dim 64 or 128 take attention_sinks_split_tiled below while a split sees few keys (decode at short contexts,
// sliding-window layers), and the tensor-core kernel of bf16kv_attention_sinks_split_mma.cu at long contexts.
#include "attention_splits.cuh"

using namespace tllm_dev;

namespace {

// Grid: (n_tokens · n_kv_heads, n_splits); block: 32 · (n_heads / n_kv_heads) threads.
template <typename KV>
__device__ __forceinline__ void attention_split(const float* q, // [n, q_stride]: heads at h·head_dim, rotated
                                                int q_stride,
                                                const i32* positions,
                                                int n_heads,
                                                int n_kv_heads,
                                                int head_dim,
                                                const KV* k_cache, // [capacity, n_kv_heads, head_dim]
                                                const KV* v_cache,
                                                int window,
                                                float scale,
                                                const u16* sinks,     // [n_heads] bf16
                                                float* partial_stats, // [n, n_heads, n_splits, 2] (max, sum)
                                                float* partial_acc,   // [n, n_heads, n_splits, head_dim]
                                                int* tickets,         // [n, n_kv_heads], 0 before and after
                                                float* out,           // [n, n_heads, head_dim]
                                                KvRows rows) {
    grid_dependency_wait();
    allow_dependents();
    const int t = blockIdx.x / n_kv_heads;
    const int kv_head = blockIdx.x - t * n_kv_heads;
    const int split = blockIdx.y;
    const int n_splits = gridDim.y;
    const int lane = threadIdx.x & 31;
    const int head = kv_head * (n_heads / n_kv_heads) + (threadIdx.x >> 5);
    const int p = positions[t];
    const int first = window > 0 ? max(0, p - window + 1) : 0;
    const int length = p + 1 - first;
    const int chunk = (length + n_splits - 1) / n_splits;
    const int begin = first + split * chunk;
    const int end = min(p + 1, begin + chunk);

    float qv[kMaxDimsPerLane];
    float acc[kMaxDimsPerLane];
    const float* q_row = q + static_cast<i64>(t) * q_stride + head * head_dim;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) {
        const int d = lane + 32 * i;
        qv[i] = d < head_dim ? q_row[d] : 0.0f;
        acc[i] = 0.0f;
    }
    const int kv_width = n_kv_heads * head_dim;
    float running_max = -__int_as_float(0x7f800000);
    float running_sum = 0.0f;
    for (int j = begin; j < end; ++j) {
        const i64 row = rows.row(t, j);
        const KV* k_row = k_cache + row * kv_width + kv_head * head_dim;
        const KV* v_row = v_cache + row * kv_width + kv_head * head_dim;
        float dot = 0.0f;
        float vv[kMaxDimsPerLane];
#pragma unroll
        for (int i = 0; i < kMaxDimsPerLane; ++i) {
            const int d = lane + 32 * i;
            const bool in = d < head_dim;
            dot += in ? qv[i] * kv_load(k_row + d) : 0.0f;
            vv[i] = in ? kv_load(v_row + d) : 0.0f;
        }
        const float score = scale * warp_sum(dot);
        const float new_max = fmaxf(running_max, score);
        const float correction = expf(running_max - new_max);
        const float weight = expf(score - new_max);
        running_sum = running_sum * correction + weight;
#pragma unroll
        for (int i = 0; i < kMaxDimsPerLane; ++i) {
            acc[i] = acc[i] * correction + weight * vv[i];
        }
        running_max = new_max;
    }
    write_partial<kMaxDimsPerLane>(t, head, split, n_heads, n_splits, head_dim, lane, running_max, running_sum, acc,
                                   partial_stats, partial_acc);
    if (last_split_block(tickets, t, n_kv_heads, kv_head, n_splits)) {
        merge_splits(t, head, n_heads, n_splits, head_dim, lane, sinks, partial_stats, partial_acc, k_cache, out);
    }
}

// The bf16-cache variant for head_dim D of 64 or 128 and 1 to 16 query heads per kv head. The per-key loop above
// costs a warp reduction and two exponentials per key on the critical path, so at long contexts it runs far below
// the memory bandwidth. Here the block stages tiles of 32 keys (K and V rows, 16-byte loads, the next tile's in
// flight while this one is used) in shared memory; warp h (query head h of the group) gives lane j key j's score,
// so the softmax's reductions run once per tile, and each lane then accumulates its two (or four) output dims
// over the tile's 32 keys. Splits start on tile boundaries, so splits past the visible keys exit at once.
// Grid: (n_tokens · n_kv_heads, n_splits); block: 32 · max(group, 4) threads (warps past the group only load).
constexpr int kKeyTile = 32;
constexpr int kMaxGroup = 16;
constexpr int kMinTiledWarps = 4;

template <int D>
__device__ __forceinline__ void attention_split_tiled(const float* q, // [n, q_stride]: heads at h·D, rotated
                                                      int q_stride,
                                                      const i32* positions,
                                                      int n_heads,
                                                      int n_kv_heads,
                                                      const u16* k_cache, // [capacity, n_kv_heads, D] bf16
                                                      const u16* v_cache,
                                                      int window,
                                                      float scale,
                                                      const u16* sinks,     // [n_heads] bf16
                                                      float* partial_stats, // [n, n_heads, n_splits, 2]
                                                      float* partial_acc,   // [n, n_heads, n_splits, D]
                                                      int* tickets,         // [n, n_kv_heads], 0 before and after
                                                      float* out,           // [n, n_heads, D]
                                                      KvRows rows) {        // where token t's positions are
    constexpr int kWords = D / 2;                                           // bf16 pairs per row
    constexpr int kStride = kWords + 1; // one word of padding: lane j reading row j's word w hits bank (j + w) % 32
    constexpr int kChunks = D / 8;      // 16-byte chunks per row
    constexpr int kLoads = kKeyTile * kChunks / (32 * kMinTiledWarps); // chunks per thread per tile, at most
    constexpr int kWordsPerLane = kWords / 32;
    __shared__ u32 k_tile[kKeyTile * kStride];
    __shared__ u32 v_tile[kKeyTile * kStride];
    __shared__ __align__(16) float q_tile[kMaxGroup * D];
    __shared__ __align__(16) float p_tile[kMaxGroup * kKeyTile];

    grid_dependency_wait();
    allow_dependents();
    const int group = n_heads / n_kv_heads;
    const int t = blockIdx.x / n_kv_heads;
    const int kv_head = blockIdx.x - t * n_kv_heads;
    const int split = blockIdx.y;
    const int n_splits = gridDim.y;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const bool computes = warp < group;
    const int head = kv_head * group + warp;
    const int p = positions[t];
    const int first = window > 0 ? max(0, p - window + 1) : 0;
    const int length = p + 1 - first;
    const int chunk = ((length + n_splits - 1) / n_splits + kKeyTile - 1) / kKeyTile * kKeyTile;
    const int begin = first + split * chunk;
    const int end = min(p + 1, begin + chunk);

    if (computes) {
        const float* q_row = q + static_cast<i64>(t) * q_stride + head * D;
        for (int d = lane; d < D; d += 32) {
            q_tile[warp * D + d] = q_row[d];
        }
    }
    const int kv_width = n_kv_heads * D;
    const u16* k_base = k_cache + kv_head * D;
    const u16* v_base = v_cache + kv_head * D;
    uint4 k_next[kLoads];
    uint4 v_next[kLoads];
    // Rows past the split's last key are zeros (their probability is 0), never read: they may lie past the cache.
    auto load_tile = [&](int tile_begin) {
#pragma unroll
        for (int i = 0; i < kLoads; ++i) {
            const int c = threadIdx.x + i * blockDim.x;
            const int j = tile_begin + c / kChunks;
            k_next[i] = make_uint4(0, 0, 0, 0);
            v_next[i] = make_uint4(0, 0, 0, 0);
            if (c < kKeyTile * kChunks && j < end) {
                const i64 offset = rows.row(t, j) * kv_width + (c % kChunks) * 8;
                k_next[i] = *reinterpret_cast<const uint4*>(k_base + offset);
                v_next[i] = *reinterpret_cast<const uint4*>(v_base + offset);
            }
        }
    };
    auto store_tile = [&]() {
#pragma unroll
        for (int i = 0; i < kLoads; ++i) {
            const int c = threadIdx.x + i * blockDim.x;
            if (c < kKeyTile * kChunks) {
                u32* k_row = k_tile + (c / kChunks) * kStride + (c % kChunks) * 4;
                u32* v_row = v_tile + (c / kChunks) * kStride + (c % kChunks) * 4;
                k_row[0] = k_next[i].x, k_row[1] = k_next[i].y, k_row[2] = k_next[i].z, k_row[3] = k_next[i].w;
                v_row[0] = v_next[i].x, v_row[1] = v_next[i].y, v_row[2] = v_next[i].z, v_row[3] = v_next[i].w;
            }
        }
    };

    float acc[2 * kWordsPerLane] = {}; // dims 2w and 2w + 1 of words w = lane + 32·i
    float running_max = -__int_as_float(0x7f800000);
    float running_sum = 0.0f;
    if (begin < end) {
        load_tile(begin);
    }
    for (int tile_begin = begin; tile_begin < end; tile_begin += kKeyTile) {
        __syncthreads(); // the previous tile (and, the first time, q) is no longer read
        store_tile();
        __syncthreads();
        if (tile_begin + kKeyTile < end) {
            load_tile(tile_begin + kKeyTile);
        }
        if (!computes) {
            continue;
        }
        const bool valid = tile_begin + lane < end;
        float score = -__int_as_float(0x7f800000);
        if (valid) {
            const u32* k_row = k_tile + lane * kStride;
            const float4* q4 = reinterpret_cast<const float4*>(q_tile + warp * D);
            float dot = 0.0f;
#pragma unroll
            for (int w = 0; w < kWords; w += 2) {
                const float4 qv = q4[w / 2];
                const u32 k0 = k_row[w];
                const u32 k1 = k_row[w + 1];
                dot += qv.x * __uint_as_float(k0 << 16) + qv.y * __uint_as_float(k0 & 0xffff0000u);
                dot += qv.z * __uint_as_float(k1 << 16) + qv.w * __uint_as_float(k1 & 0xffff0000u);
            }
            score = scale * dot;
        }
        const float new_max = fmaxf(running_max, warp_max(score)); // finite: the tile has a visible key
        const float correction = expf(running_max - new_max);
        const float weight = valid ? expf(score - new_max) : 0.0f;
        running_sum = running_sum * correction + warp_sum(weight);
        running_max = new_max;
        p_tile[warp * kKeyTile + lane] = weight;
        __syncwarp();
#pragma unroll
        for (int i = 0; i < 2 * kWordsPerLane; ++i) {
            acc[i] *= correction;
        }
        const float4* p4 = reinterpret_cast<const float4*>(p_tile + warp * kKeyTile);
#pragma unroll 2
        for (int j4 = 0; j4 < kKeyTile / 4; ++j4) {
            const float4 pv = p4[j4];
            const float pj[4] = {pv.x, pv.y, pv.z, pv.w};
#pragma unroll
            for (int jj = 0; jj < 4; ++jj) {
                const u32* v_row = v_tile + (j4 * 4 + jj) * kStride;
#pragma unroll
                for (int i = 0; i < kWordsPerLane; ++i) {
                    const u32 v = v_row[lane + 32 * i];
                    acc[2 * i] += pj[jj] * __uint_as_float(v << 16);
                    acc[2 * i + 1] += pj[jj] * __uint_as_float(v & 0xffff0000u);
                }
            }
        }
        __syncwarp(); // p_tile is rewritten by the next tile
    }

    if (computes) {
        write_partial<2 * kWordsPerLane, true>(t, head, split, n_heads, n_splits, D, lane, running_max, running_sum,
                                               acc, partial_stats, partial_acc);
    }
    if (last_split_block(tickets, t, n_kv_heads, kv_head, n_splits) && computes) {
        merge_splits(t, head, n_heads, n_splits, D, lane, sinks, partial_stats, partial_acc, k_cache, out);
    }
}

} // namespace

#define TLLM_ATTENTION_SPLIT(NAME, KV)                                                                                 \
    TLLM_KERNEL void NAME(const float* q, int q_stride, const i32* positions, int n_heads, int n_kv_heads,             \
                          int head_dim, const KV* k_cache, const KV* v_cache, int window, float scale,                 \
                          const u16* sinks, float* partial_stats, float* partial_acc, int* tickets, float* out) {      \
        attention_split<KV>(q, q_stride, positions, n_heads, n_kv_heads, head_dim, k_cache, v_cache, window, scale,    \
                            sinks, partial_stats, partial_acc, tickets, out, KvRows{nullptr, nullptr, 1, 1});          \
    }
TLLM_ATTENTION_SPLIT(attention_sinks_split, u16)
TLLM_ATTENTION_SPLIT(attention_sinks_split_f32kv, float)

// The f32 reference over a paged cache: every token of a step, decode or prefill, takes this kernel.
TLLM_KERNEL void attention_sinks_split_paged_f32kv(const float* q,
                                                   int q_stride,
                                                   const i32* positions,
                                                   int n_heads,
                                                   int n_kv_heads,
                                                   int head_dim,
                                                   const float* k_cache,
                                                   const float* v_cache,
                                                   int window,
                                                   float scale,
                                                   const u16* sinks,
                                                   float* partial_stats,
                                                   float* partial_acc,
                                                   int* tickets,
                                                   float* out,
                                                   KvRows rows) {
    attention_split<float>(q, q_stride, positions, n_heads, n_kv_heads, head_dim, k_cache, v_cache, window, scale,
                           sinks, partial_stats, partial_acc, tickets, out, rows);
}

#define TLLM_ATTENTION_SPLIT_TILED(NAME, D)                                                                            \
    TLLM_KERNEL void NAME(const float* q, int q_stride, const i32* positions, int n_heads, int n_kv_heads,             \
                          const u16* k_cache, const u16* v_cache, int window, float scale, const u16* sinks,           \
                          float* partial_stats, float* partial_acc, int* tickets, float* out) {                        \
        attention_split_tiled<D>(q, q_stride, positions, n_heads, n_kv_heads, k_cache, v_cache, window, scale, sinks,  \
                                 partial_stats, partial_acc, tickets, out, KvRows{nullptr, nullptr, 1, 1});            \
    }
TLLM_ATTENTION_SPLIT_TILED(attention_sinks_split_tiled_d64, 64)
TLLM_ATTENTION_SPLIT_TILED(attention_sinks_split_tiled_d128, 128)

// Over a paged cache (KvRows in common.cuh): the tokens of a batch may belong to different sequences, each
// token with its own block table.
#define TLLM_ATTENTION_SPLIT_PAGED(NAME, D)                                                                            \
    TLLM_KERNEL void NAME(const float* q, int q_stride, const i32* positions, int n_heads, int n_kv_heads,             \
                          const u16* k_cache, const u16* v_cache, int window, float scale, const u16* sinks,           \
                          float* partial_stats, float* partial_acc, int* tickets, float* out, KvRows rows) {           \
        attention_split_tiled<D>(q, q_stride, positions, n_heads, n_kv_heads, k_cache, v_cache, window, scale, sinks,  \
                                 partial_stats, partial_acc, tickets, out, rows);                                      \
    }
TLLM_ATTENTION_SPLIT_PAGED(attention_sinks_split_tiled_paged_d64, 64)
TLLM_ATTENTION_SPLIT_PAGED(attention_sinks_split_tiled_paged_d128, 128)
