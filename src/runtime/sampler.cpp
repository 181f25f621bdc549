#include "runtime/sampler.h"

#include "core/check.h"
#include "core/sampling_math.h"

#include <algorithm>
#include <array>
#include <limits>

namespace tllm {
namespace {

using namespace sampling;

// The largest key threshold t such that the tokens with lowest <= key and key >= t weigh at least `need`
// (weights empty: each token weighs 1, i.e. the need-th largest key). The GPU runs the same passes; like it,
// a count select stops once the chosen bin lies wholly inside the set, returning the bin's lowest key, which
// selects the same tokens.
uint32_t
radix_select(std::span<const uint32_t> keys, std::span<const uint64_t> weights, uint32_t lowest, uint64_t need) {
    const bool counting = weights.empty();
    std::array<uint64_t, kRadixBins> hist;
    uint32_t prefix = 0;
    for (int pass = 0; pass < kRadixPasses; ++pass) {
        hist.fill(0);
        const int shift = kRadixShift[pass];
        const uint32_t mask = (1u << kRadixWidth[pass]) - 1;
        const int above = pass == 0 ? 0 : kRadixShift[pass - 1];
        for (size_t i = 0; i < keys.size(); ++i) {
            const uint32_t key = keys[i];
            if (key < lowest || (pass > 0 && (key >> above) != (prefix >> above))) {
                continue;
            }
            hist[(key >> shift) & mask] += counting ? 1 : weights[i];
        }
        // The largest digit whose suffix sum reaches the need.
        uint64_t above_sum = 0;
        int digit = static_cast<int>(mask);
        for (; digit >= 0; --digit) {
            if (above_sum + hist[digit] >= need) {
                break;
            }
            above_sum += hist[digit];
        }
        TLLM_CHECK(digit >= 0, "radix select: need {} exceeds the total {}", need, above_sum);
        need -= above_sum;
        prefix |= static_cast<uint32_t>(digit) << shift;
        if (counting && hist[digit] == need) {
            break;
        }
    }
    return prefix;
}

} // namespace

Status validate_sampling_params(const SamplingParams& params) {
    if (const char* problem = sampling_params_problem(params.temperature, params.top_p, params.top_k)) {
        return make_error(ErrorCode::kInvalidArgument, "{} (temperature {}, top_p {}, top_k {})", problem,
                          params.temperature, params.top_p, params.top_k);
    }
    return {};
}

Sampler::Sampler(const SamplingParams& params) : params_(params) {
    const Status valid = validate_sampling_params(params);
    TLLM_CHECK(valid.ok(), "{}", valid.error().to_string());
}

uint32_t Sampler::candidate_cut(std::span<const float> logits) {
    TLLM_CHECK(!is_greedy(params_), "greedy sampling has no candidate set");
    const size_t n = logits.size();
    const float inverse = inverse_temperature(params_.temperature);
    scaled_.resize(n);
    keys_.resize(n);
    uint32_t max_key = 0;
    for (size_t i = 0; i < n; ++i) {
        scaled_[i] = logits[i] * inverse;
        keys_[i] = order_key(scaled_[i]);
        max_key = std::max(max_key, keys_[i]);
    }
    uint32_t cut = 0;
    if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
        const uint32_t kth = radix_select(keys_, {}, 0, static_cast<uint64_t>(params_.top_k));
        cut = kth > 0 ? kth - 1 : 0;
    }
    // With every logit NaN there is nothing to weigh: the set stays empty.
    if (params_.top_p < 1.0f && max_key > 0) {
        const float max = key_to_float(max_key);
        weights_.resize(n);
        uint64_t total = 0;
        for (size_t i = 0; i < n; ++i) {
            weights_[i] = keys_[i] > cut ? fixed_weight(scaled_[i], max) : 0;
            total += weights_[i];
        }
        // The threshold is the key of a token with positive mass, so it is at least 1.
        cut = radix_select(keys_, weights_, cut + 1, top_p_target(total, params_.top_p)) - 1;
    }
    return cut;
}

int32_t Sampler::sample(std::span<const float> logits, uint64_t counter) {
    TLLM_CHECK(!logits.empty(), "sampling from no logits");
    TLLM_CHECK(logits.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()), "vocab {} too large",
               logits.size());
    if (is_greedy(params_)) {
        // Keys order numbers as floats do and put NaN (key 0) below them all; with strict > the first
        // maximum wins, and all-NaN logits give token 0.
        uint32_t best_key = 0;
        int32_t best = 0;
        for (size_t i = 0; i < logits.size(); ++i) {
            const uint32_t key = order_key(logits[i]);
            if (key > best_key) {
                best_key = key;
                best = static_cast<int32_t>(i);
            }
        }
        return best;
    }
    const uint32_t cut = candidate_cut(logits);
    const uint64_t stream = draw_stream(params_.seed, counter);
    // (key of the score, ~index): the maximum is the best score, ties to the lowest index, as the GPU packs it.
    uint64_t best = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        if (keys_[i] > cut) {
            const uint32_t index = static_cast<uint32_t>(i);
            const float score = gumbel_score(scaled_[i], stream, index);
            best = std::max(best, (static_cast<uint64_t>(order_key(score)) << 32) | ~index);
        }
    }
    return best != 0 ? static_cast<int32_t>(~static_cast<uint32_t>(best)) : 0;
}

} // namespace tllm
