// Token sampling from logits: greedy at temperature 0, else softmax(logits / T) restricted to the
// top-k tokens and the smallest nucleus of mass top_p, drawn with a seeded generator.
#pragma once

#include "core/random.h"

#include <cstdint>
#include <span>
#include <vector>

namespace tllm {

struct SamplingParams {
    float temperature = 0.0f;
    float top_p = 1.0f; // (0, 1]
    int top_k = 0;      // 0: no limit
    uint64_t seed = 0;
};

class Sampler {
  public:
    explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}
    int32_t sample(std::span<const float> logits);

  private:
    SamplingParams params_;
    Rng rng_;
    std::vector<std::pair<float, int32_t>> candidates_;
};

} // namespace tllm
