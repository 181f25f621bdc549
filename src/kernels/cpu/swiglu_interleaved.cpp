// gpt-oss clamped SwiGLU on mlp1's interleaved output rows (even = gate, odd = linear).
#include "core/check.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>

namespace tllm::cpu {

void swiglu_interleaved(const float* h, int64_t n, int64_t d, float alpha, float limit, float* out) {
    TLLM_CHECK(n >= 0 && d >= 0, "bad shape n={} d={}", n, d);
    for (int64_t t = 0; t < n; ++t) {
        const float* row = h + t * 2 * d;
        float* dst = out + t * d;
        for (int64_t i = 0; i < d; ++i) {
            // std::min/std::clamp return their first argument when it is NaN, as torch's clamp does.
            float gate = std::min(row[2 * i], limit);
            float linear = std::clamp(row[2 * i + 1], -limit, limit);
            float sigmoid = 1.0f / (1.0f + std::exp(-alpha * gate));
            dst[i] = (gate * sigmoid) * (linear + 1.0f);
        }
    }
}

} // namespace tllm::cpu
