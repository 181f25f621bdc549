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
// attention_sinks_split_f32kv is the f32 reference's variant: f32 caches, output not rounded. bf16 caches with
// head_dim 64 or 128 take the tensor-core kernel of bf16kv_attention_sinks_split_mma.cu instead.
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
                                                float* out)           // [n, n_heads, head_dim]
{
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
        const KV* k_row = k_cache + static_cast<i64>(j) * kv_width + kv_head * head_dim;
        const KV* v_row = v_cache + static_cast<i64>(j) * kv_width + kv_head * head_dim;
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

} // namespace

#define TLLM_ATTENTION_SPLIT(NAME, KV)                                                                                 \
    TLLM_KERNEL void NAME(const float* q, int q_stride, const i32* positions, int n_heads, int n_kv_heads,             \
                          int head_dim, const KV* k_cache, const KV* v_cache, int window, float scale,                 \
                          const u16* sinks, float* partial_stats, float* partial_acc, int* tickets, float* out) {      \
        attention_split<KV>(q, q_stride, positions, n_heads, n_kv_heads, head_dim, k_cache, v_cache, window, scale,    \
                            sinks, partial_stats, partial_acc, tickets, out);                                          \
    }
TLLM_ATTENTION_SPLIT(attention_sinks_split, u16)
TLLM_ATTENTION_SPLIT(attention_sinks_split_f32kv, float)
