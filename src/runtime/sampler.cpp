#include "runtime/sampler.h"

#include "core/check.h"

#include <algorithm>
#include <cmath>

namespace tllm {

int32_t Sampler::sample(std::span<const float> logits) {
    TLLM_CHECK(!logits.empty(), "sampling from no logits");
    if (params_.temperature <= 0.0f) {
        // First maximum, as torch.argmax.
        return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    candidates_.clear();
    candidates_.reserve(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) {
        candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
    }
    auto by_logit = [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    size_t keep = candidates_.size();
    if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
        keep = static_cast<size_t>(params_.top_k);
        std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep),
                          candidates_.end(), by_logit);
    } else if (params_.top_p < 1.0f) {
        std::sort(candidates_.begin(), candidates_.end(), by_logit);
    }
    candidates_.resize(keep);
    const float max_logit = std::max_element(candidates_.begin(), candidates_.end())->first;
    double total = 0.0;
    std::vector<double> probabilities(keep);
    for (size_t i = 0; i < keep; ++i) {
        probabilities[i] = std::exp(static_cast<double>((candidates_[i].first - max_logit) / params_.temperature));
        total += probabilities[i];
    }
    if (params_.top_p < 1.0f) {
        // Candidates are sorted: keep the shortest prefix whose mass reaches top_p.
        double mass = 0.0;
        size_t cut = keep;
        for (size_t i = 0; i < keep; ++i) {
            mass += probabilities[i] / total;
            if (mass >= params_.top_p) {
                cut = i + 1;
                break;
            }
        }
        keep = cut;
        total = 0.0;
        for (size_t i = 0; i < keep; ++i) {
            total += probabilities[i];
        }
    }
    double draw = static_cast<double>(rng_.uniform()) * total;
    for (size_t i = 0; i < keep; ++i) {
        draw -= probabilities[i];
        if (draw < 0.0) {
            return candidates_[i].second;
        }
    }
    return candidates_[keep - 1].second;
}

} // namespace tllm
