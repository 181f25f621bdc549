// swiglu_interleaved against a double-precision reference of the clamped SwiGLU.
// Tolerance: |out − ref| <= 1e-5 · (1e-3 + |ref|) (f32 exp, the division and two products).
#include "kernel_test_util.h"

#include <algorithm>
#include <cmath>

namespace tllm::cpu {
namespace {

double reference(double gate, double linear, double alpha, double limit) {
    gate = std::min(gate, limit);
    linear = std::clamp(linear, -limit, limit);
    return gate / (1.0 + std::exp(-alpha * gate)) * (linear + 1.0);
}

void check(const std::vector<float>& h, int64_t n, int64_t d, float alpha, float limit) {
    std::vector<float> out(static_cast<size_t>(n * d), NAN);
    swiglu_interleaved(h.data(), n, d, alpha, limit, out.data());
    for (int64_t t = 0; t < n; ++t) {
        for (int64_t i = 0; i < d; ++i) {
            double gate = h[t * 2 * d + 2 * i], linear = h[t * 2 * d + 2 * i + 1];
            double ref = reference(gate, linear, alpha, limit);
            ASSERT_LE(std::fabs(out[t * d + i] - ref), 1e-5 * (1e-3 + std::fabs(ref)))
                << "token " << t << " index " << i << " gate " << gate << " linear " << linear << ": got "
                << out[t * d + i] << " ref " << ref;
        }
    }
}

TEST(SwigluInterleaved, MatchesReferenceAcrossTheClamps) {
    Rng rng(1);
    for (int64_t n : {1, 3}) {
        for (int64_t d : {1, 7, 2880}) {
            // [-12, 12] crosses both clamps (limit 7) and the sigmoid's saturation.
            std::vector<float> h = test_util::random_floats(rng, n * 2 * d, -12.0f, 12.0f);
            check(h, n, d, 1.702f, 7.0f);
        }
    }
}

TEST(SwigluInterleaved, ClampsGateFromAboveOnlyAndLinearBothWays) {
    // Pairs (gate, linear): gate 9 → 7; gate −9 stays −9; linear ±9 → ±7.
    const std::vector<float> h = {9.0f, 0.0f, -9.0f, 0.0f, 1.0f, 9.0f, 1.0f, -9.0f};
    check(h, 1, 4, 1.702f, 7.0f);
    std::vector<float> out(4);
    swiglu_interleaved(h.data(), 1, 4, 1.702f, 7.0f, out.data());
    EXPECT_NEAR(out[0], 7.0 / (1.0 + std::exp(-1.702 * 7.0)), 1e-5);
    EXPECT_NEAR(out[3], -6.0 / (1.0 + std::exp(-1.702)), 1e-5);
}

} // namespace
} // namespace tllm::cpu
