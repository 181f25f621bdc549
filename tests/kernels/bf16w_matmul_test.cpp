// bf16w_matmul against a double-precision reference.
// Tolerance: |y − ref| <= 1e-5 · (1 + |bias| + Σ_k |x·w|) per element: f32 accumulation over k terms
// with 8 partial sums errs by a few ulps of the absolute-value sum, far below one dropped term.
#include "core/thread_pool.h"
#include "kernel_test_util.h"

#include <cmath>

namespace tllm::cpu {
namespace {

using test_util::MatmulShape;
using test_util::random_bf16;
using test_util::random_floats;

class Bf16wMatmulTest : public ::testing::TestWithParam<SimdPath> {};

void check_against_reference(
    ThreadPool& pool, SimdPath path, MatmulShape s, bool with_bias, uint64_t seed, float x_range) {
    Rng rng(seed);
    std::vector<float> x = random_floats(rng, s.n * s.k, -x_range, x_range); // [n, k]
    std::vector<uint16_t> w = random_bf16(rng, s.m * s.k, -2.0f, 2.0f);      // [m, k]
    std::vector<uint16_t> bias = random_bf16(rng, s.m, -3.0f, 3.0f);         // [m]
    std::vector<float> y(static_cast<size_t>(s.n * s.m), NAN);               // [n, m]
    bf16w_matmul(pool, x.data(), s.n, s.k, w.data(), s.m, with_bias ? bias.data() : nullptr, y.data(), path);

    for (int64_t t = 0; t < s.n; ++t) {
        for (int64_t r = 0; r < s.m; ++r) {
            double b = with_bias ? bf16_to_f32(bias[r]) : 0.0;
            double ref = b;
            double abs_sum = std::fabs(b);
            for (int64_t i = 0; i < s.k; ++i) {
                double term = static_cast<double>(x[t * s.k + i]) * bf16_to_f32(w[r * s.k + i]);
                ref += term;
                abs_sum += std::fabs(term);
            }
            double got = y[t * s.m + r];
            double tol = 1e-5 * (1.0 + abs_sum);
            ASSERT_LE(std::fabs(got - ref), tol)
                << "n=" << s.n << " k=" << s.k << " m=" << s.m << " threads=" << pool.n_threads()
                << " bias=" << with_bias << " at token " << t << " row " << r << ": got " << got << " ref " << ref;
        }
    }
}

TEST_P(Bf16wMatmulTest, MatchesReferenceOnEdgeShapes) {
    TLLM_SKIP_IF_NO_PATH(GetParam());
    // n = 1 (streaming path) and n > 1 (widened tiles, n not a multiple of the 3-token tile); odd k
    // (8-lane tail) and m not a multiple of the 4-row tile, the 16-row block or the 32-row grain.
    const MatmulShape shapes[] = {{1, 1, 1},  {1, 7, 5},    {1, 64, 37},  {1, 2880, 70}, {2, 33, 13},
                                  {3, 64, 4}, {5, 100, 19}, {8, 257, 67}, {7, 2880, 50}, {16, 40, 33}};
    for (int threads : {1, 3}) {
        ThreadPool pool(threads);
        uint64_t seed = 1;
        for (const MatmulShape& s : shapes) {
            for (bool with_bias : {false, true}) {
                check_against_reference(pool, GetParam(), s, with_bias, seed++, 1.0f);
            }
        }
    }
}

TEST_P(Bf16wMatmulTest, LargeActivations) {
    TLLM_SKIP_IF_NO_PATH(GetParam());
    ThreadPool pool(3);
    check_against_reference(pool, GetParam(), {1, 2880, 45}, true, 77, 300.0f);
    check_against_reference(pool, GetParam(), {4, 2880, 45}, true, 78, 300.0f);
}

TEST_P(Bf16wMatmulTest, OneHotRowsSelectExactWeights) {
    TLLM_SKIP_IF_NO_PATH(GetParam());
    // x = e_i picks column i of W exactly (one nonzero product, the rest exact zeros).
    ThreadPool pool(1);
    Rng rng(5);
    const int64_t k = 37, m = 9;
    std::vector<uint16_t> w = random_bf16(rng, m * k, -100.0f, 100.0f);
    for (int64_t n : {1, 4}) {
        std::vector<float> x(static_cast<size_t>(n * k), 0.0f);
        for (int64_t t = 0; t < n; ++t) {
            x[t * k + (t * 11 + 3) % k] = 1.0f;
        }
        std::vector<float> y(static_cast<size_t>(n * m));
        bf16w_matmul(pool, x.data(), n, k, w.data(), m, nullptr, y.data(), GetParam());
        for (int64_t t = 0; t < n; ++t) {
            for (int64_t r = 0; r < m; ++r) {
                ASSERT_EQ(y[t * m + r], bf16_to_f32(w[r * k + (t * 11 + 3) % k])) << "token " << t << " row " << r;
            }
        }
    }
}

TEST_P(Bf16wMatmulTest, RepeatedCallsAreBitIdentical) {
    TLLM_SKIP_IF_NO_PATH(GetParam());
    ThreadPool pool(3);
    Rng rng(9);
    const int64_t n = 5, k = 300, m = 101;
    std::vector<float> x = random_floats(rng, n * k, -1.0f, 1.0f);
    std::vector<uint16_t> w = random_bf16(rng, m * k, -1.0f, 1.0f);
    std::vector<float> first(static_cast<size_t>(n * m)), second(static_cast<size_t>(n * m));
    bf16w_matmul(pool, x.data(), n, k, w.data(), m, nullptr, first.data(), GetParam());
    bf16w_matmul(pool, x.data(), n, k, w.data(), m, nullptr, second.data(), GetParam());
    for (size_t i = 0; i < first.size(); ++i) {
        ASSERT_EQ(first[i], second[i]) << "index " << i;
    }
}

TEST(Bf16wMatmul, EmptyShapesWriteNothing) {
    ThreadPool pool(1);
    float y = 42.0f;
    bf16w_matmul(pool, nullptr, 0, 16, nullptr, 4, nullptr, &y);
    bf16w_matmul(pool, nullptr, 3, 16, nullptr, 0, nullptr, &y);
    EXPECT_EQ(y, 42.0f);
}

INSTANTIATE_TEST_SUITE_P(Paths,
                         Bf16wMatmulTest,
                         ::testing::Values(SimdPath::kPortable, SimdPath::kAvx2),
                         test_util::path_param_name);

} // namespace
} // namespace tllm::cpu
