// mxfp4w_matmul against a double-precision reference that dequantizes with the spec's table (§B.2),
// written out here rather than taken from core/dtype.h so the two are checked against each other.
// Tolerance on random data: |y − ref| <= 1e-5 · (1 + |bias| + Σ_k |x·w|) per element (f32 sums).
// One-hot decode checks are exact: a single nonzero product has no rounding to forgive.
#include "core/thread_pool.h"
#include "kernel_test_util.h"

#include <cfloat>
#include <cmath>

namespace tllm::cpu {
namespace {

using test_util::MatmulShape;
using test_util::random_bf16;
using test_util::random_bytes;
using test_util::random_floats;

// Spec §B.2, index = nibble.
constexpr double kSpecE2m1[16] = {+0.0, +0.5, +1.0, +1.5, +2.0, +3.0, +4.0, +6.0,
                                  -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0};

// Element i of a row: byte i/2 of its block, low nibble for even i.
double ref_weight(const uint8_t* row_blocks, const uint8_t* row_scales, int64_t i) {
    uint8_t byte = row_blocks[(i / 32) * 16 + (i % 32) / 2];
    int nibble = (i % 2 == 0) ? (byte & 0x0f) : (byte >> 4);
    return std::ldexp(kSpecE2m1[nibble], static_cast<int>(row_scales[i / 32]) - 127);
}

class Mxfp4wMatmulTest : public ::testing::TestWithParam<SimdPath> {};

void check_against_reference(ThreadPool& pool, SimdPath path, MatmulShape s, bool with_bias, uint64_t seed) {
    Rng rng(seed);
    const int64_t kb = s.k / 32;
    std::vector<float> x = random_floats(rng, s.n * s.k, -1.0f, 1.0f);   // [n, k]
    std::vector<uint8_t> blocks = random_bytes(rng, s.m * kb * 16);      // [m, k/32, 16]
    std::vector<uint8_t> scales = random_bytes(rng, s.m * kb, 118, 135); // [m, k/32], 2^-9 .. 2^8
    std::vector<uint16_t> bias = random_bf16(rng, s.m, -3.0f, 3.0f);     // [m]
    std::vector<float> y(static_cast<size_t>(s.n * s.m), NAN);           // [n, m]
    mxfp4w_matmul(pool, x.data(), s.n, s.k, blocks.data(), scales.data(), s.m, with_bias ? bias.data() : nullptr,
                  y.data(), path);

    for (int64_t t = 0; t < s.n; ++t) {
        for (int64_t r = 0; r < s.m; ++r) {
            double b = with_bias ? bf16_to_f32(bias[r]) : 0.0;
            double ref = b;
            double abs_sum = std::fabs(b);
            for (int64_t i = 0; i < s.k; ++i) {
                double term = x[t * s.k + i] * ref_weight(&blocks[r * kb * 16], &scales[r * kb], i);
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

TEST_P(Mxfp4wMatmulTest, MatchesReferenceOnEdgeShapes) {
    TLLM_SKIP_IF_NO_PATH(GetParam());
    // k = 32 (one block), odd block counts (the two-block loop's tail), 90 blocks as in gpt-oss; n = 1
    // (fused path) and n > 1 (decoded tiles); m not a multiple of the 4-row tile, 16-row block or grain.
    const MatmulShape shapes[] = {{1, 32, 1},  {1, 32, 7},    {1, 64, 33},  {1, 96, 5},  {1, 2880, 70}, {2, 32, 3},
                                  {3, 96, 17}, {4, 2880, 37}, {8, 160, 67}, {5, 64, 16}, {7, 32, 100}};
    for (int threads : {1, 3}) {
        ThreadPool pool(threads);
        uint64_t seed = 100;
        for (const MatmulShape& s : shapes) {
            for (bool with_bias : {false, true}) {
                check_against_reference(pool, GetParam(), s, with_bias, seed++);
            }
        }
    }
}

// Row r holds the single code r at element p; every other code is 0. A one-hot x at p then reads
// code r · 2^(e−127) exactly. The sign of −0 (code 8) cannot show through an f32 sum that starts
// at +0, so code 8 is checked to decode as a zero of either sign.
TEST_P(Mxfp4wMatmulTest, DecodesSpecTableAtScaleExtremes) {
    TLLM_SKIP_IF_NO_PATH(GetParam());
    ThreadPool pool(3);
    const int64_t k = 96, kb = 3, m = 16;
    const int64_t positions[] = {0, 1, 2, 15, 16, 30, 31, 32, 33, 63, 64, 95};
    for (int e : {0, 1, 2, 100, 126, 127, 128, 129, 200, 253, 254, 255}) {
        std::vector<uint8_t> scales(static_cast<size_t>(m * kb), static_cast<uint8_t>(e));
        for (int64_t p : positions) {
            std::vector<uint8_t> blocks(static_cast<size_t>(m * kb * 16), 0);
            for (int64_t r = 0; r < m; ++r) {
                uint8_t& byte = blocks[r * kb * 16 + (p / 32) * 16 + (p % 32) / 2];
                byte = static_cast<uint8_t>(p % 2 == 0 ? r : r << 4);
            }
            for (int64_t n : {1, 3}) { // n = 1 fused path, n = 3 decoded tiles
                for (float xv : {1.0f, -0.75f}) {
                    std::vector<float> x(static_cast<size_t>(n * k), 0.0f);
                    for (int64_t t = 0; t < n; ++t) {
                        x[t * k + p] = xv;
                    }
                    std::vector<float> y(static_cast<size_t>(n * m), NAN);
                    mxfp4w_matmul(pool, x.data(), n, k, blocks.data(), scales.data(), m, nullptr, y.data(), GetParam());
                    for (int64_t t = 0; t < n; ++t) {
                        for (int64_t r = 0; r < m; ++r) {
                            // The weight is dequantized first (as the reference does), overflowing to
                            // ±inf beyond FLT_MAX; then one exact-or-overflowing f32 product with x.
                            double weight = std::ldexp(kSpecE2m1[r], e - 127);
                            float weight_f32 = std::fabs(weight) > FLT_MAX ? (weight > 0 ? INFINITY : -INFINITY)
                                                                           : static_cast<float>(weight);
                            float want = weight_f32 * xv;
                            float got = y[t * m + r];
                            ASSERT_EQ(got, want) << "scale byte " << e << " code " << r << " position " << p
                                                 << " n=" << n << " x=" << xv << " token " << t;
                        }
                    }
                }
            }
        }
    }
}

TEST_P(Mxfp4wMatmulTest, ScaleBytesAreNotSpecialCased) {
    TLLM_SKIP_IF_NO_PATH(GetParam());
    // E8M0 255 is NaN in the OCP spec, but the reference's ldexp makes it 2^128: code 0.5 gives 2^127.
    ThreadPool pool(1);
    std::vector<uint8_t> blocks(16, 0);
    blocks[0] = 0x01; // element 0 = +0.5, the rest +0
    std::vector<uint8_t> scales = {255};
    std::vector<float> x(32, 0.0f);
    x[0] = 1.0f;
    float y = 0.0f;
    mxfp4w_matmul(pool, x.data(), 1, 32, blocks.data(), scales.data(), 1, nullptr, &y, GetParam());
    EXPECT_EQ(y, 0x1p127f);
}

INSTANTIATE_TEST_SUITE_P(Paths,
                         Mxfp4wMatmulTest,
                         ::testing::Values(SimdPath::kPortable, SimdPath::kAvx2),
                         test_util::path_param_name);

} // namespace
} // namespace tllm::cpu
