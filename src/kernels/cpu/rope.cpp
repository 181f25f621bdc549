// Rotary embedding (YaRN tables supplied as inv_freq), half-split pairs, rotated in f32.
#include "core/check.h"
#include "kernels/cpu/ops.h"

#include <cmath>
#include <vector>

namespace tllm::cpu {

void rope_inplace(float* x,
                  const int32_t* positions,
                  int64_t n_tokens,
                  int64_t n_heads,
                  int64_t head_dim,
                  const float* inv_freq,
                  float concentration) {
    TLLM_CHECK(n_tokens >= 0 && n_heads >= 0 && head_dim > 0 && head_dim % 2 == 0,
               "bad shape tokens={} heads={} dim={}", n_tokens, n_heads, head_dim);
    int64_t half = head_dim / 2;
    std::vector<float> cos_c(static_cast<size_t>(half)); // [head_dim/2] cos·concentration of this token
    std::vector<float> sin_c(static_cast<size_t>(half)); // [head_dim/2] sin·concentration of this token
    for (int64_t t = 0; t < n_tokens; ++t) {
        // The angle is one f32 product, as torch's einsum over f32 positions computes it: at large
        // positions its rounding is visible, so it must not be formed in double.
        float position = static_cast<float>(positions[t]);
        for (int64_t i = 0; i < half; ++i) {
            float angle = position * inv_freq[i];
            cos_c[i] = std::cos(angle) * concentration;
            sin_c[i] = std::sin(angle) * concentration;
        }
        for (int64_t h = 0; h < n_heads; ++h) {
            float* v = x + (t * n_heads + h) * head_dim;
            for (int64_t i = 0; i < half; ++i) {
                float x1 = v[i];
                float x2 = v[i + half];
                v[i] = x1 * cos_c[i] - x2 * sin_c[i];
                v[i + half] = x2 * cos_c[i] + x1 * sin_c[i];
            }
        }
    }
}

} // namespace tllm::cpu
