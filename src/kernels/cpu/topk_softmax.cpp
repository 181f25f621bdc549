// MoE router: top-k experts per token and a softmax over just those k logits.
#include "core/check.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace tllm::cpu {

void topk_softmax(
    const float* logits, int64_t n_tokens, int64_t n_experts, int64_t k, int32_t* expert_ids, float* weights) {
    TLLM_CHECK(n_tokens >= 0 && k >= 1 && k <= n_experts, "bad shape tokens={} experts={} k={}", n_tokens, n_experts,
               k);
    std::vector<int32_t> order(static_cast<size_t>(n_experts)); // [n_experts] expert ids, best first
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* row = logits + t * n_experts;
        std::iota(order.begin(), order.end(), 0);
        // NaN ranks above everything, as in torch.topk; otherwise larger first, then lower index. This
        // is a strict weak order even with NaNs, which a bare `>` would not be.
        auto before = [row](int32_t a, int32_t b) {
            bool a_nan = std::isnan(row[a]);
            bool b_nan = std::isnan(row[b]);
            if (a_nan != b_nan) {
                return a_nan;
            }
            if (!a_nan && row[a] != row[b]) {
                return row[a] > row[b];
            }
            return a < b;
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        float max_logit = row[order[0]];
        float sum = 0.0f;
        for (int64_t j = 0; j < k; ++j) {
            float e = std::exp(row[order[j]] - max_logit);
            weights[t * k + j] = e;
            sum += e;
        }
        for (int64_t j = 0; j < k; ++j) {
            expert_ids[t * k + j] = order[j];
            weights[t * k + j] /= sum;
        }
    }
}

} // namespace tllm::cpu
