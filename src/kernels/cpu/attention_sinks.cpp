// Attention with a learned sink logit per query head, over a bf16 (or f32) KV cache: one exact two-pass
// softmax per (token, head) in f32. The pairs are independent, so they are spread over the pool.
#include "core/check.h"
#include "core/dtype.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tllm::cpu {
namespace {

constexpr int64_t kPairGrain = 4; // (token, head) pairs per chunk at least: a decode step has 64

inline float load(uint16_t bf16_bits) { return bf16_to_f32(bf16_bits); }
inline float load(float value) { return value; }

// Eight partial sums keep the dependency chains short and let the compiler vectorize.
template <typename KvT> float dot_q_k(const float* q, const KvT* k, int64_t d) {
    float lanes[8] = {};
    int64_t i = 0;
    for (; i + 8 <= d; i += 8) {
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) {
            lanes[l] += q[i + l] * load(k[i + l]);
        }
    }
    float sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    for (; i < d; ++i) {
        sum += q[i] * load(k[i]);
    }
    return sum;
}

// Cache rows of a sequence's positions: the position itself in a contiguous cache.
struct ContiguousRows {
    int64_t operator()(int64_t position) const { return position; }
};

// In a paged cache: slot position % block_tokens of block table[position / block_tokens], blocks block_rows apart.
struct PagedRows {
    const int32_t* block_table;
    int64_t block_tokens;
    int64_t block_rows;
    int64_t operator()(int64_t position) const {
        const int32_t block = block_table[position / block_tokens];
        TLLM_CHECK(block >= 0, "attention reads position {}, whose block was released", position);
        return block * block_rows + position % block_tokens;
    }
};

// KvT: uint16_t (bf16 bits) for the model's cache, float for the float32 reference precision.
template <typename KvT, typename RowOf>
void attention_sinks_impl(ThreadPool& pool,
                          const float* q,
                          const int32_t* positions,
                          int64_t n_tokens,
                          int64_t n_heads,
                          int64_t n_kv_heads,
                          int64_t head_dim,
                          const KvT* k_cache,
                          const KvT* v_cache,
                          const uint16_t* sinks,
                          int64_t window,
                          float scale,
                          float* out,
                          RowOf row_of) {
    TLLM_CHECK(n_tokens >= 0 && head_dim > 0 && window >= 0, "bad shape tokens={} dim={} window={}", n_tokens, head_dim,
               window);
    TLLM_CHECK(n_kv_heads > 0 && n_heads % n_kv_heads == 0, "{} query heads do not group over {} kv heads", n_heads,
               n_kv_heads);
    const int64_t group = n_heads / n_kv_heads;
    const int64_t kv_row = n_kv_heads * head_dim; // cache elements per position
    pool.parallel_for(n_tokens * n_heads, kPairGrain, [&](int64_t begin, int64_t end) {
        std::vector<float> scores;                             // [allowed keys] of the current pair
        std::vector<float> acc(static_cast<size_t>(head_dim)); // [head_dim] Σ e^(s−m)·v
        for (int64_t pair = begin; pair < end; ++pair) {
            const int64_t t = pair / n_heads;
            const int64_t h = pair % n_heads;
            const int64_t p = positions[t];
            TLLM_CHECK(p >= 0, "negative position {}", p);
            const int64_t first = window > 0 ? std::max<int64_t>(0, p - window + 1) : 0;
            const float* qv = q + pair * head_dim;
            const KvT* keys = k_cache + (h / group) * head_dim;
            const KvT* values = v_cache + (h / group) * head_dim;
            const float sink = bf16_to_f32(sinks[h]);

            scores.resize(static_cast<size_t>(p - first + 1));
            float max_score = sink; // the sink takes part in the max, so e^(sink−m) cannot overflow
            for (int64_t j = first; j <= p; ++j) {
                float s = scale * dot_q_k(qv, keys + row_of(j) * kv_row, head_dim);
                scores[static_cast<size_t>(j - first)] = s;
                max_score = std::max(max_score, s);
            }
            std::fill(acc.begin(), acc.end(), 0.0f);
            float denom = 0.0f;
            for (int64_t j = first; j <= p; ++j) {
                float e = std::exp(scores[static_cast<size_t>(j - first)] - max_score);
                denom += e;
                const KvT* v = values + row_of(j) * kv_row;
                for (int64_t i = 0; i < head_dim; ++i) {
                    acc[static_cast<size_t>(i)] += e * load(v[i]);
                }
            }
            denom += std::exp(sink - max_score);
            float* o = out + pair * head_dim;
            for (int64_t i = 0; i < head_dim; ++i) {
                o[i] = acc[static_cast<size_t>(i)] / denom;
            }
        }
    });
}

} // namespace

void attention_sinks(ThreadPool& pool,
                     const float* q,
                     const int32_t* positions,
                     int64_t n_tokens,
                     int64_t n_heads,
                     int64_t n_kv_heads,
                     int64_t head_dim,
                     const uint16_t* k_cache,
                     const uint16_t* v_cache,
                     const uint16_t* sinks,
                     int64_t window,
                     float scale,
                     float* out) {
    attention_sinks_impl(pool, q, positions, n_tokens, n_heads, n_kv_heads, head_dim, k_cache, v_cache, sinks, window,
                         scale, out, ContiguousRows{});
}

void attention_sinks(ThreadPool& pool,
                     const float* q,
                     const int32_t* positions,
                     int64_t n_tokens,
                     int64_t n_heads,
                     int64_t n_kv_heads,
                     int64_t head_dim,
                     const float* k_cache,
                     const float* v_cache,
                     const uint16_t* sinks,
                     int64_t window,
                     float scale,
                     float* out) {
    attention_sinks_impl(pool, q, positions, n_tokens, n_heads, n_kv_heads, head_dim, k_cache, v_cache, sinks, window,
                         scale, out, ContiguousRows{});
}

template <typename KvT>
void attention_sinks_paged(ThreadPool& pool,
                           const float* q,
                           const int32_t* positions,
                           int64_t n_tokens,
                           int64_t n_heads,
                           int64_t n_kv_heads,
                           int64_t head_dim,
                           const KvT* k_cache,
                           const KvT* v_cache,
                           const int32_t* block_table,
                           int64_t block_tokens,
                           int64_t block_rows,
                           const uint16_t* sinks,
                           int64_t window,
                           float scale,
                           float* out) {
    TLLM_CHECK(block_tokens > 0 && block_rows >= block_tokens,
               "attention_sinks_paged: blocks of {} tokens, {} rows apart", block_tokens, block_rows);
    attention_sinks_impl(pool, q, positions, n_tokens, n_heads, n_kv_heads, head_dim, k_cache, v_cache, sinks, window,
                         scale, out, PagedRows{block_table, block_tokens, block_rows});
}
template void attention_sinks_paged<uint16_t>(ThreadPool&,
                                              const float*,
                                              const int32_t*,
                                              int64_t,
                                              int64_t,
                                              int64_t,
                                              int64_t,
                                              const uint16_t*,
                                              const uint16_t*,
                                              const int32_t*,
                                              int64_t,
                                              int64_t,
                                              const uint16_t*,
                                              int64_t,
                                              float,
                                              float*);
template void attention_sinks_paged<float>(ThreadPool&,
                                           const float*,
                                           const int32_t*,
                                           int64_t,
                                           int64_t,
                                           int64_t,
                                           int64_t,
                                           const float*,
                                           const float*,
                                           const int32_t*,
                                           int64_t,
                                           int64_t,
                                           const uint16_t*,
                                           int64_t,
                                           float,
                                           float*);

} // namespace tllm::cpu
