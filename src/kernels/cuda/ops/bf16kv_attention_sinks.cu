// Grouped-query attention with a learned sink per head over the bf16 KV cache (CPU reference:
// kernels/cpu attention_sinks). Token t at position p, head h attends keys j ≤ p (and p − j <
// window when window > 0) of kv head h / group; scores are scale·q·k; the sink joins the softmax
// denominator and contributes no value.
//
// Split-K ("flash decoding"): attention_sinks_split gives each block one (token, kv head, split):
// one warp per query head of the group reads the split's keys with an online softmax and writes
// a partial (max, sum, acc). The split ranges come from the positions in device memory, so a
// captured decode graph stays valid as the context grows. attention_sinks_combine merges the
// splits with the sink and rounds the output to bf16.
#include "common.cuh"

using namespace tllm_dev;

namespace {
constexpr int kMaxDimsPerLane = 4; // head_dim ≤ 128
}

// Grid: (n_tokens · n_kv_heads, n_splits); block: 32 · (n_heads / n_kv_heads) threads.
TLLM_KERNEL void attention_sinks_split(const float* q, // [n, q_stride]: heads at h·head_dim, rotated
                                       int q_stride,
                                       const i32* positions,
                                       int n_heads,
                                       int n_kv_heads,
                                       int head_dim,
                                       const u16* k_cache, // [capacity, n_kv_heads, head_dim]
                                       const u16* v_cache,
                                       int window,
                                       float scale,
                                       float* partial_stats, // [n, n_heads, n_splits, 2] (max, sum)
                                       float* partial_acc)   // [n, n_heads, n_splits, head_dim]
{
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
        const u16* k_row = k_cache + static_cast<i64>(j) * kv_width + kv_head * head_dim;
        const u16* v_row = v_cache + static_cast<i64>(j) * kv_width + kv_head * head_dim;
        float dot = 0.0f;
        float vv[kMaxDimsPerLane];
#pragma unroll
        for (int i = 0; i < kMaxDimsPerLane; ++i) {
            const int d = lane + 32 * i;
            const bool in = d < head_dim;
            dot += in ? qv[i] * bf16_to_f32(k_row[d]) : 0.0f;
            vv[i] = in ? bf16_to_f32(v_row[d]) : 0.0f;
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
    const i64 slot = (static_cast<i64>(t) * n_heads + head) * n_splits + split;
    if (lane == 0) {
        partial_stats[slot * 2] = running_max;
        partial_stats[slot * 2 + 1] = running_sum;
    }
#pragma unroll
    for (int i = 0; i < kMaxDimsPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < head_dim) {
            partial_acc[slot * head_dim + d] = acc[i];
        }
    }
}

// Grid: n_tokens · n_heads blocks of head_dim threads (≤ 128... any ≥ head_dim works).
TLLM_KERNEL void attention_sinks_combine(const float* partial_stats,
                                         const float* partial_acc,
                                         int n_splits,
                                         int n_heads,
                                         int head_dim,
                                         const u16* sinks, // [n_heads] bf16
                                         float* out)       // [n, n_heads, head_dim]
{
    const i64 pair = blockIdx.x; // token · n_heads + head
    const int head = static_cast<int>(pair % n_heads);
    const float sink = bf16_to_f32(sinks[head]);
    const float* stats = partial_stats + pair * n_splits * 2;
    float max_score = sink; // the sink takes part in the max, so no term can overflow
    for (int s = 0; s < n_splits; ++s) {
        max_score = fmaxf(max_score, stats[2 * s]);
    }
    float denom = expf(sink - max_score);
    for (int s = 0; s < n_splits; ++s) {
        denom += stats[2 * s + 1] * expf(stats[2 * s] - max_score);
    }
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float value = 0.0f;
        for (int s = 0; s < n_splits; ++s) {
            value += partial_acc[(pair * n_splits + s) * head_dim + d] * expf(stats[2 * s] - max_score);
        }
        out[pair * head_dim + d] = round_bf16(value / denom);
    }
}
