// topk_softmax against a reference that stable-sorts by (logit descending, index ascending) and takes
// a double softmax over the selected logits. Ids must match exactly; weights within
// 1e-6 · (1 + w) (a few f32 roundings of exp and the division).
#include "kernel_test_util.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tllm::cpu {
namespace {

void check(const std::vector<float>& logits, int64_t n_tokens, int64_t n_experts, int64_t k) {
    std::vector<int32_t> ids(static_cast<size_t>(n_tokens * k), -1);
    std::vector<float> weights(static_cast<size_t>(n_tokens * k), NAN);
    topk_softmax(logits.data(), n_tokens, n_experts, k, ids.data(), weights.data());
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* row = &logits[t * n_experts];
        std::vector<int32_t> order(static_cast<size_t>(n_experts));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
        double denom = 0.0;
        for (int64_t j = 0; j < k; ++j) {
            denom += std::exp(static_cast<double>(row[order[j]]) - row[order[0]]);
        }
        for (int64_t j = 0; j < k; ++j) {
            ASSERT_EQ(ids[t * k + j], order[j])
                << "token " << t << " rank " << j << " (k=" << k << ", experts " << n_experts << ")";
            double ref = std::exp(static_cast<double>(row[order[j]]) - row[order[0]]) / denom;
            ASSERT_LE(std::fabs(weights[t * k + j] - ref), 1e-6 * (1.0 + ref))
                << "token " << t << " rank " << j << ": got " << weights[t * k + j] << " ref " << ref;
        }
    }
}

TEST(TopkSoftmax, MatchesReferenceOnRandomLogits) {
    Rng rng(1);
    for (int64_t n_experts : {1, 5, 32, 128}) {
        for (int64_t k : {int64_t{1}, int64_t{4}, n_experts}) {
            if (k > n_experts) {
                continue;
            }
            std::vector<float> logits = test_util::random_floats(rng, 3 * n_experts, -8.0f, 8.0f);
            check(logits, 3, n_experts, k);
        }
    }
}

TEST(TopkSoftmax, TiesGoToTheLowerIndex) {
    // Logits from {0, 1, 2}: every selection crosses ties, including at the k-th place.
    Rng rng(2);
    for (int64_t k : {1, 3, 4, 7}) {
        std::vector<float> logits(static_cast<size_t>(5 * 32));
        for (auto& v : logits) {
            v = static_cast<float>(rng.next() % 3);
        }
        check(logits, 5, 32, k);
    }
    std::vector<float> all_equal(32, 0.25f);
    check(all_equal, 1, 32, 4);
}

TEST(TopkSoftmax, TieOrderIsExplicit) {
    const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f, 2.0f};
    int32_t ids[4];
    float weights[4];
    topk_softmax(logits.data(), 1, 5, 4, ids, weights);
    const int32_t want[] = {1, 3, 2, 4};
    for (int j = 0; j < 4; ++j) {
        ASSERT_EQ(ids[j], want[j]) << "rank " << j;
    }
    EXPECT_EQ(weights[0], weights[1]);
    EXPECT_EQ(weights[2], weights[3]);
}

} // namespace
} // namespace tllm::cpu
