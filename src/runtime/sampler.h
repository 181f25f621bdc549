// Token sampling from logits. The CPU sampler here and the GPU sampler (kernels/cuda/logits_sampler.h) run
// one algorithm with the same integer and IEEE float steps (core/sampling_math.h), so for the same logits,
// parameters, seed and counter they choose the same token.
//
// The algorithm, for logits x[0, n):
//  * Greedy when temperature == 0 or top_k == 1: the argmax of x, ties to the lowest index; NaN is never
//    chosen unless every logit is NaN (then token 0).
//  * Otherwise s_i = x_i * (1 / T) (sampling_math.h's inverse_temperature) and key_i = order_key(s_i), an
//    order-preserving u32 with NaN -> 0. The candidates are S = {i : key_i > cut}, built in two steps:
//    - top_k > 0 (and < n): the k largest s, keeping every token equal to the k-th value, so a tie at the
//      boundary can make S larger than k (NaNs never enter: with fewer than k numbers, all numbers are kept);
//    - top_p < 1: within that set, the fewest largest s whose mass reaches top_p, keeping every token equal to
//      the last value taken. Masses are integers, w_i = floor(exp(s_i - max s) * 2^32) (0 below max - 23,
//      2^32 for the max itself), so sums do not depend on order; "reaches" means sum w >= max(1,
//      ceil(top_p * W)) with W the total over the top-k set, in exact integer arithmetic.
//    Both thresholds are found by radix select over the keys (3 passes of 11, 11, 10 bits: counts for top-k,
//    masses for top-p), as the GPU does; the resulting set equals the sort-based definition above.
//  * The draw is Gumbel-max over S: argmax_{i in S} (s_i + g_i) in float, ties to the lowest index, with
//    g_i = -log(-log(u_i)), u_i = (b_i + 0.5) / 2^24 and b_i the top 24 bits of splitmix64 output i of the
//    stream draw_stream(seed, counter). That is an exact draw from softmax(s) restricted to S (up to the 2^-24
//    resolution of u), needs no sort, and depends on (seed, counter, i) only, so any thread can draw any
//    token. If S is empty (every logit NaN) the token is 0.
// Each sampled token (greedy too) uses one counter value; a Sampler advances its own, the GPU one per row.
#pragma once

#include "core/result.h"
#include "core/sampling_math.h"

#include <cstdint>
#include <span>
#include <vector>

namespace tllm {

struct SamplingParams {
    float temperature = 0.0f; // 0: greedy; else at least FLT_MIN and finite
    float top_p = 1.0f;       // (0, 1]
    int top_k = 0;            // 0: no limit
    uint64_t seed = 0;
};

// kInvalidArgument for parameters outside the ranges above (they come from users).
Status validate_sampling_params(const SamplingParams& params);

inline bool is_greedy(const SamplingParams& params) { return sampling::is_greedy(params.temperature, params.top_k); }

class Sampler {
  public:
    // The parameters must pass validate_sampling_params (checked).
    explicit Sampler(const SamplingParams& params);

    // Samples with the internal counter, then advances it.
    int32_t sample(std::span<const float> logits) { return sample(logits, counter_++); }
    // Samples with an explicit counter: a pure function of (params, logits, counter).
    int32_t sample(std::span<const float> logits, uint64_t counter);

    // The candidate set of a non-greedy sample: token i is a candidate iff
    // sampling::order_key(logits[i] * inverse_temperature(T)) > the returned cut.
    uint32_t candidate_cut(std::span<const float> logits);

    uint64_t counter() const { return counter_; }
    const SamplingParams& params() const { return params_; }

  private:
    SamplingParams params_;
    uint64_t counter_ = 0;
    // Per-call scratch, kept to avoid reallocating for every token.
    std::vector<float> scaled_;
    std::vector<uint32_t> keys_;
    std::vector<uint64_t> weights_;
};

} // namespace tllm
