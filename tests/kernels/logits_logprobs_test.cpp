// cpu::logits_logprobs against probabilities written down by hand, and against the definition on random rows.
#include "core/random.h"
#include "kernel_test_util.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <vector>

namespace tllm::cpu {
namespace {

TEST(LogitsLogprobs, ProbabilitiesWrittenDownByHand) {
    // exp(logits) ∝ 1, 2, 3, 2: probabilities 1/8, 2/8, 3/8, 2/8 whatever the shift.
    const float shift = 40.0f;
    const std::vector<float> logits = {shift, shift + std::log(2.0f), shift + std::log(3.0f), shift + std::log(2.0f)};
    int32_t ids[4];
    float values[4];
    const float chosen = logits_logprobs(logits.data(), 4, 1, 4, ids, values);
    EXPECT_NEAR(chosen, std::log(0.25f), 1e-5f);
    // Most likely first; ids 1 and 3 tie, the lower id first.
    EXPECT_EQ(ids[0], 2);
    EXPECT_EQ(ids[1], 1);
    EXPECT_EQ(ids[2], 3);
    EXPECT_EQ(ids[3], 0);
    EXPECT_NEAR(values[0], std::log(0.375f), 1e-5f);
    EXPECT_NEAR(values[1], std::log(0.25f), 1e-5f);
    EXPECT_NEAR(values[2], std::log(0.25f), 1e-5f);
    EXPECT_NEAR(values[3], std::log(0.125f), 1e-5f);
}

TEST(LogitsLogprobs, ProbabilitiesSumToOneAndRankInOrder) {
    Rng rng(5);
    for (int vocab : {1, 7, 201088}) {
        const std::vector<float> logits = test_util::random_floats(rng, vocab, -30.0f, 30.0f);
        const int top = std::min(vocab, 20);
        std::vector<int32_t> ids(static_cast<size_t>(top));
        std::vector<float> values(ids.size());
        const int32_t token = vocab / 2;
        const float chosen = logits_logprobs(logits.data(), vocab, token, top, ids.data(), values.data());
        if (vocab < 1000) { // every token's probability, one call each
            double total = 0;
            for (int i = 0; i < vocab; ++i) {
                int32_t unused_id = 0;
                float unused_value = 0;
                total += std::exp(
                    static_cast<double>(logits_logprobs(logits.data(), vocab, i, 0, &unused_id, &unused_value)));
            }
            EXPECT_NEAR(total, 1.0, 1e-5) << "vocab " << vocab;
        }
        EXPECT_NEAR(chosen - values[0], logits[token] - logits[ids[0]], 1e-4f);
        for (int i = 1; i < top; ++i) {
            EXPECT_GE(values[i - 1], values[i]);
        }
        for (int i = 0; i < vocab; ++i) { // nothing outside the top beats its last
            if (std::find(ids.begin(), ids.end(), i) == ids.end()) {
                EXPECT_LE(logits[i], logits[ids.back()]) << "id " << i;
            }
        }
    }
}

} // namespace
} // namespace tllm::cpu
