// Pins the host copy of the sampling arithmetic (core/sampling_math.h) to known bits, and checks that its
// approximations are accurate. The device copy in f32_logits_sample.cu must give the same bits: the GPU test
// compares whole draws with the CPU sampler, which uses this copy.
#include "core/sampling_math.h"

#include <bit>
#include <cmath>
#include <gtest/gtest.h>
#include <limits>

namespace tllm::sampling {
namespace {

TEST(SamplingMath, OrderKeyPreservesOrderAndFoldsZeroAndNaN) {
    const float inf = std::numeric_limits<float>::infinity();
    const float values[] = {-inf, -3e38f, -1.0f, -1e-40f, 0.0f, 1e-40f, 1e-30f, 1.0f, 1.0000001f, 3e38f, inf};
    for (size_t i = 0; i + 1 < std::size(values); ++i) {
        EXPECT_LT(order_key(values[i]), order_key(values[i + 1])) << values[i];
    }
    for (float value : values) {
        EXPECT_EQ(std::bit_cast<uint32_t>(key_to_float(order_key(value))), std::bit_cast<uint32_t>(value));
    }
    EXPECT_EQ(order_key(-0.0f), order_key(0.0f));
    EXPECT_EQ(order_key(0.0f), 0x80000000u);
    EXPECT_EQ(order_key(-inf), 0x007fffffu);
    EXPECT_EQ(order_key(std::numeric_limits<float>::quiet_NaN()), 0u);
    EXPECT_EQ(order_key(-std::numeric_limits<float>::quiet_NaN()), 0u);
}

TEST(SamplingMath, HashMatchesKnownValues) {
    EXPECT_EQ(mix64(1), 0x5692161d100b05e5ull);
    EXPECT_EQ(draw_stream(0, 0), 0x48218226ff3cd4bfull);
    const uint64_t stream = draw_stream(42, 7);
    EXPECT_EQ(stream, 0xd56fd4491d82a4ddull);
    EXPECT_EQ(draw_bits(stream, 0), 0xdeb745u);
    EXPECT_EQ(draw_bits(stream, 1), 0xab8922u);
    EXPECT_EQ(draw_bits(stream, 201087), 0x9f0b65u);
}

TEST(SamplingMath, NegLogUniformMatchesKnownBits) {
    EXPECT_EQ(neg_log_uniform(0), 0x1.154246p+4f);
    EXPECT_EQ(neg_log_uniform(12345), 0x1.cdba2p+2f);
    EXPECT_EQ(neg_log_uniform((1u << 23) - 1), 0x1.62e432p-1f);
    EXPECT_EQ(neg_log_uniform(1u << 23), 0x1.62e42ep-1f);
    EXPECT_EQ(neg_log_uniform((1u << 24) - (1u << 22) - 1), 0x1.269624p-2f);
    EXPECT_EQ(neg_log_uniform((1u << 24) - (1u << 22)), 0x1.26961ep-2f);
    EXPECT_EQ(neg_log_uniform((1u << 24) - 2), 0x1.800002p-24f);
    EXPECT_EQ(neg_log_uniform((1u << 24) - 1), 0x1p-25f);
}

TEST(SamplingMath, NegLogUniformIsAccurateEverywhere) {
    // Every one of the 2^24 inputs, against double-precision log: a few float ulps at most.
    double worst = 0;
    for (uint32_t bits = 0; bits < (1u << 24); ++bits) {
        const double exact = -std::log((bits + 0.5) / 16777216.0);
        worst = std::max(worst, std::fabs(neg_log_uniform(bits) - exact) / exact);
    }
    EXPECT_LT(worst, 3e-7);
}

TEST(SamplingMath, LogIsAccurate) {
    double worst = 0;
    for (float x = 1e-37f; x < 3e38f; x *= 1.0003f) {
        const double exact = std::log(static_cast<double>(x));
        worst = std::max(worst, std::fabs(log_positive(x) - exact) / std::max(std::fabs(exact), 1.0));
    }
    EXPECT_LT(worst, 3e-7);
}

TEST(SamplingMath, GumbelScoreMatchesKnownBits) {
    const uint64_t stream = draw_stream(42, 7);
    EXPECT_EQ(std::bit_cast<uint32_t>(gumbel_score(0.0f, stream, 0)), 0x3ffc526fu);
    EXPECT_EQ(std::bit_cast<uint32_t>(gumbel_score(0.0f, stream, 5)), 0x3f7f1348u);
    EXPECT_EQ(std::bit_cast<uint32_t>(gumbel_score(1.5f, stream, 0)), 0x405e2938u);
    EXPECT_EQ(std::bit_cast<uint32_t>(gumbel_score(-3.25f, stream, 5)), 0xc0103b2eu);
    EXPECT_EQ(std::bit_cast<uint32_t>(gumbel_score(20.0f, stream, 5)), 0x41a7f89au);
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(gumbel_score(inf, stream, 3), inf);
    EXPECT_EQ(gumbel_score(-inf, stream, 3), -inf);
}

TEST(SamplingMath, FixedWeightFollowsExp) {
    EXPECT_EQ(fixed_weight(0.0f, 0.0f), kMassOne);
    EXPECT_EQ(fixed_weight(-0.5f, 0.0f), 2605029376u);
    EXPECT_EQ(fixed_weight(-1.0f, 0.0f), 1580030208u);
    EXPECT_EQ(fixed_weight(-10.0f, 0.0f), 194991u);
    EXPECT_EQ(fixed_weight(-22.0f, 0.0f), 1u);
    EXPECT_EQ(fixed_weight(-22.2f, 0.0f), 0u);
    EXPECT_EQ(fixed_weight(-23.5f, 0.0f), 0u);
    // Within a few float ulps of exp, plus the floor's one unit.
    for (float d = 0.0f; d > -23.0f; d -= 1e-4f) {
        const float scaled = d + 3.0f;
        const double exact = std::exp(static_cast<double>(scaled) - 3.0) * 4294967296.0;
        ASSERT_NEAR(static_cast<double>(fixed_weight(scaled, 3.0f)), exact, exact * 5e-7 + 1.0) << d;
    }
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(fixed_weight(inf, inf), kMassOne);
    EXPECT_EQ(fixed_weight(-inf, -inf), kMassOne);
    EXPECT_EQ(fixed_weight(1e30f, inf), 0u);
    EXPECT_EQ(fixed_weight(-inf, 0.0f), 0u);
}

TEST(SamplingMath, TopPTargetIsTheExactCeiling) {
    EXPECT_EQ(top_p_target(3 * kMassOne, 0.5f), 3 * kMassOne / 2);
    EXPECT_EQ(top_p_target(3, 0.5f), 2u);
    EXPECT_EQ(top_p_target(1, 1e-30f), 1u);
    EXPECT_EQ(top_p_target(kMassOne, 1e-30f), 1u);
    const uint64_t totals[] = {1, 7, kMassOne, kMassOne + 12345, 201088 * kMassOne - 99, (1ull << 62) + 3};
    const float tops[] = {0.9f, 0.5f, 0.1f, 0.999999f, 2e-3f, 0.7f}; // >= 2^-9: exact
    for (uint64_t total : totals) {
        for (float top_p : tops) {
            // ceil(top_p * total) exactly: top_p = m * 2^e with a 24-bit m.
            int exponent = 0;
            const float mantissa = std::frexp(top_p, &exponent);
            const auto m = static_cast<unsigned __int128>(std::ldexp(mantissa, 24));
            const unsigned __int128 product = m * total;
            const int shift = 24 - exponent;
            const unsigned __int128 ceiling = (product + ((static_cast<unsigned __int128>(1) << shift) - 1)) >> shift;
            EXPECT_EQ(top_p_target(total, top_p), std::max<uint64_t>(1, static_cast<uint64_t>(ceiling)))
                << total << " " << top_p;
        }
    }
}

} // namespace
} // namespace tllm::sampling
