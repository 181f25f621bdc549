// Each GPU kernel of kernels/cuda/ops.h against its CPU reference (kernels/cpu/ops.h) on seeded random
// inputs, edge shapes included. Outputs are poisoned first, so an unwritten element fails.
// Tolerances: f32 sums in another order differ by about 1e-6 relative per term; outputs the model
// rounds to bf16 may differ by one bf16 step.
#include "core/random.h"
#include "core/thread_pool.h"
#include "cuda_test_util.h"
#include "kernel_test_util.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <type_traits>

namespace tllm::cuda {
namespace {

using namespace test_util;
using cpu::test_util::random_bf16;
using cpu::test_util::random_bytes;
using cpu::test_util::random_floats;

std::vector<float> bf16_values(Rng& rng, int64_t n, float low, float high) {
    std::vector<float> out = random_floats(rng, n, low, high);
    for (float& v : out) {
        v = round_to_bf16(v);
    }
    return out;
}

// The forward pass's rounding points: bf16 precision rounds, the f32 reference does not.
float round_as(float v, Rounding rounding) { return rounding == Rounding::kBf16 ? round_to_bf16(v) : v; }

float kv_value(uint16_t bits) { return bf16_to_f32(bits); }
float kv_value(float v) { return v; }

std::vector<float> widen(const std::vector<uint16_t>& bits) {
    std::vector<float> out(bits.size());
    std::transform(bits.begin(), bits.end(), out.begin(), [](uint16_t b) { return bf16_to_f32(b); });
    return out;
}

struct MatmulShape {
    int n, k, m;
};

TEST(Bf16wMatmulGpu, MatchesCpuForEveryEpilogue) {
    TLLM_REQUIRE_GPU();
    if (gpu()->kernels->library() == nullptr) {
        std::fprintf(stderr, "cuBLASLt did not open: its cases are skipped\n");
    }
    ThreadPool pool(4);
    Rng rng(11);
    // Decode and prefill widths, odd row counts, token counts around the 4- and 8-token tiles; for the
    // tensor-core kernel (steps of 2+ tokens with bf16 inputs, k a multiple of 32, 128 rows or more) token counts
    // around its 64-token tile, row counts that are not a multiple of its 256 rows, a single k block of 32, an
    // odd number of k blocks; k split over 2 to 16 blocks (8 tokens of QKV, 5 of the out-projection, 65 and 130
    // tokens over two or three token tiles); the router's 32 rows at 40 tokens (one matvec per token).
    for (MatmulShape s :
         {MatmulShape{1, 2880, 5120}, MatmulShape{1, 64, 7}, MatmulShape{1, 4096, 300}, MatmulShape{1, 1032, 33},
          MatmulShape{3, 136, 33}, MatmulShape{9, 256, 17}, MatmulShape{17, 4096, 100}, MatmulShape{64, 2880, 64},
          MatmulShape{2, 32, 130}, MatmulShape{65, 2880, 200}, MatmulShape{130, 4096, 129}, MatmulShape{7, 96, 256},
          MatmulShape{200, 2880, 5120}, MatmulShape{66, 32, 300}, MatmulShape{8, 2880, 5120},
          MatmulShape{5, 4096, 2880}, MatmulShape{40, 2880, 32}, MatmulShape{300, 2880, 512},
          MatmulShape{2, 2880, 4}}) {
        const std::vector<float> x = bf16_values(rng, int64_t{s.n} * s.k, -2.0f, 2.0f);
        const std::vector<uint16_t> w = random_bf16(rng, int64_t{s.m} * s.k, -0.1f, 0.1f);
        const std::vector<uint16_t> bias = random_bf16(rng, s.m, -0.5f, 0.5f);
        std::vector<float> expected(static_cast<size_t>(s.n) * s.m);
        cpu::bf16w_matmul(pool, x.data(), s.n, s.k, w.data(), s.m, bias.data(), expected.data());
        const std::vector<float> residual = bf16_values(rng, int64_t{s.n} * s.m, -4.0f, 4.0f);
        DeviceBuffer dx = to_device(x);
        DeviceBuffer dw = to_device(w);
        DeviceBuffer db = to_device(bias);
        for (MatmulEpilogue epilogue : {MatmulEpilogue::kStore, MatmulEpilogue::kStoreBf16,
                                        MatmulEpilogue::kResidualBf16, MatmulEpilogue::kResidual}) {
            std::vector<float> want = expected;
            const bool update = epilogue == MatmulEpilogue::kResidualBf16 || epilogue == MatmulEpilogue::kResidual;
            for (size_t i = 0; i < want.size(); ++i) {
                if (epilogue == MatmulEpilogue::kStoreBf16) {
                    want[i] = round_to_bf16(want[i]);
                } else if (epilogue == MatmulEpilogue::kResidualBf16) {
                    want[i] = round_to_bf16(residual[i] + want[i]);
                } else if (epilogue == MatmulEpilogue::kResidual) {
                    want[i] = residual[i] + want[i];
                }
            }
            // x holds bf16 values, so every kernel family applies: CUDA cores (kNone) and tensor cores (kBf16), the
            // latter also with k split over more blocks where a workspace allows (steps of few tokens), and cuBLASLt
            // with the pack and epilogue kernels around it (variant 3: steps of 2+ tokens, rows a multiple of 4,
            // where the library opened).
            OpKernels& kernels = *gpu()->kernels;
            const OpKernels::LibraryRule rule = kernels.library_rule();
            for (int variant = 0; variant < 4; ++variant) {
                const Rounding inputs = variant == 0 ? Rounding::kNone : Rounding::kBf16;
                if (inputs == Rounding::kBf16 && epilogue == MatmulEpilogue::kResidual) {
                    continue; // the f32 reference's epilogue
                }
                const bool library = variant == 3;
                // The library for every shape it can take (rows a multiple of 4), past the rule that picks it.
                kernels.set_library_rule(library ? OpKernels::LibraryRule{1, 0} : rule);
                if (library && !kernels.library_takes(s.n, s.m)) {
                    kernels.set_library_rule(rule);
                    continue;
                }
                DeviceBuffer dy = update ? to_device(residual) : poisoned<float>(want.size());
                const size_t split_floats = variant == 2 ? OpKernels::matmul_split_workspace_floats(s.n, s.m) : 0;
                const size_t input_elements = library ? OpKernels::matmul_library_input_elements(s.n, s.k) : 0;
                const size_t library_bytes = library ? CublasLt::kWorkspaceBytes : 0;
                DeviceBuffer splits = poisoned<float>(std::max<size_t>(split_floats, 1));
                DeviceBuffer inputs_bf16 = poisoned<uint16_t>(std::max<size_t>(input_elements, 1));
                DeviceBuffer library_workspace = poisoned<uint8_t>(std::max<size_t>(library_bytes, 1));
                const MatmulWorkspace workspace{{splits.as<float>(), split_floats},
                                                {inputs_bf16.as<uint16_t>(), input_elements},
                                                {library_workspace.as<uint8_t>(), library_bytes}};
                ASSERT_TRUE(kernels
                                .bf16w_matmul(nullptr, dx.as<float>(), s.n, s.k, dw.as<uint16_t>(), s.m,
                                              db.as<uint16_t>(), dy.as<float>(), epilogue, inputs, workspace)
                                .ok());
                const bool rounded =
                    epilogue == MatmulEpilogue::kStoreBf16 || epilogue == MatmulEpilogue::kResidualBf16;
                kernels.set_library_rule(rule);
                expect_close(to_host<float>(dy, want.size()), want, 1e-4f, 1e-4f, rounded,
                             library                     ? "bf16w_matmul (cuBLASLt)"
                             : inputs == Rounding::kBf16 ? "bf16w_matmul (tensor cores)"
                                                         : "bf16w_matmul");
            }
        }
    }
}

// Log-probabilities of sampled rows: a vocabulary of 201,088 (not a multiple of the block), one of 5 with every
// token asked, ties everywhere (logits in steps of 1/4, so many rows share values and the lower id must win), rows
// taken out of order, top 0 and the most OpKernels allows. Tolerance: the sums are in double on both sides, so the
// results are the CPU's to within an f32 rounding.
TEST(LogitsLogprobsGpu, MatchesCpu) {
    TLLM_REQUIRE_GPU();
    Rng rng(31);
    struct Case {
        int vocab, rows, top;
        bool ties;
    };
    for (const Case c : {Case{201088, 3, OpKernels::kMaxLogprobsTop, false}, Case{5, 2, 5, false},
                         Case{3000, 4, 7, true}, Case{1500, 2, 0, false}}) {
        std::vector<float> logits = random_floats(rng, int64_t{c.vocab} * c.rows, -8.0f, 8.0f);
        if (c.ties) {
            for (float& v : logits) {
                v = std::round(v * 4.0f) / 4.0f;
            }
        }
        std::vector<int32_t> tokens(static_cast<size_t>(c.rows));
        for (int32_t& t : tokens) {
            t = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(c.vocab));
        }
        std::vector<int32_t> rows(static_cast<size_t>(c.rows));
        std::iota(rows.rbegin(), rows.rend(), 0); // last row first
        DeviceBuffer dl = to_device(logits);
        DeviceBuffer dt = to_device(tokens);
        DeviceBuffer dr = to_device(rows);
        DeviceBuffer dvalues = poisoned<float>(rows.size());
        DeviceBuffer dids = poisoned<int32_t>(std::max<size_t>(rows.size() * c.top, 1));
        DeviceBuffer dtop = poisoned<float>(std::max<size_t>(rows.size() * c.top, 1));
        ASSERT_TRUE(gpu()
                        ->kernels
                        ->logits_logprobs(nullptr, dl.as<float>(), c.vocab, dr.as<int32_t>(), c.rows, dt.as<int32_t>(),
                                          c.top, dvalues.as<float>(), dids.as<int32_t>(), dtop.as<float>())
                        .ok());
        const std::vector<float> values = to_host<float>(dvalues, rows.size());
        const std::vector<int32_t> ids = to_host<int32_t>(dids, rows.size() * c.top);
        const std::vector<float> top = to_host<float>(dtop, rows.size() * c.top);
        for (size_t r = 0; r < rows.size(); ++r) {
            const int row = rows[r];
            std::vector<int32_t> want_ids(static_cast<size_t>(c.top));
            std::vector<float> want_top(want_ids.size());
            const float want =
                cpu::logits_logprobs(logits.data() + int64_t{row} * c.vocab, c.vocab, tokens[static_cast<size_t>(row)],
                                     c.top, want_ids.data(), want_top.data());
            EXPECT_NEAR(values[r], want, 1e-6f * std::max(1.0f, std::fabs(want))) << "vocab " << c.vocab;
            for (int t = 0; t < c.top; ++t) {
                EXPECT_EQ(ids[r * c.top + t], want_ids[static_cast<size_t>(t)])
                    << "vocab " << c.vocab << " row " << row << " rank " << t;
                EXPECT_NEAR(top[r * c.top + t], want_top[static_cast<size_t>(t)],
                            1e-6f * std::max(1.0f, std::fabs(want_top[static_cast<size_t>(t)])));
            }
        }
    }
}

TEST(RmsnormGpu, RowsAndMoeCombineMatchCpu) {
    TLLM_REQUIRE_GPU();
    Rng rng(12);
    for (int d : {64, 2880, 1000, 2880, 64}) {
        const Rounding rounding = d == 64 || d == 1000 ? Rounding::kBf16 : Rounding::kNone;
        const bool rounded = rounding == Rounding::kBf16;
        const int n = 5;
        const int top_k = 4;
        const std::vector<float> residual = bf16_values(rng, int64_t{n} * d, -3.0f, 3.0f);
        const std::vector<uint16_t> scale = random_bf16(rng, d, 0.5f, 1.5f);
        std::vector<float> want(residual.size());
        cpu::rmsnorm(residual.data(), scale.data(), n, d, 1e-5f, want.data());
        for (float& v : want) {
            v = round_as(v, rounding);
        }
        DeviceBuffer dr = to_device(residual);
        DeviceBuffer ds = to_device(scale);
        DeviceBuffer dout = poisoned<float>(want.size());
        ASSERT_TRUE(
            gpu()
                ->kernels
                ->rmsnorm_rows(nullptr, dr.as<float>(), n, d, ds.as<uint16_t>(), 1e-5f, dout.as<float>(), rounding)
                .ok());
        expect_close(to_host<float>(dout, want.size()), want, 1e-5f, 1e-5f, rounded, "rmsnorm_rows");

        // MoE combine: residual + Σ weights · expert rows, then the norm.
        const std::vector<float> expert_out = random_floats(rng, int64_t{n} * top_k * d, -1.0f, 1.0f);
        const std::vector<float> weights = random_floats(rng, int64_t{n} * top_k, 0.0f, 0.5f);
        std::vector<float> updated(residual.size());
        for (int t = 0; t < n; ++t) {
            for (int i = 0; i < d; ++i) {
                float sum = 0.0f;
                for (int s = 0; s < top_k; ++s) {
                    sum += weights[static_cast<size_t>(t * top_k + s)] *
                           expert_out[(static_cast<size_t>(t) * top_k + s) * d + i];
                }
                updated[static_cast<size_t>(t) * d + i] =
                    round_as(residual[static_cast<size_t>(t) * d + i] + sum, rounding);
            }
        }
        std::vector<float> want_normed(updated.size());
        cpu::rmsnorm(updated.data(), scale.data(), n, d, 1e-5f, want_normed.data());
        for (float& v : want_normed) {
            v = round_as(v, rounding);
        }
        DeviceBuffer de = to_device(expert_out);
        DeviceBuffer dwts = to_device(weights);
        ASSERT_TRUE(gpu()
                        ->kernels
                        ->moe_combine_rmsnorm(nullptr, dr.as<float>(), de.as<float>(), dwts.as<float>(), n, top_k, d,
                                              ds.as<uint16_t>(), 1e-5f, dout.as<float>(), rounding)
                        .ok());
        expect_close(to_host<float>(dr, updated.size()), updated, 1e-5f, 1e-5f, rounded, "combine residual");
        expect_close(to_host<float>(dout, want_normed.size()), want_normed, 1e-5f, 1e-5f, rounded, "combine norm");
    }
}

TEST(EmbeddingGatherGpu, CopiesRows) {
    TLLM_REQUIRE_GPU();
    Rng rng(13);
    const int vocab = 1000;
    const int d = 72;
    const std::vector<uint16_t> table = random_bf16(rng, int64_t{vocab} * d, -1.0f, 1.0f);
    // Negative entries take fed_back[−1 − t]: rows 2 and 0 of tokens a step before sampled.
    const std::vector<int32_t> tokens = {0, 999, 5, -3, 5, 512, -1};
    const std::vector<int32_t> fed_back = {7, 800, 998};
    DeviceBuffer dt = to_device(table);
    DeviceBuffer dtok = to_device(tokens);
    DeviceBuffer dfed = to_device(fed_back);
    DeviceBuffer dout = poisoned<float>(tokens.size() * d);
    ASSERT_TRUE(gpu()
                    ->kernels
                    ->embedding_gather(nullptr, dt.as<uint16_t>(), dtok.as<int32_t>(), dfed.as<int32_t>(),
                                       static_cast<int>(tokens.size()), d, dout.as<float>())
                    .ok());
    std::vector<float> want;
    for (int32_t entry : tokens) {
        const int32_t token = entry >= 0 ? entry : fed_back[static_cast<size_t>(-1 - entry)];
        for (int i = 0; i < d; ++i) {
            want.push_back(bf16_to_f32(table[static_cast<size_t>(token) * d + i]));
        }
    }
    expect_close(to_host<float>(dout, want.size()), want, 0.0f, 0.0f, false, "embedding");
}

// KV is the cache element: uint16_t (bf16 precision, q and k rounded) or float (the f32 reference).
template <typename KV> void check_rope_kv_write(Rng& rng, int head_dim) {
    {
        constexpr bool rounded = std::is_same_v<KV, uint16_t>;
        const int n = 6;
        const int n_heads = 8;
        const int n_kv = 2;
        const int width = (n_heads + 2 * n_kv) * head_dim;
        const int kv_width = n_kv * head_dim;
        const int capacity = 100000;
        const std::vector<float> qkv = bf16_values(rng, int64_t{n} * width, -2.0f, 2.0f);
        const std::vector<int32_t> positions = {0, 1, 7, 4095, 65535, 99999};
        std::vector<float> inv_freq(static_cast<size_t>(head_dim / 2));
        for (size_t i = 0; i < inv_freq.size(); ++i) {
            inv_freq[i] = std::pow(150000.0f, -2.0f * static_cast<float>(i) / static_cast<float>(head_dim));
        }
        const float concentration = 1.3466f;
        // CPU: rotate q and k, round as the forward pass does.
        std::vector<float> q(static_cast<size_t>(n) * n_heads * head_dim);
        std::vector<float> k(static_cast<size_t>(n) * kv_width);
        std::vector<float> v(static_cast<size_t>(n) * kv_width);
        for (int t = 0; t < n; ++t) {
            const float* row = qkv.data() + static_cast<size_t>(t) * width;
            std::copy_n(row, n_heads * head_dim, q.begin() + static_cast<ptrdiff_t>(t) * n_heads * head_dim);
            std::copy_n(row + n_heads * head_dim, kv_width, k.begin() + static_cast<ptrdiff_t>(t) * kv_width);
            std::copy_n(row + n_heads * head_dim + kv_width, kv_width,
                        v.begin() + static_cast<ptrdiff_t>(t) * kv_width);
        }
        cpu::rope_inplace(q.data(), positions.data(), n, n_heads, head_dim, inv_freq.data(), concentration);
        cpu::rope_inplace(k.data(), positions.data(), n, n_kv, head_dim, inv_freq.data(), concentration);
        DeviceBuffer dqkv = to_device(qkv);
        DeviceBuffer dpos = to_device(positions);
        DeviceBuffer dfreq = to_device(inv_freq);
        DeviceBuffer dk = poisoned<KV>(static_cast<size_t>(capacity) * kv_width);
        DeviceBuffer dv = poisoned<KV>(static_cast<size_t>(capacity) * kv_width);
        ASSERT_TRUE(gpu()
                        ->kernels
                        ->rope_kv_write(nullptr, dqkv.as<float>(), dpos.as<int32_t>(), n, n_heads, n_kv, head_dim,
                                        dfreq.as<float>(), concentration, dk.as<KV>(), dv.as<KV>())
                        .ok());
        const std::vector<float> got_qkv = to_host<float>(dqkv, qkv.size());
        const std::vector<KV> got_k = to_host<KV>(dk, static_cast<size_t>(capacity) * kv_width);
        const std::vector<KV> got_v = to_host<KV>(dv, static_cast<size_t>(capacity) * kv_width);
        std::vector<float> gq, wq, gk, wk, gv, wv;
        for (int t = 0; t < n; ++t) {
            for (int i = 0; i < n_heads * head_dim; ++i) {
                gq.push_back(got_qkv[static_cast<size_t>(t) * width + i]);
                const float qv = q[static_cast<size_t>(t) * n_heads * head_dim + i];
                wq.push_back(rounded ? round_to_bf16(qv) : qv);
            }
            for (int i = 0; i < kv_width; ++i) {
                const size_t at = static_cast<size_t>(positions[static_cast<size_t>(t)]) * kv_width + i;
                gk.push_back(kv_value(got_k[at]));
                const float kv = k[static_cast<size_t>(t) * kv_width + i];
                wk.push_back(rounded ? round_to_bf16(kv) : kv);
                gv.push_back(kv_value(got_v[at]));
                wv.push_back(v[static_cast<size_t>(t) * kv_width + i]);
            }
        }
        // cosf/sinf on the GPU and in libm may differ by an ulp: compare with the bf16 step allowance.
        expect_close(gq, wq, 1e-5f, 1e-5f, rounded, "rotated q");
        expect_close(gk, wk, 1e-5f, 1e-5f, rounded, "cached k");
        expect_close(gv, wv, 0.0f, 0.0f, false, "cached v");
    }
}

TEST(RopeKvWriteGpu, RotatesQAndWritesCache) {
    TLLM_REQUIRE_GPU();
    Rng rng(14);
    for (int head_dim : {64, 16}) {
        check_rope_kv_write<uint16_t>(rng, head_dim);
        check_rope_kv_write<float>(rng, head_dim);
    }
}

struct AttentionCase {
    int n, first_position, n_heads, n_kv, head_dim, window, splits;
};

TEST(AttentionSinksGpu, MatchesCpuWithWindowsAndSplits) {
    TLLM_REQUIRE_GPU();
    ThreadPool pool(4);
    Rng rng(15);
    for (AttentionCase s : {AttentionCase{1, 0, 64, 8, 64, 0, 4}, AttentionCase{1, 700, 64, 8, 64, 128, 64},
                            AttentionCase{1, 700, 64, 8, 64, 0, 11}, AttentionCase{7, 40, 8, 2, 16, 8, 1},
                            AttentionCase{33, 0, 4, 4, 128, 0, 3}, AttentionCase{5, 3, 6, 3, 48, 0, 2},
                            // Key tiles of 32 (head_dim 64 or 128, groups up to 16): long contexts, splits
                            // that end mid-tile or see no keys, contexts one past a tile, groups of 1 and 16.
                            AttentionCase{1, 5000, 64, 8, 64, 0, 64}, AttentionCase{1, 5000, 64, 8, 64, 128, 64},
                            AttentionCase{3, 2000, 16, 2, 128, 0, 7}, AttentionCase{2, 300, 4, 4, 64, 0, 5},
                            AttentionCase{1, 100, 32, 2, 64, 0, 3}, AttentionCase{1, 32, 8, 1, 128, 0, 2},
                            AttentionCase{4, 29, 64, 8, 64, 16, 64}, AttentionCase{1, 31, 64, 8, 64, 0, 1},
                            // Prefill on tensor cores (n ≥ 8, head_dim 64 or 128 with bf16 caches): partial
                            // query tiles, windows shorter than the step, earlier context, GQA.
                            AttentionCase{100, 0, 8, 2, 64, 0, 1}, AttentionCase{130, 300, 64, 8, 64, 128, 1},
                            AttentionCase{64, 0, 8, 8, 64, 16, 1}, AttentionCase{70, 5, 4, 2, 128, 0, 1},
                            AttentionCase{9, 1000, 64, 8, 64, 128, 1},
                            // Rows of (token, query head): groups of 3 and 16 that straddle blocks, one kv head,
                            // and contexts past 32K with and without a window.
                            AttentionCase{70, 5, 6, 2, 64, 0, 1}, AttentionCase{45, 200, 32, 2, 64, 0, 1},
                            AttentionCase{20, 7, 8, 1, 128, 3, 1}, AttentionCase{24, 32800, 64, 8, 64, 0, 1},
                            AttentionCase{17, 32800, 64, 8, 64, 128, 1}}) {
        for (bool f32 : {false, true}) { // bf16 caches and rounded output, or the f32 reference's f32 caches
            const int ctx = s.first_position + s.n;
            const int kv_width = s.n_kv * s.head_dim;
            const int q_width = s.n_heads * s.head_dim;
            const std::vector<float> q = bf16_values(rng, int64_t{s.n} * q_width, -2.0f, 2.0f);
            const std::vector<uint16_t> keys = random_bf16(rng, int64_t{ctx} * kv_width, -2.0f, 2.0f);
            const std::vector<uint16_t> values = random_bf16(rng, int64_t{ctx} * kv_width, -2.0f, 2.0f);
            const std::vector<uint16_t> sinks = random_bf16(rng, s.n_heads, -1.0f, 3.0f);
            std::vector<int32_t> positions(static_cast<size_t>(s.n));
            std::iota(positions.begin(), positions.end(), s.first_position);
            const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
            std::vector<float> want(q.size());
            cpu::attention_sinks(pool, q.data(), positions.data(), s.n, s.n_heads, s.n_kv, s.head_dim, keys.data(),
                                 values.data(), sinks.data(), s.window, scale, want.data());
            for (float& v : want) {
                v = f32 ? v : round_to_bf16(v);
            }
            DeviceBuffer dq = to_device(q);
            // The f32 caches hold the same values, so the CPU reference serves both.
            DeviceBuffer dk = f32 ? to_device(widen(keys)) : to_device(keys);
            DeviceBuffer dv = f32 ? to_device(widen(values)) : to_device(values);
            DeviceBuffer dsinks = to_device(sinks);
            DeviceBuffer dpos = to_device(positions);
            DeviceBuffer stats = poisoned<float>(static_cast<size_t>(s.n) * s.n_heads * s.splits * 2);
            DeviceBuffer acc = poisoned<float>(static_cast<size_t>(s.n) * s.n_heads * s.splits * s.head_dim);
            DeviceBuffer dout = poisoned<float>(want.size());
            DeviceBuffer tickets = to_device(std::vector<int32_t>(static_cast<size_t>(s.n * s.n_kv), 0));
            // Decode over bf16 caches: the CUDA-core tiled kernel for the context's own bound when it (or the
            // window) is short, the tensor-core kernel for an unbounded one.
            for (int max_keys : {ctx, std::numeric_limits<int>::max()}) {
                dout = poisoned<float>(want.size());
                auto run = [&](auto* k_cache, auto* v_cache) {
                    return gpu()->kernels->attention_sinks(
                        nullptr, dq.as<float>(), q_width, dpos.as<int32_t>(), s.n, s.n_heads, s.n_kv, s.head_dim,
                        k_cache, v_cache, dsinks.as<uint16_t>(), s.window, scale, s.splits, stats.as<float>(),
                        acc.as<float>(), tickets.as<int32_t>(), dout.as<float>(), max_keys);
                };
                SCOPED_TRACE(::testing::Message() << "n " << s.n << " at " << s.first_position << " heads " << s.n_heads
                                                  << "/" << s.n_kv << " d " << s.head_dim << " window " << s.window
                                                  << " splits " << s.splits << " max_keys " << max_keys);
                ASSERT_TRUE(
                    (f32 ? run(dk.as<float>(), dv.as<float>()) : run(dk.as<uint16_t>(), dv.as<uint16_t>())).ok());
                expect_close(to_host<float>(dout, want.size()), want, 1e-5f, 1e-4f, !f32, "attention");
                EXPECT_EQ(to_host<int32_t>(tickets, static_cast<size_t>(s.n * s.n_kv)),
                          std::vector<int32_t>(static_cast<size_t>(s.n * s.n_kv), 0));
            }
        }
    }
}

TEST(MmaPeakGpu, EveryThreadDoesAllItsProducts) {
    TLLM_REQUIRE_GPU();
    for (auto [blocks, rounds] : {std::pair{1u, 1}, std::pair{3u, 1000}}) {
        const size_t threads = blocks * OpKernels::kMmaPeakThreads;
        DeviceBuffer out = poisoned<float>(threads);
        ASSERT_TRUE(gpu()->kernels->mma_peak(nullptr, blocks, rounds, out.as<float>()).ok());
        // Ones times ones over k = 16: each MMA adds 16 to each of a lane's 4 accumulators, in every chain.
        const float want = 16.0f * static_cast<float>(rounds) * OpKernels::kMmaPeakChains * 4;
        EXPECT_EQ(to_host<float>(out, threads), std::vector<float>(threads, want));
    }
}

struct MoeCase {
    int n, experts, top_k, hidden, inter, tile;
    int mlp1_scale_low = 120, mlp1_scale_high = 124; // E8M0 exponents of mlp1's blocks
};

TEST(Mxfp4wMoeGpu, RouteAndExpertProductsMatchCpu) {
    TLLM_REQUIRE_GPU();
    ThreadPool pool(4);
    Rng rng(16);
    // Tile sizes 64, 32 and 16 are the tensor-core paths (ops/bf16_mxfp4w_moe_mma.cu): experts with more pairs than a
    // tile (200 tokens over 8 experts), many experts with none (3 tokens over 32), every expert taking every token (top
    // 4 of 4), weight rows that are not a multiple of the block's 256 (192, 160, 32, 384 rows), k of one MXFP4 block or
    // an odd number of them (32, 96, 160), k of 4 and 5 stages of 64 (256, 320: more stages than the pipelines hold),
    // scales above 2^1 (which the tensor-core kernels apply in two steps), the 20b shape.
    // Sums over k = 2880 stay within the tolerance only for scales near 2^0: with scales up to 2^13 the f32 sums of
    // large terms cancel (mlp1's linear half near −1 before SwiGLU's `+ 1`), and the order of the sums alone moves
    // results by several bf16 steps; large scales are tested at k ≤ 320.
    for (MoeCase s : {MoeCase{1, 32, 4, 2880, 2880, 1},
                      MoeCase{1, 8, 4, 64, 96, 1},
                      MoeCase{1, 16, 2, 4096, 1056, 1},
                      MoeCase{13, 8, 4, 96, 160, 8},
                      MoeCase{5, 6, 2, 64, 96, 4},
                      MoeCase{40, 32, 4, 256, 128, 8},
                      MoeCase{2, 4, 4, 32, 32, 8},
                      MoeCase{1, 32, 4, 2880, 2880, -1},
                      MoeCase{13, 8, 4, 96, 160, -8},
                      MoeCase{200, 8, 4, 96, 160, 64},
                      MoeCase{3, 32, 4, 64, 96, 64},
                      MoeCase{70, 4, 4, 32, 64, 64},
                      MoeCase{40, 32, 4, 2880, 2880, 64},
                      MoeCase{40, 8, 4, 64, 192, 64, 124, 132},
                      MoeCase{3, 32, 4, 64, 96, 16},
                      MoeCase{64, 32, 4, 2880, 2880, 16},
                      MoeCase{70, 4, 4, 32, 64, 16},
                      MoeCase{13, 8, 4, 96, 160, 16},
                      MoeCase{40, 8, 4, 64, 192, 16, 124, 132},
                      MoeCase{9, 8, 4, 320, 256, 16},
                      MoeCase{9, 8, 4, 320, 256, 16, 126, 140},
                      MoeCase{40, 32, 4, 2880, 2880, 32},
                      MoeCase{100, 8, 4, 320, 256, 32},
                      MoeCase{70, 4, 4, 32, 64, 32},
                      MoeCase{13, 8, 4, 96, 160, 32},
                      MoeCase{9, 8, 4, 320, 256, 32},
                      MoeCase{40, 8, 4, 64, 192, 32, 124, 132}}) {
        SCOPED_TRACE(testing::Message() << "tokens " << s.n << ", experts " << s.experts << ", top " << s.top_k
                                        << ", hidden " << s.hidden << ", intermediate " << s.inter << ", tile "
                                        << s.tile << ", mlp1 scales " << s.mlp1_scale_low << ".." << s.mlp1_scale_high);
        // A negative tile size asks for the f32 reference's unrounded activations.
        const Rounding rounding = s.tile > 0 ? Rounding::kBf16 : Rounding::kNone;
        s.tile = std::abs(s.tile);
        const int pairs = s.n * s.top_k;
        const std::vector<float> logits = random_floats(rng, int64_t{s.n} * s.experts, -3.0f, 3.0f);
        const std::vector<float> x = bf16_values(rng, int64_t{s.n} * s.hidden, -2.0f, 2.0f);
        const int rows1 = 2 * s.inter;
        const std::vector<uint8_t> b1 = random_bytes(rng, int64_t{s.experts} * rows1 * s.hidden / 2);
        const std::vector<uint8_t> e1 =
            random_bytes(rng, int64_t{s.experts} * rows1 * s.hidden / 32, s.mlp1_scale_low, s.mlp1_scale_high);
        const std::vector<uint16_t> bias1 = random_bf16(rng, int64_t{s.experts} * rows1, -0.25f, 0.25f);
        const std::vector<uint8_t> b2 = random_bytes(rng, int64_t{s.experts} * s.hidden * s.inter / 2);
        const std::vector<uint8_t> e2 = random_bytes(rng, int64_t{s.experts} * s.hidden * s.inter / 32, 120, 124);
        const std::vector<uint16_t> bias2 = random_bf16(rng, int64_t{s.experts} * s.hidden, -0.25f, 0.25f);

        // CPU reference of mlp1 and SwiGLU, pair by pair (mlp2's below, on the GPU's activations).
        std::vector<int32_t> ids(static_cast<size_t>(pairs));
        std::vector<float> weights(static_cast<size_t>(pairs));
        cpu::topk_softmax(logits.data(), s.n, s.experts, s.top_k, ids.data(), weights.data());
        std::vector<float> want_act(static_cast<size_t>(pairs) * s.inter);
        std::vector<float> want_out(static_cast<size_t>(pairs) * s.hidden);
        std::vector<float> h(static_cast<size_t>(rows1));
        for (int p = 0; p < pairs; ++p) {
            const size_t e = static_cast<size_t>(ids[static_cast<size_t>(p)]);
            cpu::mxfp4w_matmul(pool, x.data() + static_cast<size_t>(p / s.top_k) * s.hidden, 1, s.hidden,
                               b1.data() + e * rows1 * s.hidden / 2, e1.data() + e * rows1 * s.hidden / 32, rows1,
                               bias1.data() + e * rows1, h.data());
            float* act = want_act.data() + static_cast<size_t>(p) * s.inter;
            cpu::swiglu_interleaved(h.data(), 1, s.inter, 1.702f, 7.0f, act);
            for (int i = 0; i < s.inter; ++i) {
                act[i] = round_as(act[i], rounding);
            }
        }

        const int max_tiles = static_cast<int>(max_moe_tiles(pairs, s.experts, s.tile));
        DeviceBuffer dl = to_device(logits);
        DeviceBuffer dx = to_device(x);
        DeviceBuffer db1 = to_device(b1), de1 = to_device(e1), dbias1 = to_device(bias1);
        DeviceBuffer db2 = to_device(b2), de2 = to_device(e2), dbias2 = to_device(bias2);
        DeviceBuffer pair_expert = poisoned<int32_t>(static_cast<size_t>(pairs));
        DeviceBuffer pair_weight = poisoned<float>(static_cast<size_t>(pairs));
        DeviceBuffer sorted = poisoned<int32_t>(static_cast<size_t>(pairs));
        DeviceBuffer tiles = poisoned<MoeTile>(static_cast<size_t>(max_tiles));
        DeviceBuffer n_tiles = poisoned<int32_t>(1);
        DeviceBuffer act = poisoned<float>(want_act.size());
        DeviceBuffer out = poisoned<float>(want_out.size());
        const OpKernels& k = *gpu()->kernels;
        ASSERT_TRUE(k.topk_route(nullptr, dl.as<float>(), s.n, s.experts, s.top_k, s.tile, pair_expert.as<int32_t>(),
                                 pair_weight.as<float>(), sorted.as<int32_t>(), tiles.as<MoeTile>(),
                                 n_tiles.as<int32_t>())
                        .ok());
        ASSERT_TRUE(k.moe_mlp1_swiglu(nullptr, dx.as<float>(), s.hidden, db1.as<uint8_t>(), de1.as<uint8_t>(),
                                      dbias1.as<uint16_t>(), rows1, sorted.as<int32_t>(), tiles.as<MoeTile>(),
                                      n_tiles.as<int32_t>(), max_tiles, s.tile, s.top_k, 1.702f, 7.0f, act.as<float>(),
                                      rounding)
                        .ok());
        ASSERT_TRUE(k.moe_mlp2(nullptr, act.as<float>(), s.inter, db2.as<uint8_t>(), de2.as<uint8_t>(),
                               dbias2.as<uint16_t>(), s.hidden, sorted.as<int32_t>(), tiles.as<MoeTile>(),
                               n_tiles.as<int32_t>(), max_tiles, s.tile, s.top_k, out.as<float>())
                        .ok());
        EXPECT_EQ(to_host<int32_t>(pair_expert, ids.size()), ids);
        expect_close(to_host<float>(pair_weight, weights.size()), weights, 1e-6f, 1e-5f, false, "routing weights");
        // The sorted pairs are grouped by expert, ascending within an expert.
        std::vector<int32_t> want_sorted(static_cast<size_t>(pairs));
        std::iota(want_sorted.begin(), want_sorted.end(), 0);
        std::stable_sort(want_sorted.begin(), want_sorted.end(), [&](int32_t a, int32_t b) {
            return ids[static_cast<size_t>(a)] < ids[static_cast<size_t>(b)];
        });
        EXPECT_EQ(to_host<int32_t>(sorted, want_sorted.size()), want_sorted);
        const std::vector<float> gpu_act = to_host<float>(act, want_act.size());
        expect_close(gpu_act, want_act, 1e-5f, 1e-4f, rounding == Rounding::kBf16, "swiglu activations");
        // mlp2 reads the GPU's own activations, where a sum near a rounding boundary may have gone the other way
        // (one bf16 step): compare with the CPU's product of the same inputs.
        for (int p = 0; p < pairs; ++p) {
            const size_t e = static_cast<size_t>(ids[static_cast<size_t>(p)]);
            cpu::mxfp4w_matmul(pool, gpu_act.data() + static_cast<size_t>(p) * s.inter, 1, s.inter,
                               b2.data() + e * s.hidden * s.inter / 2, e2.data() + e * s.hidden * s.inter / 32,
                               s.hidden, bias2.data() + e * s.hidden,
                               want_out.data() + static_cast<size_t>(p) * s.hidden);
        }
        expect_close(to_host<float>(out, want_out.size()), want_out, 2e-3f, 2e-3f, false, "expert outputs");
    }
}

// Routing ranks as torch.topk does, on logits full of ties and with NaN: NaN first, then larger, then the lower expert
// index; the pairs' experts must match the CPU's exactly (a thread per token ranks them on the GPU).
TEST(Mxfp4wMoeGpu, RoutingRanksTiesAndNanAsTheCpu) {
    TLLM_REQUIRE_GPU();
    Rng rng(18);
    for (auto [n, experts, top_k] : {std::tuple{300, 8, 4}, std::tuple{5, 128, 4}, std::tuple{1030, 32, 8}}) {
        std::vector<float> logits(static_cast<size_t>(n) * experts);
        for (float& v : logits) {
            v = static_cast<float>(static_cast<int>(rng.next() % 3) - 1); // -1, 0 or 1: ties everywhere
        }
        logits[3] = std::nanf("");                                // token 0
        logits[static_cast<size_t>(experts) + 1] = std::nanf(""); // token 1, two NaN
        logits[static_cast<size_t>(experts) + 2] = std::nanf("");
        const int pairs = n * top_k;
        std::vector<int32_t> ids(static_cast<size_t>(pairs));
        std::vector<float> weights(static_cast<size_t>(pairs));
        cpu::topk_softmax(logits.data(), n, experts, top_k, ids.data(), weights.data());
        const int tile = OpKernels::kMmaSmallTileSize;
        DeviceBuffer dl = to_device(logits);
        DeviceBuffer pair_expert = poisoned<int32_t>(static_cast<size_t>(pairs));
        DeviceBuffer pair_weight = poisoned<float>(static_cast<size_t>(pairs));
        DeviceBuffer sorted = poisoned<int32_t>(static_cast<size_t>(pairs));
        DeviceBuffer tiles = poisoned<MoeTile>(static_cast<size_t>(max_moe_tiles(pairs, experts, tile)));
        DeviceBuffer n_tiles = poisoned<int32_t>(1);
        ASSERT_TRUE(gpu()
                        ->kernels
                        ->topk_route(nullptr, dl.as<float>(), n, experts, top_k, tile, pair_expert.as<int32_t>(),
                                     pair_weight.as<float>(), sorted.as<int32_t>(), tiles.as<MoeTile>(),
                                     n_tiles.as<int32_t>())
                        .ok());
        EXPECT_EQ(to_host<int32_t>(pair_expert, ids.size()), ids) << n << " tokens over " << experts;
        // Rows with NaN have NaN weights on both sides; the others match.
        const std::vector<float> gpu_weights = to_host<float>(pair_weight, weights.size());
        for (int p = 2 * top_k; p < pairs; ++p) {
            EXPECT_NEAR(gpu_weights[static_cast<size_t>(p)], weights[static_cast<size_t>(p)], 1e-6f) << p;
        }
        // Tiles cover every pair once, in expert order.
        std::vector<MoeTile> got_tiles = to_host<MoeTile>(tiles, static_cast<size_t>(to_host<int32_t>(n_tiles, 1)[0]));
        int covered = 0;
        for (const MoeTile& t : got_tiles) {
            EXPECT_EQ(t.first, covered);
            EXPECT_GE(t.count, 1);
            EXPECT_LE(t.count, tile);
            covered += t.count;
        }
        EXPECT_EQ(covered, pairs);
    }
}

TEST(NormRouterTopkDecodeGpu, MatchesCpuNormRouterAndRouting) {
    TLLM_REQUIRE_GPU();
    ThreadPool pool(4);
    Rng rng(17);
    struct Case {
        int d, experts, top_k;
    };
    for (Case s : {Case{2880, 32, 4}, Case{2880, 128, 4}, Case{64, 6, 4}, Case{128, 40, 2}, Case{2880, 32, -4}}) {
        // A negative top_k asks for the f32 reference's unrounded norm.
        const Rounding rounding = s.top_k > 0 ? Rounding::kBf16 : Rounding::kNone;
        s.top_k = std::abs(s.top_k);
        const std::vector<float> residual = bf16_values(rng, s.d, -3.0f, 3.0f);
        const std::vector<uint16_t> scale = random_bf16(rng, s.d, 0.5f, 1.5f);
        const std::vector<uint16_t> router_w = random_bf16(rng, int64_t{s.experts} * s.d, -0.05f, 0.05f);
        const std::vector<uint16_t> router_b = random_bf16(rng, s.experts, -0.25f, 0.25f);
        std::vector<float> normed(static_cast<size_t>(s.d));
        cpu::rmsnorm(residual.data(), scale.data(), 1, s.d, 1e-5f, normed.data());
        for (float& v : normed) {
            v = round_as(v, rounding);
        }
        std::vector<float> logits(static_cast<size_t>(s.experts));
        cpu::bf16w_matmul(pool, normed.data(), 1, s.d, router_w.data(), s.experts, router_b.data(), logits.data());
        std::vector<int32_t> ids(static_cast<size_t>(s.top_k));
        std::vector<float> weights(static_cast<size_t>(s.top_k));
        cpu::topk_softmax(logits.data(), 1, s.experts, s.top_k, ids.data(), weights.data());

        DeviceBuffer dr = to_device(residual), ds = to_device(scale), dw = to_device(router_w),
                     db = to_device(router_b);
        DeviceBuffer dnormed = poisoned<float>(normed.size());
        DeviceBuffer pair_expert = poisoned<int32_t>(ids.size()), pair_weight = poisoned<float>(ids.size());
        DeviceBuffer sorted = poisoned<int32_t>(ids.size()), tiles = poisoned<MoeTile>(ids.size());
        DeviceBuffer n_tiles = poisoned<int32_t>(1);
        DeviceBuffer dlogits = poisoned<float>(logits.size());
        DeviceBuffer ticket = to_device(std::vector<int32_t>{0});
        ASSERT_TRUE(
            gpu()
                ->kernels
                ->norm_router_topk_decode(nullptr, dr.as<float>(), s.d, ds.as<uint16_t>(), 1e-5f, dnormed.as<float>(),
                                          dw.as<uint16_t>(), db.as<uint16_t>(), s.experts, s.top_k, dlogits.as<float>(),
                                          ticket.as<int32_t>(), pair_expert.as<int32_t>(), pair_weight.as<float>(),
                                          sorted.as<int32_t>(), tiles.as<MoeTile>(), n_tiles.as<int32_t>(), rounding)
                .ok());
        expect_close(to_host<float>(dnormed, normed.size()), normed, 1e-5f, 1e-5f, rounding == Rounding::kBf16,
                     "normed");
        EXPECT_EQ(to_host<int32_t>(pair_expert, ids.size()), ids);
        expect_close(to_host<float>(pair_weight, weights.size()), weights, 1e-6f, 1e-4f, false, "routing weights");
        EXPECT_EQ(to_host<int32_t>(n_tiles, 1)[0], s.top_k);
        EXPECT_EQ(to_host<int32_t>(ticket, 1)[0], 0) << "the ticket is reset for the next launch";
        expect_close(to_host<float>(dlogits, logits.size()), logits, 1e-5f, 1e-4f, false, "router logits");
        // One tile per chosen expert, ascending by expert, each naming its pair.
        const std::vector<MoeTile> got_tiles = to_host<MoeTile>(tiles, ids.size());
        const std::vector<int32_t> got_sorted = to_host<int32_t>(sorted, ids.size());
        for (int i = 0; i < s.top_k; ++i) {
            const MoeTile& t = got_tiles[static_cast<size_t>(i)];
            EXPECT_EQ(t.first, i);
            EXPECT_EQ(t.count, 1);
            EXPECT_EQ(ids[static_cast<size_t>(got_sorted[static_cast<size_t>(i)])], t.expert);
            if (i > 0) {
                EXPECT_LT(got_tiles[static_cast<size_t>(i - 1)].expert, t.expert);
            }
        }
    }
}

} // namespace
} // namespace tllm::cuda
