// The split-K ("flash decoding") bookkeeping shared by the decode attention kernels (bf16kv_attention_sinks.cu,
// bf16kv_attention_sinks_split_mma.cu): each block of a (token, kv head) writes its split's partial softmax
// state per query head, and the last block to finish merges the splits with the sink.
#pragma once

#include "common.cuh"

namespace tllm_dev {

constexpr int kMaxDimsPerLane = 4; // head_dim ≤ 128

// One split's softmax state of one head: acc[i] is dim lane + 32·i, or with Pairs dims 2w and 2w + 1 of word
// w = lane + 32·(i / 2) (the tiled kernel's bf16 pairs).
template <int DimsPerLane, bool Pairs = false>
__device__ __forceinline__ void write_partial(int t,
                                              int head,
                                              int split,
                                              int n_heads,
                                              int n_splits,
                                              int head_dim,
                                              int lane,
                                              float running_max,
                                              float running_sum,
                                              const float (&acc)[DimsPerLane],
                                              float* partial_stats,
                                              float* partial_acc) {
    const i64 slot = (static_cast<i64>(t) * n_heads + head) * n_splits + split;
    if (lane == 0) {
        partial_stats[slot * 2] = running_max;
        partial_stats[slot * 2 + 1] = running_sum;
    }
#pragma unroll
    for (int i = 0; i < DimsPerLane; ++i) {
        const int d = Pairs ? 2 * (lane + 32 * (i / 2)) + (i & 1) : lane + 32 * i;
        if (d < head_dim) {
            partial_acc[slot * head_dim + d] = acc[i];
        }
    }
}

// Whether this block is the last of the splits of its (token, kv head) to finish: that block merges them, so the
// merge costs no launch. Every thread of the block must call it.
__device__ __forceinline__ bool last_split_block(int* tickets, int t, int n_kv_heads, int kv_head, int n_splits) {
    __shared__ bool last_block;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        int* ticket = tickets + static_cast<i64>(t) * n_kv_heads + kv_head;
        last_block = atomicAdd(ticket, 1) == n_splits - 1;
        if (last_block) {
            *ticket = 0;
        }
    }
    __syncthreads();
    if (last_block) {
        __threadfence();
    }
    return last_block;
}

// The splits of one head merged with its sink, by one warp. Partials of other blocks are read from L2 (__ldcg)
// after the fence of last_split_block. Empty splits (max −inf, sum 0) add nothing.
template <typename KV>
__device__ __forceinline__ void merge_splits(int t,
                                             int head,
                                             int n_heads,
                                             int n_splits,
                                             int head_dim,
                                             int lane,
                                             const u16* sinks,
                                             const float* partial_stats,
                                             const float* partial_acc,
                                             const KV* k_cache,
                                             float* out) {
    const i64 first_slot = (static_cast<i64>(t) * n_heads + head) * n_splits;
    const float sink = bf16_to_f32(sinks[head]);
    float max_score = sink; // the sink takes part in the max, so no term can overflow
    for (int s = 0; s < n_splits; ++s) {
        max_score = fmaxf(max_score, __ldcg(partial_stats + (first_slot + s) * 2));
    }
    float denom = expf(sink - max_score);
    float merged[kMaxDimsPerLane] = {};
    for (int s = 0; s < n_splits; ++s) {
        const float factor = expf(__ldcg(partial_stats + (first_slot + s) * 2) - max_score);
        denom += __ldcg(partial_stats + (first_slot + s) * 2 + 1) * factor;
#pragma unroll
        for (int i = 0; i < kMaxDimsPerLane; ++i) {
            const int d = lane + 32 * i;
            if (d < head_dim) {
                merged[i] += __ldcg(partial_acc + (first_slot + s) * head_dim + d) * factor;
            }
        }
    }
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < head_dim) {
            out[(static_cast<i64>(t) * n_heads + head) * head_dim + d] = kv_round(k_cache, merged[i] / denom);
        }
    }
}

// The splits of query heads first_head .. first_head + n_merged − 1 of token t merged with their sinks by the
// whole block, for head_dim a multiple of 4, with every load of a phase in flight at once: the splits' states go
// to shared memory, a warp per head turns them into the factors of its splits, then a thread per 4 dims of a head
// walks the splits' outputs 16 at a time. One warp per head walking 64 splits of 64 dims one by one was a tail of
// several µs after the last split block, with the rest of the card idle. `scratch` (shared memory) holds
// 2·n_merged·n_splits + n_merged floats. Partials of other blocks are read from L2 (__ldcg) after the fence of
// last_split_block. Every thread of the block must call it.
template <typename KV>
__device__ __forceinline__ void merge_splits_block(int t,
                                                   int first_head,
                                                   int n_merged,
                                                   int n_heads,
                                                   int n_splits,
                                                   int head_dim,
                                                   const u16* sinks,
                                                   const float* partial_stats,
                                                   const float* partial_acc,
                                                   const KV* k_cache,
                                                   float* out,
                                                   float* scratch) {
    float* factor = scratch;                         // [n_merged][n_splits]: the max first, then the factor
    float* split_sum = factor + n_merged * n_splits; // [n_merged][n_splits]
    float* inverse_denom = split_sum + n_merged * n_splits;
    const i64 first_slot = (static_cast<i64>(t) * n_heads + first_head) * n_splits;
    const float2* stats = reinterpret_cast<const float2*>(partial_stats) + first_slot;
    for (int i = threadIdx.x; i < n_merged * n_splits; i += blockDim.x) {
        const float2 state = __ldcg(stats + i);
        factor[i] = state.x;
        split_sum[i] = state.y;
    }
    __syncthreads();
    const int lane = threadIdx.x & 31;
    for (int h = threadIdx.x >> 5; h < n_merged; h += blockDim.x >> 5) {
        const float sink = bf16_to_f32(sinks[first_head + h]);
        float max_score = sink; // the sink takes part in the max, so no term can overflow
        for (int s = lane; s < n_splits; s += 32) {
            max_score = fmaxf(max_score, factor[h * n_splits + s]);
        }
        max_score = warp_max(max_score);
        float denom = 0.0f;
        for (int s = lane; s < n_splits; s += 32) {
            const float f = expf(factor[h * n_splits + s] - max_score); // empty splits: max −inf, sum 0
            factor[h * n_splits + s] = f;
            denom += split_sum[h * n_splits + s] * f;
        }
        denom = warp_sum(denom) + expf(sink - max_score);
        if (lane == 0) {
            inverse_denom[h] = 1.0f / denom;
        }
    }
    __syncthreads();
    const int quads = head_dim / 4;
    for (int i = threadIdx.x; i < n_merged * quads; i += blockDim.x) {
        const int h = i / quads;
        const int d = (i - h * quads) * 4;
        const float* acc_of = partial_acc + (first_slot + static_cast<i64>(h) * n_splits) * head_dim + d;
        const float* factor_of = factor + h * n_splits;
        float4 merged = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll 16
        for (int s = 0; s < n_splits; ++s) {
            const float4 acc = __ldcg(reinterpret_cast<const float4*>(acc_of + static_cast<i64>(s) * head_dim));
            const float f = factor_of[s];
            merged.x += acc.x * f;
            merged.y += acc.y * f;
            merged.z += acc.z * f;
            merged.w += acc.w * f;
        }
        const float scale = inverse_denom[h];
        float* dst = out + (static_cast<i64>(t) * n_heads + first_head + h) * head_dim + d;
        *reinterpret_cast<float4*>(dst) =
            make_float4(kv_round(k_cache, merged.x * scale), kv_round(k_cache, merged.y * scale),
                        kv_round(k_cache, merged.z * scale), kv_round(k_cache, merged.w * scale));
    }
}

} // namespace tllm_dev
