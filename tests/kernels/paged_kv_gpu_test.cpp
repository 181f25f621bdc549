// The paged KV cache's GPU kernels (ops.h's rope_kv_write_paged, attention_sinks_paged and
// attention_sinks_prefill_paged) against the contiguous ones and the CPU reference: a batch mixing one sequence's
// decode token with another's prefill tokens, each token with its own block table, shuffled blocks that hold several
// layers' rows, poisoned rows nobody owns, and blocks released before a sliding window.
#include "core/random.h"
#include "core/thread_pool.h"
#include "cuda_test_util.h"
#include "kernel_test_util.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <type_traits>

namespace tllm::cuda {
namespace {

using namespace test_util;
using cpu::test_util::random_bf16;
using cpu::test_util::random_floats;

constexpr int kBlockTokens = 16;
constexpr int kLayersPerBlock = 3; // this layer's rows are the second third of each block
constexpr int kLayerSlot = 1;

// Block ids 0..n−1 in a random order: sequences' blocks interleave as a pool hands them out.
std::vector<int32_t> shuffled_blocks(Rng& rng, int n_blocks) {
    std::vector<int32_t> order(static_cast<size_t>(n_blocks));
    std::iota(order.begin(), order.end(), 0);
    for (int i = n_blocks - 1; i > 0; --i) {
        std::swap(order[static_cast<size_t>(i)], order[rng.next() % static_cast<uint64_t>(i + 1)]);
    }
    return order;
}

// One check of attention_sinks_paged: a batch of sequence A's decode token at 700 and sequence B's prefill tokens
// 40..42, over shuffled blocks. KV is uint16_t (bf16 bits, output rounded to bf16) or float (the f32 reference).
template <typename KV>
void check_paged_attention(Rng& rng, ThreadPool& pool, int head_dim, int n_heads, int n_kv, int window) {
    constexpr bool kF32 = std::is_same_v<KV, float>;
    const int kv_width = n_kv * head_dim;
    const int q_width = n_heads * head_dim;
    const std::vector<int32_t> positions = {700, 40, 41, 42};
    const int ctx[2] = {701, 43};
    const int blocks[2] = {(ctx[0] + kBlockTokens - 1) / kBlockTokens, (ctx[1] + kBlockTokens - 1) / kBlockTokens};
    const int n_blocks = blocks[0] + blocks[1] + 7;
    const std::vector<int32_t> order = shuffled_blocks(rng, n_blocks);
    const int64_t block_rows = int64_t{kLayersPerBlock} * kBlockTokens;
    const size_t rows = static_cast<size_t>(n_blocks * block_rows);
    // NaN wherever nobody writes.
    const KV poison = [] {
        if constexpr (kF32) {
            return std::numeric_limits<float>::quiet_NaN();
        } else {
            return uint16_t{0x7fc0};
        }
    }();
    std::vector<KV> paged_k(rows * kv_width, poison);
    std::vector<KV> paged_v = paged_k;
    const std::vector<float> q = [&] {
        std::vector<float> out = random_floats(rng, 4 * q_width, -2.0f, 2.0f);
        for (float& v : out) {
            v = kF32 ? v : round_to_bf16(v);
        }
        return out;
    }();
    const std::vector<uint16_t> sinks = random_bf16(rng, n_heads, -1.0f, 3.0f);
    auto random_kv = [&](int64_t n) {
        if constexpr (kF32) {
            return random_floats(rng, n, -2.0f, 2.0f);
        } else {
            return random_bf16(rng, n, -2.0f, 2.0f);
        }
    };
    std::vector<int32_t> tables;
    std::vector<float> want(q.size());
    size_t next_block = 0;
    for (int s = 0; s < 2; ++s) {
        const std::vector<KV> k = random_kv(int64_t{ctx[s]} * kv_width);
        const std::vector<KV> v = random_kv(int64_t{ctx[s]} * kv_width);
        std::vector<int32_t> table(order.begin() + static_cast<ptrdiff_t>(next_block),
                                   order.begin() + static_cast<ptrdiff_t>(next_block + blocks[s]));
        next_block += static_cast<size_t>(blocks[s]);
        for (int p = 0; p < ctx[s]; ++p) {
            const size_t row = static_cast<size_t>(table[static_cast<size_t>(p / kBlockTokens)] * block_rows +
                                                   kLayerSlot * kBlockTokens + p % kBlockTokens);
            std::copy_n(k.begin() + int64_t{p} * kv_width, kv_width, paged_k.begin() + row * kv_width);
            std::copy_n(v.begin() + int64_t{p} * kv_width, kv_width, paged_v.begin() + row * kv_width);
        }
        const int first_token = s == 0 ? 0 : 1;
        const int n_tokens = s == 0 ? 1 : 3;
        cpu::attention_sinks(pool, q.data() + int64_t{first_token} * q_width, positions.data() + first_token, n_tokens,
                             n_heads, n_kv, head_dim, k.data(), v.data(), sinks.data(), window, 0.125f,
                             want.data() + int64_t{first_token} * q_width);
        if (window > 0) { // blocks every query's window has left: released
            const int first_seen = std::max(0, positions[static_cast<size_t>(first_token)] - window + 1);
            for (int b = 0; (b + 1) * kBlockTokens <= first_seen; ++b) {
                table[static_cast<size_t>(b)] = -1;
            }
        }
        tables.insert(tables.end(), table.begin(), table.end());
    }
    if (!kF32) {
        for (float& v : want) {
            v = round_to_bf16(v);
        }
    }
    const std::vector<int32_t> table_offset = {0, blocks[0], blocks[0], blocks[0]};
    DeviceBuffer dq = to_device(q), dpos = to_device(positions), dsinks = to_device(sinks);
    DeviceBuffer dk = to_device(paged_k), dv = to_device(paged_v);
    DeviceBuffer dtables = to_device(tables), doffset = to_device(table_offset);
    const int splits = 9;
    DeviceBuffer stats = poisoned<float>(size_t{4} * n_heads * splits * 2);
    DeviceBuffer acc = poisoned<float>(size_t{4} * n_heads * splits * head_dim);
    DeviceBuffer tickets = to_device(std::vector<int32_t>(size_t{4} * n_kv, 0));
    const KvRows layout{dtables.as<int32_t>(), doffset.as<int32_t>(), kBlockTokens, static_cast<int32_t>(block_rows)};
    const size_t layer_offset = size_t{kLayerSlot} * kBlockTokens * kv_width;
    // bf16: the CUDA-core tiled kernel (short bound) and the tensor-core one (no bound). f32: one kernel.
    const std::vector<int> bounds = kF32 ? std::vector<int>{std::numeric_limits<int>::max()}
                                         : std::vector<int>{2047, std::numeric_limits<int>::max()};
    for (int max_keys : bounds) {
        DeviceBuffer out = poisoned<float>(want.size());
        ASSERT_TRUE(gpu()
                        ->kernels
                        ->attention_sinks_paged(nullptr, dq.as<float>(), q_width, dpos.as<int32_t>(), 4, n_heads, n_kv,
                                                head_dim, dk.as<KV>() + layer_offset, dv.as<KV>() + layer_offset,
                                                dsinks.as<uint16_t>(), window, 0.125f, splits, stats.as<float>(),
                                                acc.as<float>(), tickets.as<int32_t>(), out.as<float>(), layout,
                                                max_keys)
                        .ok());
        SCOPED_TRACE(::testing::Message() << (kF32 ? "f32" : "bf16") << " head_dim " << head_dim << " heads " << n_heads
                                          << "/" << n_kv << " window " << window << " max_keys " << max_keys);
        expect_close(to_host<float>(out, want.size()), want, 1e-5f, 1e-4f, true, "paged attention");
        // The kernel hands every ticket back, so the next call may reuse them.
        const std::vector<int32_t> left = to_host<int32_t>(tickets, size_t{4} * n_kv);
        EXPECT_TRUE(std::all_of(left.begin(), left.end(), [](int32_t t) { return t == 0; }));
    }
}

TEST(PagedKvGpu, AttentionOverBlockTablesMatchesCpu) {
    TLLM_REQUIRE_GPU();
    ThreadPool pool(4);
    Rng rng(31);
    for (const int head_dim : {64, 128}) {
        for (const int window : {0, 128}) {
            check_paged_attention<uint16_t>(rng, pool, head_dim, head_dim == 64 ? 64 : 16, head_dim == 64 ? 8 : 2,
                                            window);
        }
    }
}

// The f32 reference's paged kernel takes every token of a step and any head_dim up to 128: gpt-oss's shapes, a
// head_dim that is no multiple of 32, and one query head per kv head.
TEST(PagedKvGpu, F32AttentionOverBlockTablesMatchesCpu) {
    TLLM_REQUIRE_GPU();
    ThreadPool pool(4);
    Rng rng(37);
    struct Shape {
        int head_dim, n_heads, n_kv;
    };
    for (const Shape shape : {Shape{64, 64, 8}, Shape{72, 12, 4}, Shape{128, 4, 4}}) {
        for (const int window : {0, 128}) {
            check_paged_attention<float>(rng, pool, shape.head_dim, shape.n_heads, shape.n_kv, window);
        }
    }
}

// The prefill attention kernel over block tables: a step of one decode token (left to the split kernel, so left
// alone) and two prefill runs, one of 37 tokens after 300 cached positions and one of 20 from position 0, each
// sequence's blocks shuffled among the others' and those before a window released.
TEST(PagedKvGpu, PrefillRunsOverBlockTablesMatchCpu) {
    TLLM_REQUIRE_GPU();
    ThreadPool pool(4);
    Rng rng(33);
    for (const int head_dim : {64, 128}) {
        for (const int window : {0, 128}) {
            const int n_heads = head_dim == 64 ? 64 : 16;
            const int n_kv = head_dim == 64 ? 8 : 2;
            const int kv_width = n_kv * head_dim;
            const int q_width = n_heads * head_dim;
            // Step rows: 0 is sequence A's decode at 700; 1..37 sequence B at 300..336; 38..57 sequence C at 0..19.
            const int first_row[3] = {0, 1, 38};
            const int n_tokens[3] = {1, 37, 20};
            const int first_position[3] = {700, 300, 0};
            const int n = 58;
            std::vector<int32_t> positions;
            for (int s = 0; s < 3; ++s) {
                for (int i = 0; i < n_tokens[s]; ++i) {
                    positions.push_back(first_position[s] + i);
                }
            }
            int blocks[3];
            int n_blocks = 5; // a few nobody owns
            for (int s = 0; s < 3; ++s) {
                blocks[s] = (first_position[s] + n_tokens[s] + kBlockTokens - 1) / kBlockTokens;
                n_blocks += blocks[s];
            }
            const std::vector<int32_t> order = shuffled_blocks(rng, n_blocks);
            const int64_t block_rows = int64_t{kLayersPerBlock} * kBlockTokens;
            const size_t rows = static_cast<size_t>(n_blocks * block_rows);
            std::vector<uint16_t> paged_k(rows * kv_width, 0x7fc0); // NaN wherever nobody writes
            std::vector<uint16_t> paged_v = paged_k;
            const std::vector<float> q = [&] {
                std::vector<float> out = random_floats(rng, int64_t{n} * q_width, -2.0f, 2.0f);
                for (float& v : out) {
                    v = round_to_bf16(v);
                }
                return out;
            }();
            const std::vector<uint16_t> sinks = random_bf16(rng, n_heads, -1.0f, 3.0f);
            std::vector<int32_t> tables;
            std::vector<int32_t> table_offset;
            std::vector<float> want(q.size());
            size_t next_block = 0;
            for (int s = 0; s < 3; ++s) {
                const int ctx = first_position[s] + n_tokens[s];
                const std::vector<uint16_t> k = random_bf16(rng, int64_t{ctx} * kv_width, -2.0f, 2.0f);
                const std::vector<uint16_t> v = random_bf16(rng, int64_t{ctx} * kv_width, -2.0f, 2.0f);
                std::vector<int32_t> table(order.begin() + static_cast<ptrdiff_t>(next_block),
                                           order.begin() + static_cast<ptrdiff_t>(next_block + blocks[s]));
                next_block += static_cast<size_t>(blocks[s]);
                for (int p = 0; p < ctx; ++p) {
                    const size_t row = static_cast<size_t>(table[static_cast<size_t>(p / kBlockTokens)] * block_rows +
                                                           kLayerSlot * kBlockTokens + p % kBlockTokens);
                    std::copy_n(k.begin() + int64_t{p} * kv_width, kv_width, paged_k.begin() + row * kv_width);
                    std::copy_n(v.begin() + int64_t{p} * kv_width, kv_width, paged_v.begin() + row * kv_width);
                }
                const int64_t q_offset = int64_t{first_row[s]} * q_width;
                const int32_t* run_positions = positions.data() + first_row[s];
                cpu::attention_sinks(pool, q.data() + q_offset, run_positions, n_tokens[s], n_heads, n_kv, head_dim,
                                     k.data(), v.data(), sinks.data(), window, 0.125f, want.data() + q_offset);
                if (window > 0) { // blocks the run's first query's window has left: released
                    const int first_seen = std::max(0, first_position[s] - window + 1);
                    for (int b = 0; (b + 1) * kBlockTokens <= first_seen; ++b) {
                        table[static_cast<size_t>(b)] = -1;
                    }
                }
                for (int i = 0; i < n_tokens[s]; ++i) {
                    table_offset.push_back(static_cast<int32_t>(tables.size()));
                }
                tables.insert(tables.end(), table.begin(), table.end());
            }
            for (float& v : want) {
                v = round_to_bf16(v);
            }
            const std::vector<OpKernels::PrefillRun> runs = {{first_row[1], n_tokens[1], first_position[1]},
                                                             {first_row[2], n_tokens[2], first_position[2]}};
            const std::vector<int32_t> plan = OpKernels::prefill_attention_plan(runs, n_heads / n_kv, head_dim);
            ASSERT_EQ(plan.size() % 4, 0u);
            DeviceBuffer dq = to_device(q), dpos = to_device(positions), dsinks = to_device(sinks);
            DeviceBuffer dk = to_device(paged_k), dv = to_device(paged_v);
            DeviceBuffer dtables = to_device(tables), doffset = to_device(table_offset), dplan = to_device(plan);
            DeviceBuffer out = poisoned<float>(want.size());
            const KvRows layout{dtables.as<int32_t>(), doffset.as<int32_t>(), kBlockTokens,
                                static_cast<int32_t>(block_rows)};
            const size_t layer_offset = size_t{kLayerSlot} * kBlockTokens * kv_width;
            SCOPED_TRACE(::testing::Message() << "head_dim " << head_dim << " window " << window);
            ASSERT_TRUE(gpu()
                            ->kernels
                            ->attention_sinks_prefill_paged(nullptr, dq.as<float>(), q_width, dpos.as<int32_t>(),
                                                            n_heads, n_kv, head_dim, dk.as<uint16_t>() + layer_offset,
                                                            dv.as<uint16_t>() + layer_offset, dsinks.as<uint16_t>(),
                                                            window, 0.125f, out.as<float>(), layout,
                                                            dplan.as<int32_t>(), static_cast<int>(plan.size() / 4))
                            .ok());
            const std::vector<float> got = to_host<float>(out, want.size());
            const auto prefill_begin = static_cast<ptrdiff_t>(q_width);
            expect_close(std::vector<float>(got.begin() + prefill_begin, got.end()),
                         std::vector<float>(want.begin() + prefill_begin, want.end()), 1e-5f, 1e-4f, true,
                         "paged prefill attention");
            EXPECT_TRUE(std::all_of(got.begin(), got.begin() + prefill_begin, [](float v) { return std::isnan(v); }))
                << "the decode token's row was written";
        }
    }
}

// rope_kv_write_paged against the contiguous rope_kv_write, bit for bit: KV uint16_t (bf16) or float (f32).
template <typename KV> void check_paged_rope(Rng& rng) {
    constexpr bool kF32 = std::is_same_v<KV, float>;
    using Bits = std::conditional_t<kF32, uint32_t, uint16_t>;
    constexpr Bits kPoison = kF32 ? 0xffffffffu : 0xffffu;
    const int n = 4, n_heads = 8, n_kv = 2, head_dim = 64;
    const int width = (n_heads + 2 * n_kv) * head_dim;
    const int kv_width = n_kv * head_dim;
    const std::vector<int32_t> positions = {700, 40, 41, 42};
    std::vector<float> qkv = random_floats(rng, int64_t{n} * width, -2.0f, 2.0f);
    for (float& v : qkv) {
        v = kF32 ? v : round_to_bf16(v);
    }
    std::vector<float> inv_freq(head_dim / 2);
    for (size_t i = 0; i < inv_freq.size(); ++i) {
        inv_freq[i] = std::pow(150000.0f, -2.0f * static_cast<float>(i) / head_dim);
    }
    // Contiguous write first (checked against the CPU by RopeKvWriteGpu), then the paged one.
    DeviceBuffer dfreq = to_device(inv_freq), dpos = to_device(positions);
    DeviceBuffer contiguous_qkv = to_device(qkv);
    DeviceBuffer ck = poisoned<KV>(size_t{701} * kv_width), cv = poisoned<KV>(size_t{701} * kv_width);
    ASSERT_TRUE(gpu()
                    ->kernels
                    ->rope_kv_write(nullptr, contiguous_qkv.as<float>(), dpos.as<int32_t>(), n, n_heads, n_kv, head_dim,
                                    dfreq.as<float>(), 1.25f, ck.as<KV>(), cv.as<KV>())
                    .ok());
    const int n_blocks = 60;
    const int64_t block_rows = int64_t{kLayersPerBlock} * kBlockTokens;
    std::vector<int32_t> tables(45 + 3, -1);
    tables[700 / kBlockTokens] = 17;    // sequence A's block of position 700
    tables[45 + 40 / kBlockTokens] = 3; // sequence B's block of positions 32..47
    const std::vector<int32_t> table_offset = {0, 45, 45, 45};
    DeviceBuffer paged_qkv = to_device(qkv), dtables = to_device(tables), doffset = to_device(table_offset);
    DeviceBuffer pk = poisoned<KV>(size_t(n_blocks * block_rows) * kv_width);
    DeviceBuffer pv = poisoned<KV>(size_t(n_blocks * block_rows) * kv_width);
    const size_t layer_offset = size_t{kLayerSlot} * kBlockTokens * kv_width;
    ASSERT_TRUE(gpu()
                    ->kernels
                    ->rope_kv_write_paged(nullptr, paged_qkv.as<float>(), dpos.as<int32_t>(), n, n_heads, n_kv,
                                          head_dim, dfreq.as<float>(), 1.25f, pk.as<KV>() + layer_offset,
                                          pv.as<KV>() + layer_offset,
                                          KvRows{dtables.as<int32_t>(), doffset.as<int32_t>(), kBlockTokens,
                                                 static_cast<int32_t>(block_rows)})
                    .ok());
    EXPECT_EQ(to_host<float>(paged_qkv, qkv.size()), to_host<float>(contiguous_qkv, qkv.size())); // rotated q
    const std::vector<Bits> want_k = to_host<Bits>(ck, size_t{701} * kv_width);
    const std::vector<Bits> want_v = to_host<Bits>(cv, size_t{701} * kv_width);
    const std::vector<Bits> got_k = to_host<Bits>(pk, size_t(n_blocks * block_rows) * kv_width);
    const std::vector<Bits> got_v = to_host<Bits>(pv, size_t(n_blocks * block_rows) * kv_width);
    const int block_of[4] = {17, 3, 3, 3};
    for (int t = 0; t < n; ++t) {
        const int p = positions[static_cast<size_t>(t)];
        const size_t row = static_cast<size_t>(block_of[t] * block_rows + kLayerSlot * kBlockTokens + p % kBlockTokens);
        for (int i = 0; i < kv_width; ++i) {
            ASSERT_EQ(got_k[row * kv_width + i], want_k[size_t(p) * kv_width + i]) << "token " << t;
            ASSERT_EQ(got_v[row * kv_width + i], want_v[size_t(p) * kv_width + i]) << "token " << t;
        }
    }
    // Nothing else was written.
    const size_t written =
        static_cast<size_t>(std::count_if(got_k.begin(), got_k.end(), [](Bits b) { return b != kPoison; }));
    EXPECT_EQ(written, size_t{4} * kv_width);
}

TEST(PagedKvGpu, RopeWritesEachTokensRowsWhereItsTableSays) {
    TLLM_REQUIRE_GPU();
    Rng rng(32);
    check_paged_rope<uint16_t>(rng);
    check_paged_rope<float>(rng);
}

} // namespace
} // namespace tllm::cuda
