// Helpers shared by the runtime tests that compare logits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace tllm::test_util {

// Largest |a − b| relative to the largest |b| in the row.
inline double max_relative_difference(std::span<const float> a, std::span<const float> b) {
    double worst = 0.0, scale = 1e-30;
    for (size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
        scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
    }
    return worst / scale;
}

// n token ids spread over the vocabulary, different for each salt.
inline std::vector<int32_t> some_tokens(int64_t vocab, size_t n, uint32_t salt) {
    std::vector<int32_t> tokens(n);
    for (size_t i = 0; i < n; ++i) {
        tokens[i] = static_cast<int32_t>((i * 7919u + salt * 104729u + 13u) % static_cast<uint64_t>(vocab));
    }
    return tokens;
}

} // namespace tllm::test_util
