// attention_sinks against a double-precision softmax over [scores, sink] with the sink column
// dropped. Tolerance per output: |out − ref| <= 1e-5 · max|v| · (1 + scale · max_j Σ_i |q_i k_ji|):
// an f32 score error relative to its absolute-value sum moves each softmax weight by that much
// relatively, and the outputs are weighted means of v.
#include "core/thread_pool.h"
#include "kernel_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <type_traits>

namespace tllm::cpu {
namespace {

using test_util::random_bf16;
using test_util::random_floats;

struct Case {
    std::vector<int32_t> positions;
    int64_t n_heads, n_kv_heads, head_dim, window;
    float sink_low, sink_high; // sinks drawn uniformly from this range
};

// f32_cache: run the float-cache overload on the same (bf16-valued, so exactly equal) cache.
void check(ThreadPool& pool, const Case& c, uint64_t seed, bool f32_cache = false) {
    Rng rng(seed);
    const int64_t n = static_cast<int64_t>(c.positions.size());
    // Exactly max(positions) + 1 cache rows, so a read past the last key trips the sanitizers.
    const int64_t n_ctx = *std::max_element(c.positions.begin(), c.positions.end()) + 1;
    const int64_t kv_row = c.n_kv_heads * c.head_dim;
    const float scale = 0.125f;
    std::vector<float> q = random_floats(rng, n * c.n_heads * c.head_dim, -3.0f, 3.0f); // [n, heads, dim]
    std::vector<uint16_t> k_cache = random_bf16(rng, n_ctx * kv_row, -1.0f, 1.0f);      // [ctx, kv, dim]
    std::vector<uint16_t> v_cache = random_bf16(rng, n_ctx * kv_row, -2.0f, 2.0f);      // [ctx, kv, dim]
    std::vector<uint16_t> sinks = random_bf16(rng, c.n_heads, c.sink_low, c.sink_high); // [heads]
    std::vector<float> out(q.size(), NAN);
    if (f32_cache) {
        std::vector<float> k_f32(k_cache.size()), v_f32(v_cache.size());
        for (size_t i = 0; i < k_cache.size(); ++i) {
            k_f32[i] = bf16_to_f32(k_cache[i]);
            v_f32[i] = bf16_to_f32(v_cache[i]);
        }
        attention_sinks(pool, q.data(), c.positions.data(), n, c.n_heads, c.n_kv_heads, c.head_dim, k_f32.data(),
                        v_f32.data(), sinks.data(), c.window, scale, out.data());
    } else {
        attention_sinks(pool, q.data(), c.positions.data(), n, c.n_heads, c.n_kv_heads, c.head_dim, k_cache.data(),
                        v_cache.data(), sinks.data(), c.window, scale, out.data());
    }

    const int64_t group = c.n_heads / c.n_kv_heads;
    for (int64_t t = 0; t < n; ++t) {
        const int64_t p = c.positions[t];
        const int64_t first = c.window > 0 ? std::max<int64_t>(0, p - c.window + 1) : 0;
        for (int64_t h = 0; h < c.n_heads; ++h) {
            const float* qv = &q[(t * c.n_heads + h) * c.head_dim];
            const int64_t kvh = h / group;
            std::vector<double> scores;
            double max_abs_sum = 0.0, vmax = 0.0;
            const double sink = bf16_to_f32(sinks[h]);
            double m = sink;
            for (int64_t j = first; j <= p; ++j) {
                double dot = 0.0, abs_sum = 0.0;
                for (int64_t i = 0; i < c.head_dim; ++i) {
                    double term = static_cast<double>(qv[i]) * bf16_to_f32(k_cache[j * kv_row + kvh * c.head_dim + i]);
                    dot += term;
                    abs_sum += std::fabs(term);
                }
                scores.push_back(scale * dot);
                m = std::max(m, scale * dot);
                max_abs_sum = std::max(max_abs_sum, scale * abs_sum);
            }
            double denom = std::exp(sink - m);
            for (double s : scores) {
                denom += std::exp(s - m);
            }
            for (int64_t i = 0; i < c.head_dim; ++i) {
                double ref = 0.0;
                for (int64_t j = first; j <= p; ++j) {
                    double v = bf16_to_f32(v_cache[j * kv_row + kvh * c.head_dim + i]);
                    ref += std::exp(scores[static_cast<size_t>(j - first)] - m) * v;
                    vmax = std::max(vmax, std::fabs(v));
                }
                ref /= denom;
                double got = out[(t * c.n_heads + h) * c.head_dim + i];
                double tol = 1e-5 * std::max(vmax, 1e-3) * (1.0 + max_abs_sum);
                ASSERT_LE(std::fabs(got - ref), tol)
                    << "threads=" << pool.n_threads() << " f32_cache=" << f32_cache << " window=" << c.window
                    << " heads=" << c.n_heads << "/" << c.n_kv_heads << " token " << t << " (position " << p
                    << ") head " << h << " index " << i << ": got " << got << " ref " << ref;
            }
        }
    }
}

TEST(AttentionSinks, MatchesReference) {
    const Case cases[] = {
        // Decode, full attention, GQA 4.
        {{39}, 8, 2, 64, 0, -2.0f, 2.0f},
        // Decode with a window shorter than the context, and a window of one (only the token itself).
        {{39}, 8, 2, 64, 5, -2.0f, 2.0f},
        {{39}, 8, 2, 64, 1, -2.0f, 2.0f},
        // Prefill with causal masking, full and windowed; window longer than the context.
        {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 8, 2, 64, 0, -2.0f, 2.0f},
        {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 8, 2, 64, 4, -2.0f, 2.0f},
        {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 8, 2, 64, 100, -2.0f, 2.0f},
        // Scattered positions, GQA 6 and no grouping, small head_dim with an 8-lane tail.
        {{3, 17, 25}, 6, 1, 16, 0, -2.0f, 2.0f},
        {{3, 17, 25}, 4, 4, 12, 7, -2.0f, 2.0f},
        // Sinks that dominate the softmax (outputs shrink towards 0) and ones that vanish.
        {{0, 5, 20}, 8, 2, 64, 0, 25.0f, 30.0f},
        {{0, 5, 20}, 8, 2, 64, 8, -30.0f, -25.0f},
    };
    for (int threads : {1, 3}) {
        ThreadPool pool(threads);
        uint64_t seed = 1;
        for (const Case& c : cases) {
            check(pool, c, seed, false);
            check(pool, c, seed++, true);
        }
    }
}

TEST(AttentionSinks, SinkTakesItsShareOfTheDenominator) {
    // q = 0 makes every score 0: out = Σ v_j / (count + e^sink) with no rounding-sensitive structure.
    ThreadPool pool(1);
    const int64_t dim = 8;
    std::vector<float> q(dim, 0.0f);
    std::vector<int32_t> positions = {2};
    std::vector<uint16_t> k_cache(3 * dim, f32_to_bf16_bits(0.5f));
    std::vector<uint16_t> v_cache(3 * dim);
    for (int64_t j = 0; j < 3; ++j) {
        for (int64_t i = 0; i < dim; ++i) {
            v_cache[j * dim + i] = f32_to_bf16_bits(static_cast<float>(j + 1));
        }
    }
    std::vector<uint16_t> sinks = {f32_to_bf16_bits(std::log(5.0f))};
    std::vector<float> out(dim, NAN);
    attention_sinks(pool, q.data(), positions.data(), 1, 1, 1, dim, k_cache.data(), v_cache.data(), sinks.data(), 0,
                    0.125f, out.data());
    const double sink = bf16_to_f32(sinks[0]);
    const double want = 6.0 / (3.0 + std::exp(sink)); // (1 + 2 + 3) / (3 + ~5)
    for (int64_t i = 0; i < dim; ++i) {
        ASSERT_NEAR(out[i], want, 1e-6) << "index " << i;
    }
}

// The paged cache gives the contiguous cache's result bit for bit: rows scattered over a shuffled block table,
// blocks 3 rows longer than their tokens (as if they held other layers), unused rows filled with NaN, blocks
// before every query's window released (−1).
template <typename KvT> void check_paged(ThreadPool& pool, int64_t window, int64_t block_tokens, uint64_t seed) {
    const int64_t block_rows = block_tokens + 3;
    Rng rng(seed);
    const int64_t n_heads = 8, n_kv_heads = 2, head_dim = 16;
    const int64_t kv_row = n_kv_heads * head_dim;
    std::vector<int32_t> positions = {37, 38, 39, 40, 41}; // a prefill chunk after 37 cached positions
    const int64_t n = static_cast<int64_t>(positions.size());
    const int64_t n_ctx = positions.back() + 1;
    const std::vector<float> q = random_floats(rng, n * n_heads * head_dim, -3.0f, 3.0f);
    const std::vector<uint16_t> k_bits = random_bf16(rng, n_ctx * kv_row, -1.0f, 1.0f);
    const std::vector<uint16_t> v_bits = random_bf16(rng, n_ctx * kv_row, -2.0f, 2.0f);
    const std::vector<uint16_t> sinks = random_bf16(rng, n_heads, -1.0f, 2.0f);
    auto as_kv = [](const std::vector<uint16_t>& bits) {
        std::vector<KvT> out(bits.size());
        for (size_t i = 0; i < bits.size(); ++i) {
            if constexpr (std::is_same_v<KvT, float>) {
                out[i] = bf16_to_f32(bits[i]);
            } else {
                out[i] = bits[i];
            }
        }
        return out;
    };
    const std::vector<KvT> k = as_kv(k_bits), v = as_kv(v_bits);
    std::vector<float> want(q.size(), NAN);
    attention_sinks(pool, q.data(), positions.data(), n, n_heads, n_kv_heads, head_dim, k.data(), v.data(),
                    sinks.data(), window, 0.25f, want.data());

    const int64_t used_blocks = (n_ctx + block_tokens - 1) / block_tokens;
    const int64_t n_blocks = used_blocks + 5;
    std::vector<int32_t> order(static_cast<size_t>(n_blocks));
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = n_blocks - 1; i > 0; --i) { // Fisher-Yates with the test's generator
        std::swap(order[static_cast<size_t>(i)], order[rng.next() % static_cast<uint64_t>(i + 1)]);
    }
    std::vector<int32_t> table(order.begin(), order.begin() + used_blocks);
    const KvT poison = std::is_same_v<KvT, float> ? static_cast<KvT>(NAN) : static_cast<KvT>(0x7fc0);
    std::vector<KvT> paged_k(static_cast<size_t>(n_blocks * block_rows * kv_row), poison);
    std::vector<KvT> paged_v = paged_k;
    for (int64_t p = 0; p < n_ctx; ++p) {
        const int64_t row = table[static_cast<size_t>(p / block_tokens)] * block_rows + p % block_tokens;
        std::copy_n(k.begin() + p * kv_row, kv_row, paged_k.begin() + row * kv_row);
        std::copy_n(v.begin() + p * kv_row, kv_row, paged_v.begin() + row * kv_row);
    }
    if (window > 0) {
        const int64_t first_seen = std::max<int64_t>(0, positions.front() - window + 1);
        for (int64_t b = 0; (b + 1) * block_tokens <= first_seen; ++b) {
            table[static_cast<size_t>(b)] = -1;
        }
    }
    std::vector<float> got(q.size(), NAN);
    attention_sinks_paged<KvT>(pool, q.data(), positions.data(), n, n_heads, n_kv_heads, head_dim, paged_k.data(),
                               paged_v.data(), table.data(), block_tokens, block_rows, sinks.data(), window, 0.25f,
                               got.data());
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
        << "window " << window << ", blocks of " << block_tokens;
}

TEST(AttentionSinks, PagedCacheMatchesContiguousBitForBit) {
    ThreadPool pool(2);
    uint64_t seed = 40;
    for (int64_t window : {0, 8, 128}) {
        for (int64_t block_tokens : {1, 4, 16, 64}) {
            check_paged<uint16_t>(pool, window, block_tokens, ++seed);
            check_paged<float>(pool, window, block_tokens, ++seed);
        }
    }
}

} // namespace
} // namespace tllm::cpu
