// RMSNorm in f32, in the reference's order: (x · rsqrt(mean(x²) + eps)) · scale.
#include "core/check.h"
#include "core/dtype.h"
#include "kernels/cpu/ops.h"

#include <cmath>

namespace tllm::cpu {

void rmsnorm(const float* x, const uint16_t* scale, int64_t n, int64_t d, float eps, float* out) {
    TLLM_CHECK(n >= 0 && d > 0, "bad shape n={} d={}", n, d);
    for (int64_t t = 0; t < n; ++t) {
        const float* row = x + t * d;
        // Eight partial sums (like torch's vectorized reduction) keep the f32 error well below a
        // single running sum's over d = 2880.
        float lanes[8] = {};
        int64_t i = 0;
        for (; i + 8 <= d; i += 8) {
#pragma GCC unroll 8
            for (int l = 0; l < 8; ++l) {
                lanes[l] += row[i + l] * row[i + l];
            }
        }
        float sum_sq =
            ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        for (; i < d; ++i) {
            sum_sq += row[i] * row[i];
        }
        float inv_rms = 1.0f / std::sqrt(sum_sq / static_cast<float>(d) + eps);
        // Element i is read before out[i] is written, so out may alias x.
        float* dst = out + t * d;
        for (int64_t j = 0; j < d; ++j) {
            dst[j] = (row[j] * inv_rms) * bf16_to_f32(scale[j]);
        }
    }
}

} // namespace tllm::cpu
