#include "model/config.h"

#include <cmath>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tllm {
namespace {

TEST(Config, PresetsMatchTheReleasedModels) {
    auto c20 = config_preset("20b");
    ASSERT_TRUE(c20.ok());
    EXPECT_EQ(c20->n_layers, 24);
    EXPECT_EQ(c20->n_experts, 32);
    EXPECT_EQ(c20->q_width(), 4096);
    EXPECT_EQ(c20->kv_width(), 512);
    EXPECT_EQ(c20->max_context(), 131072);
    EXPECT_TRUE(c20->layer_sliding[0]);
    EXPECT_FALSE(c20->layer_sliding[1]);
    auto c120 = config_preset("120b");
    ASSERT_TRUE(c120.ok());
    EXPECT_EQ(c120->n_layers, 36);
    EXPECT_EQ(c120->n_experts, 128);
    EXPECT_FALSE(config_preset("7b").ok());
}

TEST(Config, BothFormsParseToTheSameConfig) {
    GptOssConfig config = *config_preset("120b");
    auto original = parse_config_json(config.to_json(ConfigForm::kOriginal), "original/config.json");
    ASSERT_TRUE(original.ok()) << original.error().to_string();
    auto hf = parse_config_json(config.to_json(ConfigForm::kHuggingFace), "config.json");
    ASSERT_TRUE(hf.ok()) << hf.error().to_string();
    for (const GptOssConfig* parsed : {&original.value(), &hf.value()}) {
        EXPECT_EQ(parsed->n_layers, 36);
        EXPECT_EQ(parsed->n_experts, 128);
        EXPECT_EQ(parsed->n_experts_per_token, 4);
        EXPECT_EQ(parsed->head_dim, 64);
        EXPECT_EQ(parsed->sliding_window, 128);
        EXPECT_EQ(parsed->initial_context_length, 4096);
        EXPECT_FLOAT_EQ(parsed->rope_theta, 150000.0f);
        EXPECT_FLOAT_EQ(parsed->rope_ntk_beta, 32.0f);
        EXPECT_FLOAT_EQ(parsed->rope_ntk_alpha, 1.0f);
        EXPECT_EQ(parsed->layer_sliding, config.layer_sliding);
    }
}

TEST(Config, HuggingFaceLayerTypesAndTransformers5RopeParameters) {
    nlohmann::json root = nlohmann::json::parse(config_preset("20b")->to_json(ConfigForm::kHuggingFace));
    root["layer_types"][0] = "full_attention";
    root["rope_parameters"] = root["rope_scaling"];
    root["rope_parameters"]["rope_theta"] = 10000.0;
    root.erase("rope_scaling");
    root.erase("rope_theta");
    auto parsed = parse_config_json(root.dump(), "config.json");
    ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
    EXPECT_FALSE(parsed->layer_sliding[0]);
    EXPECT_FLOAT_EQ(parsed->rope_theta, 10000.0f);
}

TEST(Config, MalformedConfigsNameTheProblem) {
    struct Case {
        std::string text;
        std::string expected_in_message;
    };
    nlohmann::json good = nlohmann::json::parse(config_preset("20b")->to_json(ConfigForm::kOriginal));
    auto with = [&](const char* key, nlohmann::json value) {
        nlohmann::json copy = good;
        if (value.is_null()) {
            copy.erase(key);
        } else {
            copy[key] = value;
        }
        return copy.dump();
    };
    std::vector<Case> cases = {
        {"", "not valid JSON"},
        {"{\"num_experts\": 3", "not valid JSON"},
        {"[1, 2]", "JSON object"},
        {"{}", "not a gpt-oss config"},
        {with("hidden_size", nullptr), "hidden_size"},
        {with("hidden_size", "2880"), "hidden_size"},
        {with("hidden_size", 2881), "multiples of 32"},
        {with("hidden_size", -32), "hidden_size"},
        {with("num_key_value_heads", 7), "multiple of num_key_value_heads"},
        {with("experts_per_token", 33), "experts_per_token"},
        {with("head_dim", 63), "head_dim"},
        {with("rope_theta", -1.0), "rope_theta"},
        {with("vocab_size", 1.5), "vocab_size"},
    };
    for (const Case& c : cases) {
        auto parsed = parse_config_json(c.text, "dir/config.json");
        ASSERT_FALSE(parsed.ok()) << c.text;
        EXPECT_NE(parsed.error().message().find(c.expected_in_message), std::string::npos) << parsed.error().message();
        EXPECT_NE(parsed.error().message().find("dir/config.json"), std::string::npos) << parsed.error().message();
    }
}

TEST(Config, YarnMatchesTheSpecNumbers) {
    // Spec §A.3: concentration 0.1 ln 32 + 1; dims <= 8 keep the original frequency, >= 18 are
    // divided by 32, with a linear ramp between low = 8.09278 and high = 17.39802.
    RopeParameters rope = compute_rope_parameters(*config_preset("20b"));
    ASSERT_EQ(rope.inv_freq.size(), 32u);
    EXPECT_NEAR(rope.concentration, 1.346574f, 1e-6);
    for (int i = 0; i < 32; ++i) {
        double freq = std::pow(150000.0, 2.0 * i / 64.0);
        double ramp = std::clamp((i - 8.09278) / (17.39802 - 8.09278), 0.0, 1.0);
        double expected = (1 - ramp) / freq + ramp / (32 * freq);
        EXPECT_NEAR(rope.inv_freq[static_cast<size_t>(i)], expected, expected * 1e-5) << i;
    }
}

} // namespace
} // namespace tllm
