// OpKernels' attention launches: RoPE with the KV write, and attention with sinks over contiguous and paged
// caches (the kernels of ops/*attention*.cu and f32_rope_kv_write.cu).
#include "core/check.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/ops_launch.h"

#include <algorithm>
#include <type_traits>

namespace tllm::cuda {
namespace {

using ops_detail::ceil_div;
using ops_detail::launch_dependent;

constexpr unsigned kThreads = 256;
// (token, query head) rows per block of the prefill attention kernel: 4 warps of 2 tiles of 16 (head_dim 64) or 1.
int prefill_attention_rows(int head_dim) { return head_dim <= 64 ? 128 : 64; }
// Its dynamic shared memory: 3 stages (2 for head_dim 128) of K and V tiles of 64 keys, rows padded by 8.
unsigned prefill_attention_shared_bytes(int head_dim) { return (head_dim <= 64 ? 3 : 2) * 2 * 64 * (head_dim + 8) * 2; }
// Query heads per kv head that the tensor-core split kernel takes (the 16 rows of an MMA tile).
constexpr unsigned kMaxTiledAttentionGroup = 16;
// Keys per tile of the CUDA-core tiled split kernel and per stage of the tensor-core one.
constexpr int kTiledKeys = 32;
constexpr int kMmaStageKeys = 64;
// Dynamic shared memory of the tensor-core split kernel (ops/bf16kv_attention_sinks_split_mma.cu): 3 stages
// (2 for head_dim 128) of K and V tiles of 64 keys, rows padded by 8.
unsigned split_mma_shared_bytes(int head_dim) { return (head_dim <= 64 ? 3 : 2) * 2 * 64 * (head_dim + 8) * 2; }

} // namespace

template <typename KV>
Status OpKernels::rope_kv_write(CUstream stream,
                                float* qkv,
                                const int32_t* positions,
                                int n,
                                int n_heads,
                                int n_kv_heads,
                                int head_dim,
                                const float* inv_freq,
                                float concentration,
                                KV* k_cache,
                                KV* v_cache) const {
    TLLM_CHECK(n > 0 && head_dim % 2 == 0 && head_dim / 2 <= 256, "rope_kv_write n={} head_dim={}", n, head_dim);
    const unsigned pairs = static_cast<unsigned>((n_heads + 2 * n_kv_heads) * head_dim / 2);
    const CUfunction function = std::is_same_v<KV, float> ? rope_f32kv_ : rope_;
    return launch_dependent(context_, pdl_, function, {static_cast<unsigned>(n), ceil_div(pairs, kThreads)}, {kThreads},
                            0, stream, qkv, positions, n_heads, n_kv_heads, head_dim, inv_freq, concentration, k_cache,
                            v_cache);
}

template <typename KV>
Status OpKernels::attention_sinks(CUstream stream,
                                  const float* q,
                                  int q_stride,
                                  const int32_t* positions,
                                  int n,
                                  int n_heads,
                                  int n_kv_heads,
                                  int head_dim,
                                  const KV* k_cache,
                                  const KV* v_cache,
                                  const uint16_t* sinks,
                                  int window,
                                  float scale,
                                  int n_splits,
                                  float* partial_stats,
                                  float* partial_acc,
                                  int32_t* tickets,
                                  float* out,
                                  int max_keys) const {
    TLLM_CHECK(n > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && head_dim <= 128 && n_splits > 0 &&
                   n_splits <= kMaxAttentionSplits,
               "attention_sinks n={} heads={}/{} head_dim={} splits={}", n, n_heads, n_kv_heads, head_dim, n_splits);
    const unsigned group = static_cast<unsigned>(n_heads / n_kv_heads);
    TLLM_CHECK(group <= 32, "attention_sinks: {} query heads per kv head (at most 32)", group);
    if constexpr (std::is_same_v<KV, uint16_t>) {
        if (n >= kPrefillAttentionTokens && (head_dim == 64 || head_dim == 128)) {
            const unsigned row_blocks = ceil_div(n * static_cast<int>(group), prefill_attention_rows(head_dim));
            const KvRows contiguous;
            const int32_t* no_plan = nullptr;
            return launch_dependent(context_, pdl_, attention_prefill_[head_dim == 64 ? 0 : 1],
                                    {row_blocks * static_cast<unsigned>(n_kv_heads)}, {128},
                                    prefill_attention_shared_bytes(head_dim), stream, q, q_stride, positions, n,
                                    n_heads, n_kv_heads, k_cache, v_cache, window, scale, sinks, out, contiguous,
                                    no_plan);
        }
        if ((head_dim == 64 || head_dim == 128) && group <= kMaxTiledAttentionGroup) {
            const SplitLaunch split = split_launch(false, head_dim, group, window, max_keys);
            return launch_dependent(context_, pdl_, split.function,
                                    {static_cast<unsigned>(n * n_kv_heads), static_cast<unsigned>(n_splits)},
                                    split.block, split.shared_bytes, stream, q, q_stride, positions, n_heads,
                                    n_kv_heads, k_cache, v_cache, window, scale, sinks, partial_stats, partial_acc,
                                    tickets, out);
        }
    }
    const CUfunction function = std::is_same_v<KV, float> ? attention_split_f32kv_ : attention_split_;
    return launch_dependent(context_, pdl_, function,
                            {static_cast<unsigned>(n * n_kv_heads), static_cast<unsigned>(n_splits)}, {32 * group}, 0,
                            stream, q, q_stride, positions, n_heads, n_kv_heads, head_dim, k_cache, v_cache, window,
                            scale, sinks, partial_stats, partial_acc, tickets, out);
}
template <typename KV>
Status OpKernels::rope_kv_write_paged(CUstream stream,
                                      float* qkv,
                                      const int32_t* positions,
                                      int n,
                                      int n_heads,
                                      int n_kv_heads,
                                      int head_dim,
                                      const float* inv_freq,
                                      float concentration,
                                      KV* k_cache,
                                      KV* v_cache,
                                      const KvRows& rows) const {
    TLLM_CHECK(n > 0 && head_dim % 2 == 0 && head_dim / 2 <= 256 && rows.tables != nullptr && rows.block_tokens > 0 &&
                   rows.block_rows >= rows.block_tokens,
               "rope_kv_write_paged n={} head_dim={} blocks of {} tokens, {} rows", n, head_dim, rows.block_tokens,
               rows.block_rows);
    const int pairs = (n_heads + 2 * n_kv_heads) * (head_dim / 2);
    const CUfunction function = std::is_same_v<KV, float> ? rope_paged_f32kv_ : rope_paged_;
    return launch_dependent(context_, pdl_, function, {static_cast<unsigned>(n), ceil_div(pairs, kThreads)}, {kThreads},
                            0, stream, qkv, positions, n_heads, n_kv_heads, head_dim, inv_freq, concentration, k_cache,
                            v_cache, rows);
}

template <typename KV>
Status OpKernels::attention_sinks_paged(CUstream stream,
                                        const float* q,
                                        int q_stride,
                                        const int32_t* positions,
                                        int n,
                                        int n_heads,
                                        int n_kv_heads,
                                        int head_dim,
                                        const KV* k_cache,
                                        const KV* v_cache,
                                        const uint16_t* sinks,
                                        int window,
                                        float scale,
                                        int n_splits,
                                        float* partial_stats,
                                        float* partial_acc,
                                        int32_t* tickets,
                                        float* out,
                                        const KvRows& rows,
                                        int max_keys) const {
    const unsigned group = n_kv_heads > 0 ? static_cast<unsigned>(n_heads / n_kv_heads) : 0;
    TLLM_CHECK(n > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0 && n_splits > 0 &&
                   n_splits <= kMaxAttentionSplits && rows.tables != nullptr && rows.block_tokens > 0 &&
                   rows.block_rows >= rows.block_tokens,
               "attention_sinks_paged n={} heads={}/{} splits={}", n, n_heads, n_kv_heads, n_splits);
    if constexpr (std::is_same_v<KV, float>) {
        TLLM_CHECK(head_dim <= 128 && group <= 32, "attention_sinks_paged (f32) head_dim={} group={}", head_dim, group);
        return launch_dependent(context_, pdl_, attention_split_paged_f32kv_,
                                {static_cast<unsigned>(n * n_kv_heads), static_cast<unsigned>(n_splits)}, {32 * group},
                                0, stream, q, q_stride, positions, n_heads, n_kv_heads, head_dim, k_cache, v_cache,
                                window, scale, sinks, partial_stats, partial_acc, tickets, out, rows);
    } else {
        TLLM_CHECK((head_dim == 64 || head_dim == 128) && group <= kMaxTiledAttentionGroup,
                   "attention_sinks_paged head_dim={} group={}", head_dim, group);
        const SplitLaunch split = split_launch(true, head_dim, group, window, max_keys);
        return launch_dependent(context_, pdl_, split.function,
                                {static_cast<unsigned>(n * n_kv_heads), static_cast<unsigned>(n_splits)}, split.block,
                                split.shared_bytes, stream, q, q_stride, positions, n_heads, n_kv_heads, k_cache,
                                v_cache, window, scale, sinks, partial_stats, partial_acc, tickets, out, rows);
    }
}

std::vector<int32_t> OpKernels::prefill_attention_plan(std::span<const PrefillRun> runs, int group, int head_dim) {
    struct Block {
        int32_t last_position; // of the block's last token: the most keys any of its rows sees
        int32_t first_token;
        int32_t n_tokens;
        int32_t row_block;
    };
    std::vector<Block> blocks;
    const int rows = prefill_attention_rows(head_dim);
    for (const PrefillRun& run : runs) {
        TLLM_CHECK(run.n_tokens >= kPrefillAttentionTokens && run.first_token >= 0 && run.first_position >= 0,
                   "prefill run of {} tokens at step row {}, position {}", run.n_tokens, run.first_token,
                   run.first_position);
        const int64_t run_rows = int64_t{run.n_tokens} * group;
        for (int32_t b = 0; int64_t{b} * rows < run_rows; ++b) {
            const int64_t last_row = std::min<int64_t>(run_rows, int64_t{b + 1} * rows) - 1;
            blocks.push_back(
                {run.first_position + static_cast<int32_t>(last_row / group), run.first_token, run.n_tokens, b});
        }
    }
    std::stable_sort(blocks.begin(), blocks.end(),
                     [](const Block& a, const Block& b) { return a.last_position > b.last_position; });
    std::vector<int32_t> plan;
    plan.reserve(blocks.size() * 4);
    for (const Block& block : blocks) {
        plan.insert(plan.end(), {block.first_token, block.n_tokens, block.row_block, 0});
    }
    return plan;
}

Status OpKernels::attention_sinks_prefill_paged(CUstream stream,
                                                const float* q,
                                                int q_stride,
                                                const int32_t* positions,
                                                int n_heads,
                                                int n_kv_heads,
                                                int head_dim,
                                                const uint16_t* k_cache,
                                                const uint16_t* v_cache,
                                                const uint16_t* sinks,
                                                int window,
                                                float scale,
                                                float* out,
                                                const KvRows& rows,
                                                const int32_t* plan,
                                                int plan_blocks) const {
    TLLM_CHECK(n_kv_heads > 0 && n_heads % n_kv_heads == 0 && (head_dim == 64 || head_dim == 128) && plan != nullptr &&
                   plan_blocks > 0 && rows.tables != nullptr && rows.block_tokens > 0 &&
                   rows.block_rows >= rows.block_tokens,
               "attention_sinks_prefill_paged heads={}/{} head_dim={} plan of {} blocks", n_heads, n_kv_heads, head_dim,
               plan_blocks);
    const int unused_n = 0;
    return launch_dependent(context_, pdl_, attention_prefill_[head_dim == 64 ? 0 : 1],
                            {static_cast<unsigned>(plan_blocks) * static_cast<unsigned>(n_kv_heads)}, {128},
                            prefill_attention_shared_bytes(head_dim), stream, q, q_stride, positions, unused_n, n_heads,
                            n_kv_heads, k_cache, v_cache, window, scale, sinks, out, rows, plan);
}

OpKernels::SplitLaunch
OpKernels::split_launch(bool paged, int head_dim, unsigned group, int window, int max_keys) const {
    const int d = head_dim == 64 ? 0 : 1;
    if (decode_key_tile(window, max_keys) == kTiledKeys) { // one warp per query head, at least 4
        return {paged ? attention_split_tiled_paged_[d] : attention_split_tiled_[d], {32 * std::max(group, 4u)}, 0};
    }
    return {paged ? attention_split_mma_paged_[d] : attention_split_mma_[d], {128}, split_mma_shared_bytes(head_dim)};
}

int OpKernels::decode_key_tile(int window, int max_keys) {
    const int keys = window > 0 ? std::min(window, max_keys) : max_keys;
    return keys < kTensorCoreDecodeKeys ? kTiledKeys : kMmaStageKeys;
}

// Every templated launch for both cache dtypes: bf16 bits and f32 (the f32 reference).
#define TLLM_ATTENTION_LAUNCHES(KV)                                                                                    \
    template Status OpKernels::rope_kv_write<KV>(CUstream, float*, const int32_t*, int, int, int, int, const float*,   \
                                                 float, KV*, KV*) const;                                               \
    template Status OpKernels::rope_kv_write_paged<KV>(CUstream, float*, const int32_t*, int, int, int, int,           \
                                                       const float*, float, KV*, KV*, const KvRows&) const;            \
    template Status OpKernels::attention_sinks<KV>(CUstream, const float*, int, const int32_t*, int, int, int, int,    \
                                                   const KV*, const KV*, const uint16_t*, int, float, int, float*,     \
                                                   float*, int32_t*, float*, int) const;                               \
    template Status OpKernels::attention_sinks_paged<KV>(CUstream, const float*, int, const int32_t*, int, int, int,   \
                                                         int, const KV*, const KV*, const uint16_t*, int, float, int,  \
                                                         float*, float*, int32_t*, float*, const KvRows&, int) const;
TLLM_ATTENTION_LAUNCHES(uint16_t)
TLLM_ATTENTION_LAUNCHES(float)

} // namespace tllm::cuda
