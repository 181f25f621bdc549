// gpt-oss hyper-parameters, read from either config.json form (OpenAI's original/ or Hugging Face's).
#pragma once

#include "core/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tllm {

enum class ConfigForm { kOriginal, kHuggingFace };

struct GptOssConfig {
    int64_t n_layers = 24;
    int64_t n_experts = 32;
    int64_t n_experts_per_token = 4;
    int64_t vocab_size = 201088;
    int64_t hidden_size = 2880;
    int64_t intermediate_size = 2880; // per expert; mlp1 produces 2x this (gate and linear interleaved)
    int64_t n_heads = 64;
    int64_t n_kv_heads = 8;
    int64_t head_dim = 64;
    int64_t sliding_window = 128;
    int64_t initial_context_length = 4096;
    float swiglu_limit = 7.0f;
    float swiglu_alpha = 1.702f; // hard-coded in the reference, not in either config
    float rope_theta = 150000.0f;
    float rope_scaling_factor = 32.0f;
    float rope_ntk_alpha = 1.0f; // HF beta_slow
    float rope_ntk_beta = 32.0f; // HF beta_fast
    float rms_norm_eps = 1e-5f;
    // One entry per layer: true where attention is limited to the sliding window (even layers in
    // the released models; HF's layer_types may say otherwise).
    std::vector<bool> layer_sliding;

    int64_t q_width() const { return n_heads * head_dim; }
    int64_t kv_width() const { return n_kv_heads * head_dim; }
    int64_t max_context() const { return static_cast<int64_t>(initial_context_length * rope_scaling_factor); }
    float attention_scale() const; // 1/sqrt(head_dim)

    // Architecture constraints (divisibility, positivity, sane bounds); kInvalidArgument naming the key.
    Status validate() const;

    std::string to_json(ConfigForm form) const;
};

// "20b" or "120b": the released models' configurations.
Result<GptOssConfig> config_preset(const std::string& name);

// Parses config.json text in either form (detected by its keys), then validates it.
Result<GptOssConfig> parse_config_json(const std::string& text, const std::string& path_for_errors);
Result<GptOssConfig> load_config_file(const std::string& path);

// YaRN: per-frequency inverse frequencies and the concentration factor (spec §A.3).
struct RopeParameters {
    std::vector<float> inv_freq; // [head_dim / 2]
    float concentration = 1.0f;
};
RopeParameters compute_rope_parameters(const GptOssConfig& config);

} // namespace tllm
