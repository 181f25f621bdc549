#include "core/random.h"
#include "core/sampling_math.h"
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace tllm {
namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// The candidate set by its definition (sampler.h), with a full sort: the top_k largest scaled logits plus
// ties, then the shortest prefix of whole tie groups whose fixed-point mass reaches top_p.
std::vector<bool> reference_set(std::span<const float> logits, const SamplingParams& params) {
    const size_t n = logits.size();
    const float inverse = sampling::inverse_temperature(params.temperature);
    std::vector<float> scaled(n);
    std::vector<size_t> order;
    for (size_t i = 0; i < n; ++i) {
        scaled[i] = logits[i] * inverse;
        if (!std::isnan(scaled[i])) {
            order.push_back(i);
        }
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scaled[a] > scaled[b]; });
    std::vector<bool> in(n, false);
    if (order.empty()) {
        return in;
    }
    float lowest = scaled[order.back()];
    if (params.top_k > 0 && static_cast<size_t>(params.top_k) < order.size()) {
        lowest = scaled[order[params.top_k - 1]];
    }
    if (params.top_p < 1.0f) {
        const float max = scaled[order[0]];
        uint64_t total = 0;
        for (size_t i : order) {
            total += scaled[i] >= lowest ? sampling::fixed_weight(scaled[i], max) : 0;
        }
        const uint64_t target = sampling::top_p_target(total, params.top_p);
        uint64_t mass = 0;
        for (size_t i : order) {
            mass += sampling::fixed_weight(scaled[i], max);
            if (mass >= target) {
                lowest = scaled[i];
                break;
            }
        }
    }
    for (size_t i : order) {
        in[i] = scaled[i] >= lowest;
    }
    return in;
}

// Checks the sampler's set against the reference and that draws land in it; returns the set size.
size_t check_set(std::span<const float> logits, const SamplingParams& params, const std::string& what) {
    Sampler sampler(params);
    const std::vector<bool> expected = reference_set(logits, params);
    const uint32_t cut = sampler.candidate_cut(logits);
    const float inverse = sampling::inverse_temperature(params.temperature);
    size_t size = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        const bool in = sampling::order_key(logits[i] * inverse) > cut;
        EXPECT_EQ(in, expected[i]) << what << " token " << i << " logit " << logits[i];
        size += in ? 1 : 0;
    }
    for (uint64_t counter = 0; counter < 4; ++counter) {
        const int32_t token = sampler.sample(logits, counter);
        EXPECT_TRUE(size == 0 ? token == 0 : static_cast<bool>(expected[token])) << what << " drew " << token;
    }
    return size;
}

float normal(Rng& rng) {
    float sum = 0;
    for (int i = 0; i < 12; ++i) {
        sum += rng.uniform();
    }
    return sum - 6.0f;
}

std::vector<std::vector<float>> adversarial_rows() {
    std::vector<std::vector<float>> rows;
    Rng rng(2024);
    for (size_t n : {1, 2, 3, 33, 500}) {
        std::vector<float> random(n), quantized(n), special(n), huge(n), tiny(n);
        for (size_t i = 0; i < n; ++i) {
            random[i] = 3.0f * normal(rng);
            quantized[i] = std::round(2.0f * normal(rng)) / 2.0f; // many ties, at every boundary
            const float u = rng.uniform();
            special[i] = u < 0.1f ? -kInf : (u < 0.15f ? kNaN : (u < 0.2f ? -0.0f : normal(rng)));
            huge[i] = rng.uniform(-3e38f, 3e38f); // scaled by 1/T > 1 some overflow to +-inf
            tiny[i] = rng.uniform(-1e-38f, 1e-38f) * 1e-3f;
        }
        rows.insert(rows.end(), {random, quantized, special, huge, tiny});
        rows.push_back(std::vector<float>(n, 1.5f));
        rows.push_back(std::vector<float>(n, -kInf));
        rows.push_back(std::vector<float>(n, kNaN));
        std::vector<float> with_inf = random;
        with_inf[n / 2] = kInf;
        rows.push_back(with_inf);
    }
    return rows;
}

TEST(Sampler, GreedyTakesTheFirstMaximum) {
    Sampler sampler({});
    EXPECT_EQ(sampler.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 3.0f}), 1);
    EXPECT_EQ(sampler.sample(std::vector<float>{kNaN, -5.0f, kNaN, -4.0f}), 3);
    EXPECT_EQ(sampler.sample(std::vector<float>{kNaN, kNaN}), 0);
    EXPECT_EQ(sampler.sample(std::vector<float>{kNaN, -kInf, -kInf}), 1);
    EXPECT_EQ(sampler.sample(std::vector<float>{-1.0f, -0.0f, 0.0f}), 1);
    EXPECT_EQ(sampler.sample(std::vector<float>{1.0f, kInf, kInf}), 1);
    EXPECT_EQ(sampler.counter(), 6u) << "greedy draws use a counter value too, as on the GPU";
    // top_k == 1 is greedy on the raw logits, whatever the temperature.
    Sampler top_one({0.7f, 0.5f, 1, 3});
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(top_one.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 3.0f}), 1);
    }
}

TEST(Sampler, BoundaryTiesStayInTheSet) {
    const std::vector<float> logits = {3.0f, 2.0f, 2.0f, 2.0f, 1.0f};
    EXPECT_EQ(check_set(logits, {1.0f, 1.0f, 2, 0}, "top-k ties"), 4u);
    // Token 0 holds 53% of the mass; 0.6 needs the next group, taken whole.
    const std::vector<float> nucleus = {2.0f, 1.0f, 1.0f, 0.0f};
    EXPECT_EQ(check_set(nucleus, {1.0f, 0.6f, 0, 0}, "top-p ties"), 3u);
    EXPECT_EQ(check_set(nucleus, {1.0f, 0.5f, 0, 0}, "top-p one"), 1u);
    EXPECT_EQ(check_set(nucleus, {1.0f, 1e-30f, 0, 0}, "top-p tiny"), 1u);
}

TEST(Sampler, CandidateSetsMatchTheSortReference) {
    const float temperatures[] = {0.5f, 1.0f, 1.7f};
    const float top_ps[] = {1.0f, 0.95f, 0.5f, 0.1f, 1e-7f};
    int cases = 0;
    for (const std::vector<float>& row : adversarial_rows()) {
        const int n = static_cast<int>(row.size());
        for (int top_k : {0, 2, 3, 10, n - 1, n, n + 5}) {
            if (top_k < 0 || top_k == 1) {
                continue;
            }
            for (float temperature : temperatures) {
                for (float top_p : top_ps) {
                    const SamplingParams params{temperature, top_p, top_k, 11};
                    check_set(row, params,
                              "n=" + std::to_string(n) + " k=" + std::to_string(top_k) +
                                  " T=" + std::to_string(temperature) + " p=" + std::to_string(top_p));
                    ++cases;
                }
            }
        }
    }
    EXPECT_GT(cases, 1000);
}

TEST(Sampler, FullVocabularySetsMatchTheSortReference) {
    Rng rng(5);
    std::vector<float> logits(201088);
    for (float& logit : logits) {
        logit = 4.0f * normal(rng);
    }
    EXPECT_EQ(check_set(logits, {0.7f, 1.0f, 50, 1}, "top-k 50"), 50u);
    check_set(logits, {0.7f, 0.9f, 0, 1}, "top-p 0.9");
    check_set(logits, {1.0f, 0.5f, 50, 1}, "top-k 50 top-p 0.5");
    EXPECT_EQ(check_set(logits, {1.0f, 1.0f, 0, 1}, "temperature only"), logits.size());
}

// Pearson's chi-square of the draws against softmax(s) over the reference set; no draw may leave the set.
double chi_square(const std::vector<float>& logits, const SamplingParams& params, int draws, int* degrees) {
    const std::vector<bool> in = reference_set(logits, params);
    const float inverse = sampling::inverse_temperature(params.temperature);
    std::vector<double> expected(logits.size(), 0.0);
    double total = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        expected[i] = in[i] ? std::exp(static_cast<double>(logits[i] * inverse)) : 0.0;
        total += expected[i];
    }
    Sampler sampler(params);
    std::vector<int> counts(logits.size(), 0);
    for (int d = 0; d < draws; ++d) {
        counts[sampler.sample(logits)]++;
    }
    // Tokens expected fewer than 10 times are pooled, so each cell is large enough for the approximation.
    double chi = 0, pooled_expected = 0, pooled_observed = 0;
    *degrees = -1;
    for (size_t i = 0; i < logits.size(); ++i) {
        const double e = expected[i] / total * draws;
        if (!in[i]) {
            EXPECT_EQ(counts[i], 0) << "token " << i << " is outside the set";
        } else if (e < 10) {
            pooled_expected += e;
            pooled_observed += counts[i];
        } else {
            chi += (counts[i] - e) * (counts[i] - e) / e;
            ++*degrees;
        }
    }
    if (pooled_expected > 0) {
        chi += (pooled_observed - pooled_expected) * (pooled_observed - pooled_expected) / pooled_expected;
        ++*degrees;
    }
    return chi;
}

TEST(Sampler, DrawsFollowTheSoftmaxOverTheSet) {
    Rng rng(77);
    std::vector<float> wide(200);
    for (float& logit : wide) {
        logit = 2.0f * normal(rng);
    }
    const std::vector<float> small = {1.0f, 0.5f, 0.2f, -0.3f, -1.0f, -2.0f, 0.5f};
    struct Case {
        const std::vector<float>* logits;
        SamplingParams params;
    };
    const Case cases[] = {{&small, {1.0f, 1.0f, 0, 42}}, {&small, {0.8f, 1.0f, 5, 43}}, {&small, {0.8f, 0.8f, 0, 44}},
                          {&small, {1.3f, 0.9f, 4, 45}}, {&wide, {1.0f, 1.0f, 0, 46}},  {&wide, {0.7f, 0.9f, 0, 47}},
                          {&wide, {1.0f, 1.0f, 40, 48}}};
    for (const Case& c : cases) {
        int degrees = 0;
        const double chi = chi_square(*c.logits, c.params, 40000, &degrees);
        ASSERT_GT(degrees, 0);
        // Mean df, standard deviation sqrt(2 df): 6 sigma is far beyond chance (and the seeds are fixed).
        EXPECT_LT(chi, degrees + 6.0 * std::sqrt(2.0 * degrees))
            << "T=" << c.params.temperature << " k=" << c.params.top_k << " p=" << c.params.top_p;
    }
}

TEST(Sampler, SeedsAndCountersDetermineTheDraws) {
    std::vector<float> logits(100);
    for (size_t i = 0; i < logits.size(); ++i) {
        logits[i] = std::sin(static_cast<float>(i));
    }
    Sampler a({0.8f, 0.9f, 0, 123}), b({0.8f, 0.9f, 0, 123}), other({0.8f, 0.9f, 0, 124});
    Sampler pure({0.8f, 0.9f, 0, 123});
    int differences = 0;
    for (uint64_t i = 0; i < 200; ++i) {
        const int32_t token = a.sample(logits);
        ASSERT_EQ(token, b.sample(logits));
        ASSERT_EQ(token, pure.sample(logits, i)) << "the stateful sampler uses counters 0, 1, 2, ...";
        differences += token != other.sample(logits) ? 1 : 0;
    }
    EXPECT_GT(differences, 100);
    EXPECT_EQ(a.counter(), 200u);
}

TEST(Sampler, RejectsBadParameters) {
    EXPECT_TRUE(validate_sampling_params({0.0f, 1.0f, 0, 0}).ok());
    EXPECT_TRUE(validate_sampling_params({1.0f, 0.5f, 40, 0}).ok());
    for (const SamplingParams& bad :
         {SamplingParams{-1.0f, 1.0f, 0, 0}, SamplingParams{kNaN, 1.0f, 0, 0}, SamplingParams{kInf, 1.0f, 0, 0},
          SamplingParams{1e-40f, 1.0f, 0, 0}, SamplingParams{1.0f, 0.0f, 0, 0}, SamplingParams{1.0f, 1.5f, 0, 0},
          SamplingParams{1.0f, kNaN, 0, 0}, SamplingParams{1.0f, 1.0f, -1, 0}}) {
        const Status status = validate_sampling_params(bad);
        ASSERT_FALSE(status.ok());
        EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
    }
}

} // namespace
} // namespace tllm
