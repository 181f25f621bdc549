// rmsnorm against a double-precision reference x / sqrt(mean(x²) + eps) · scale.
// Tolerance: |out − ref| <= 1e-5 · (1e-3 + |ref|) per element: a handful of f32 roundings in the
// mean, the rsqrt and two products, relative to each output.
#include "kernel_test_util.h"

#include <cmath>

namespace tllm::cpu {
namespace {

using test_util::random_bf16;
using test_util::random_floats;

void check(int64_t n, int64_t d, float magnitude, bool in_place, uint64_t seed) {
    Rng rng(seed);
    const float eps = 1e-5f;
    std::vector<float> x = random_floats(rng, n * d, -magnitude, magnitude); // [n, d]
    std::vector<uint16_t> scale = random_bf16(rng, d, -2.0f, 2.0f);          // [d]
    std::vector<float> out(x.size(), NAN);
    std::vector<float> input = x;
    float* dst = in_place ? x.data() : out.data();
    rmsnorm(x.data(), scale.data(), n, d, eps, dst);
    for (int64_t t = 0; t < n; ++t) {
        double sum_sq = 0.0;
        for (int64_t i = 0; i < d; ++i) {
            sum_sq += static_cast<double>(input[t * d + i]) * input[t * d + i];
        }
        double inv_rms = 1.0 / std::sqrt(sum_sq / static_cast<double>(d) + static_cast<double>(eps));
        for (int64_t i = 0; i < d; ++i) {
            double ref = input[t * d + i] * inv_rms * bf16_to_f32(scale[i]);
            double got = dst[t * d + i];
            ASSERT_LE(std::fabs(got - ref), 1e-5 * (1e-3 + std::fabs(ref)))
                << "n=" << n << " d=" << d << " magnitude=" << magnitude << " in_place=" << in_place << " at token "
                << t << " index " << i << ": got " << got << " ref " << ref;
        }
    }
}

TEST(Rmsnorm, MatchesReference) {
    uint64_t seed = 1;
    for (int64_t n : {1, 3}) {
        for (int64_t d : {1, 7, 8, 33, 2880}) {
            for (bool in_place : {false, true}) {
                check(n, d, 1.0f, in_place, seed++);
            }
        }
    }
}

TEST(Rmsnorm, EpsMattersForTinyInputs) {
    // mean(x²) ~ 3e-7 is far below eps = 1e-5: an eps added in the wrong place shows up at once.
    check(2, 2880, 1e-3f, false, 40);
    check(2, 2880, 300.0f, false, 41);
}

TEST(Rmsnorm, ZeroRowStaysZero) {
    std::vector<float> x(16, 0.0f);
    std::vector<uint16_t> scale(16, f32_to_bf16_bits(1.0f));
    std::vector<float> out(16, NAN);
    rmsnorm(x.data(), scale.data(), 1, 16, 1e-5f, out.data());
    for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_EQ(out[i], 0.0f) << "index " << i;
    }
}

} // namespace
} // namespace tllm::cpu
