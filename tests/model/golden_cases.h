// Shared by the golden tests of both backends: the committed cases (tests/data/golden/manifest.json)
// and a run of one case through an engine on a synthetic checkpoint regenerated from its seed.
#pragma once

#include "core/npy.h"
#include "runtime/engine.h"
#include "test_models.h"

#include <cmath>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tllm {

inline constexpr double kF32Exact = 1e-4;
inline constexpr double kBf16Tolerance = 3e-2;
inline constexpr double kNearTie = 2e-2;

inline double relative_l2(std::span<const float> a, std::span<const float> reference) {
    double difference = 0.0, norm = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
        double d = static_cast<double>(a[i]) - reference[i];
        difference += d * d;
        norm += static_cast<double>(reference[i]) * reference[i];
    }
    return std::sqrt(difference / std::max(norm, 1e-30));
}

struct GoldenCase {
    std::string name;
    std::string config;
    uint64_t seed;
    std::vector<int32_t> tokens;
    std::vector<double> router_gaps; // per token, smallest 4th-5th router logit gap over layers (f32 reference)
};

inline std::vector<GoldenCase> load_cases() {
    nlohmann::json manifest = nlohmann::json::parse(testing::read_test_data("golden/manifest.json"));
    std::vector<GoldenCase> cases;
    for (const auto& item : manifest["cases"]) {
        cases.push_back({item["name"], item["config"], item["seed"], item["tokens"].get<std::vector<int32_t>>(),
                         item["router_gaps"].get<std::vector<double>>()});
    }
    return cases;
}

struct GoldenRun {
    GoldenCase golden;
    std::vector<float> f32;  // [n, vocab] transformers float32
    std::vector<float> bf16; // [n, vocab] transformers bfloat16
    std::vector<float> ours; // [n, vocab]
    size_t vocab = 0;

    std::span<const float> row(const std::vector<float>& logits, size_t p) const {
        return {logits.data() + p * vocab, vocab};
    }
};

inline GoldenRun run_case(const std::string& case_name, CheckpointLayout layout, const EngineOptions& options) {
    GoldenRun run;
    for (const GoldenCase& c : load_cases()) {
        if (c.name == case_name) {
            run.golden = c;
        }
    }
    EXPECT_EQ(run.golden.name, case_name);
    auto f32 = read_npy_f32(testing::golden_dir() + "/" + case_name + ".f32.npy");
    auto bf16 = read_npy_f32(testing::golden_dir() + "/" + case_name + ".bf16.npy");
    EXPECT_TRUE(f32.ok()) << f32.error().to_string();
    EXPECT_TRUE(bf16.ok()) << bf16.error().to_string();
    if (!f32.ok() || !bf16.ok()) {
        return run;
    }
    testing::TempDir dir;
    GptOssConfig config = testing::golden_config(run.golden.config.substr(0, run.golden.config.find('.')));
    testing::write_synthetic(config, layout, run.golden.seed, dir / "model");
    auto weights = ModelWeights::load(dir / "model");
    EXPECT_TRUE(weights.ok()) << weights.error().to_string();
    auto engine = Engine::create(std::shared_ptr<const ModelWeights>(std::move(weights).value()), options);
    EXPECT_TRUE(engine.ok()) << engine.error().to_string();
    if (!engine.ok()) {
        return run;
    }
    auto sequence = (*engine)->new_sequence().value();
    std::vector<StepInput> inputs = {{sequence.get(), run.golden.tokens, true}};
    std::vector<std::vector<float>> logits;
    EXPECT_TRUE((*engine)->step(inputs, logits).ok());
    const Shape expected_shape = {static_cast<int64_t>(run.golden.tokens.size()), config.vocab_size};
    EXPECT_EQ(f32->shape, expected_shape);
    EXPECT_EQ(bf16->shape, expected_shape);
    EXPECT_EQ(run.golden.router_gaps.size(), run.golden.tokens.size());
    run.vocab = static_cast<size_t>(config.vocab_size);
    run.f32 = std::move(f32->values);
    run.bf16 = std::move(bf16->values);
    run.ours = std::move(logits[0]);
    return run;
}

} // namespace tllm
