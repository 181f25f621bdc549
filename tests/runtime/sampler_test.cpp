#include "runtime/sampler.h"

#include <cmath>
#include <gtest/gtest.h>
#include <map>

namespace tllm {
namespace {

TEST(Sampler, GreedyTakesTheFirstMaximum) {
    Sampler sampler({});
    std::vector<float> logits = {0.1f, 3.0f, -1.0f, 3.0f};
    EXPECT_EQ(sampler.sample(logits), 1);
}

TEST(Sampler, TemperatureFollowsTheSoftmax) {
    std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
    Sampler sampler({1.0f, 1.0f, 0, 42});
    std::map<int, int> counts;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        counts[sampler.sample(logits)]++;
    }
    // Binomial standard deviation at n = 20000 is at most 0.0036; allow 5 sigma.
    EXPECT_NEAR(counts[0] / double(n), 0.5, 0.018);
    EXPECT_NEAR(counts[1] / double(n), 0.3, 0.018);
    EXPECT_NEAR(counts[2] / double(n), 0.2, 0.018);
}

TEST(Sampler, TopPAndTopKCutTheTail) {
    std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    Sampler nucleus({1.0f, 0.75f, 0, 7});
    Sampler top_two({1.0f, 1.0f, 2, 7});
    for (int i = 0; i < 2000; ++i) {
        EXPECT_LT(nucleus.sample(logits), 2);
        EXPECT_LT(top_two.sample(logits), 2);
    }
}

TEST(Sampler, SameSeedSameDraws) {
    std::vector<float> logits(100);
    for (size_t i = 0; i < logits.size(); ++i) {
        logits[i] = std::sin(static_cast<float>(i));
    }
    Sampler a({0.8f, 0.9f, 0, 123}), b({0.8f, 0.9f, 0, 123});
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(a.sample(logits), b.sample(logits));
    }
}

} // namespace
} // namespace tllm
