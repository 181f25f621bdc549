#include "core/check.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace tllm::cpu {

float logits_logprobs(
    const float* logits, int64_t vocab, int32_t token, int64_t top, int32_t* top_ids, float* top_logprobs) {
    TLLM_CHECK(vocab > 0 && token >= 0 && token < vocab && top >= 0 && top <= vocab,
               "logits_logprobs vocab={} token={} top={}", vocab, token, top);
    // The sum in double, so that a long vocabulary's small terms are not lost.
    const float max = *std::max_element(logits, logits + vocab);
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) {
        sum += std::exp(static_cast<double>(logits[i]) - max);
    }
    const double norm = max + std::log(sum);
    if (top > 0) {
        std::vector<int32_t> ids(static_cast<size_t>(vocab));
        std::iota(ids.begin(), ids.end(), 0);
        std::partial_sort(ids.begin(), ids.begin() + top, ids.end(), [&](int32_t a, int32_t b) {
            return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
        });
        for (int64_t i = 0; i < top; ++i) {
            top_ids[i] = ids[static_cast<size_t>(i)];
            top_logprobs[i] = static_cast<float>(logits[ids[static_cast<size_t>(i)]] - norm);
        }
    }
    return static_cast<float>(logits[token] - norm);
}

} // namespace tllm::cpu
