// rope_inplace against a double-precision reference of the rotation. The angle is defined as the
// f32 product position·inv_freq (as torch forms it); cos, sin and the rotation are then taken in
// double. Tolerance: |out − ref| <= 2e-6 · conc · (1 + |x_i| + |x_{i+h}|) (cosf/sinf within an ulp
// or two, plus the rotation's roundings).
#include "kernel_test_util.h"

#include <algorithm>
#include <cmath>

namespace tllm::cpu {
namespace {

using test_util::random_floats;

// The gpt-oss YaRN table (spec §A.3) for the given head_dim.
std::vector<float> yarn_inv_freq(int64_t head_dim) {
    const double theta = 150000.0, factor = 32.0, alpha = 1.0, beta = 32.0, ctx = 4096.0;
    const double pi = 3.14159265358979323846;
    const double d = static_cast<double>(head_dim);
    double low = d / 2 * std::log(ctx / (beta * 2 * pi)) / std::log(theta);
    double high = d / 2 * std::log(ctx / (alpha * 2 * pi)) / std::log(theta);
    std::vector<float> inv(static_cast<size_t>(head_dim / 2));
    for (int64_t i = 0; i < head_dim / 2; ++i) {
        double freq = std::pow(theta, 2.0 * static_cast<double>(i) / d);
        double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
        inv[static_cast<size_t>(i)] = static_cast<float>((1 - ramp) / freq + ramp / (factor * freq));
    }
    return inv;
}

void check(const std::vector<int32_t>& positions,
           int64_t n_heads,
           int64_t head_dim,
           const std::vector<float>& inv_freq,
           float conc,
           uint64_t seed) {
    Rng rng(seed);
    const int64_t n = static_cast<int64_t>(positions.size());
    const int64_t half = head_dim / 2;
    std::vector<float> x = random_floats(rng, n * n_heads * head_dim, -2.0f, 2.0f); // [n, heads, dim]
    std::vector<float> input = x;
    rope_inplace(x.data(), positions.data(), n, n_heads, head_dim, inv_freq.data(), conc);
    for (int64_t t = 0; t < n; ++t) {
        for (int64_t h = 0; h < n_heads; ++h) {
            for (int64_t i = 0; i < half; ++i) {
                float angle = static_cast<float>(positions[t]) * inv_freq[i];
                double c = std::cos(static_cast<double>(angle)) * conc;
                double s = std::sin(static_cast<double>(angle)) * conc;
                int64_t base = (t * n_heads + h) * head_dim;
                double x1 = input[base + i], x2 = input[base + i + half];
                double ref1 = x1 * c - x2 * s, ref2 = x2 * c + x1 * s;
                double tol = 2e-6 * conc * (1.0 + std::fabs(x1) + std::fabs(x2));
                ASSERT_LE(std::fabs(x[base + i] - ref1), tol)
                    << "position " << positions[t] << " head " << h << " index " << i << ": got " << x[base + i]
                    << " ref " << ref1;
                ASSERT_LE(std::fabs(x[base + i + half] - ref2), tol)
                    << "position " << positions[t] << " head " << h << " index " << i + half << ": got "
                    << x[base + i + half] << " ref " << ref2;
            }
        }
    }
}

TEST(Rope, MatchesReferenceWithYarnTable) {
    const float conc = static_cast<float>(0.1 * std::log(32.0) + 1.0);
    check({0}, 1, 64, yarn_inv_freq(64), conc, 1);
    check({0, 1, 2, 3, 4}, 3, 64, yarn_inv_freq(64), conc, 2);
    check({131071, 4095, 77777, 100000}, 2, 64, yarn_inv_freq(64), conc, 3);
    check({5, 1000}, 4, 4, yarn_inv_freq(4), 1.0f, 4);
}

TEST(Rope, AngleIsAnF32Product) {
    // At position 131071 the f32 product 131071·0.7f misses the exact one by ~3e-3 rad, far beyond the
    // tolerance: passing means the kernel rounds the angle to f32 exactly once.
    std::vector<float> inv_freq = {0.7f, 0.3f, 1.1f, 0.013f};
    check({131071, 99999, 65537}, 2, 8, inv_freq, 1.25f, 5);
}

TEST(Rope, PositionZeroScalesByConcentration) {
    std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.5f};
    std::vector<int32_t> positions = {0};
    std::vector<float> inv_freq = {0.9f, 0.1f};
    rope_inplace(x.data(), positions.data(), 1, 1, 4, inv_freq.data(), 2.0f);
    const float want[] = {2.0f, -4.0f, 6.0f, 1.0f};
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(x[i], want[i]) << "index " << i;
    }
}

} // namespace
} // namespace tllm::cpu
