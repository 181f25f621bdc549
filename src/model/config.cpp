#include "model/config.h"

#include "core/buffer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <numbers>

namespace tllm {
namespace {

using nlohmann::json;

// Reads an integer key; absent keys keep the default only when `required` is false.
Status read_int(const json& object, const char* key, int64_t& out, bool required, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end()) {
        if (required) {
            return make_error(ErrorCode::kInvalidArgument, "{}: missing key \"{}\"", path, key);
        }
        return {};
    }
    // 2880.0 is accepted as 2880; anything fractional or beyond 2^53 is not an integer here.
    const bool integral_float = it->is_number_float() && std::floor(it->get<double>()) == it->get<double>() &&
                                std::fabs(it->get<double>()) <= 9007199254740992.0;
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return make_error(ErrorCode::kInvalidArgument, "{}: \"{}\" = {} is out of range", path, key, it->dump());
    }
    if (!it->is_number_integer() && !integral_float) {
        return make_error(ErrorCode::kInvalidArgument, "{}: \"{}\" must be an integer, got {}", path, key, it->dump());
    }
    out = it->is_number_integer() ? it->get<int64_t>() : static_cast<int64_t>(it->get<double>());
    return {};
}

Status read_float(const json& object, const char* key, float& out, bool required, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end()) {
        if (required) {
            return make_error(ErrorCode::kInvalidArgument, "{}: missing key \"{}\"", path, key);
        }
        return {};
    }
    if (!it->is_number() || std::fabs(it->get<double>()) > 3.0e38) {
        return make_error(ErrorCode::kInvalidArgument, "{}: \"{}\" must be a finite number, got {}", path, key,
                          it->dump());
    }
    out = static_cast<float>(it->get<double>());
    return {};
}

void set_even_layers_sliding(GptOssConfig& config) {
    config.layer_sliding.resize(static_cast<size_t>(std::max<int64_t>(config.n_layers, 0)));
    for (size_t i = 0; i < config.layer_sliding.size(); ++i) {
        config.layer_sliding[i] = i % 2 == 0;
    }
}

Result<GptOssConfig> parse_original(const json& root, const std::string& path) {
    GptOssConfig config;
    TLLM_RETURN_IF_ERROR(read_int(root, "num_hidden_layers", config.n_layers, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "num_experts", config.n_experts, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "experts_per_token", config.n_experts_per_token, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "vocab_size", config.vocab_size, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "hidden_size", config.hidden_size, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "intermediate_size", config.intermediate_size, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "head_dim", config.head_dim, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "num_attention_heads", config.n_heads, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "num_key_value_heads", config.n_kv_heads, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "sliding_window", config.sliding_window, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "initial_context_length", config.initial_context_length, true, path));
    TLLM_RETURN_IF_ERROR(read_float(root, "swiglu_limit", config.swiglu_limit, true, path));
    TLLM_RETURN_IF_ERROR(read_float(root, "rope_theta", config.rope_theta, true, path));
    TLLM_RETURN_IF_ERROR(read_float(root, "rope_scaling_factor", config.rope_scaling_factor, true, path));
    TLLM_RETURN_IF_ERROR(read_float(root, "rope_ntk_alpha", config.rope_ntk_alpha, true, path));
    TLLM_RETURN_IF_ERROR(read_float(root, "rope_ntk_beta", config.rope_ntk_beta, true, path));
    set_even_layers_sliding(config);
    return config;
}

Result<GptOssConfig> parse_hugging_face(const json& root, const std::string& path) {
    GptOssConfig config;
    TLLM_RETURN_IF_ERROR(read_int(root, "num_hidden_layers", config.n_layers, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "num_local_experts", config.n_experts, true, path));
    if (root.contains("num_experts_per_tok")) {
        TLLM_RETURN_IF_ERROR(read_int(root, "num_experts_per_tok", config.n_experts_per_token, true, path));
    } else {
        TLLM_RETURN_IF_ERROR(read_int(root, "experts_per_token", config.n_experts_per_token, true, path));
    }
    TLLM_RETURN_IF_ERROR(read_int(root, "vocab_size", config.vocab_size, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "hidden_size", config.hidden_size, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "intermediate_size", config.intermediate_size, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "num_attention_heads", config.n_heads, true, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "num_key_value_heads", config.n_kv_heads, true, path));
    config.head_dim = config.hidden_size / std::max<int64_t>(config.n_heads, 1);
    TLLM_RETURN_IF_ERROR(read_int(root, "head_dim", config.head_dim, false, path));
    TLLM_RETURN_IF_ERROR(read_int(root, "sliding_window", config.sliding_window, true, path));
    TLLM_RETURN_IF_ERROR(read_float(root, "swiglu_limit", config.swiglu_limit, false, path));
    TLLM_RETURN_IF_ERROR(read_float(root, "rms_norm_eps", config.rms_norm_eps, false, path));
    // transformers 5 nests rope_theta inside rope_parameters; config.json files keep rope_scaling.
    const json* rope = nullptr;
    for (const char* key : {"rope_parameters", "rope_scaling"}) {
        if (root.contains(key) && root[key].is_object()) {
            rope = &root[key];
            break;
        }
    }
    TLLM_RETURN_IF_ERROR(read_float(root, "rope_theta", config.rope_theta, rope == nullptr, path));
    if (rope == nullptr) {
        return make_error(ErrorCode::kInvalidArgument, "{}: missing \"rope_scaling\" (YaRN parameters)", path);
    }
    if (rope->contains("rope_type") && (*rope)["rope_type"] != "yarn") {
        return make_error(ErrorCode::kUnsupported, "{}: rope_type {} is not yarn", path, (*rope)["rope_type"].dump());
    }
    TLLM_RETURN_IF_ERROR(read_float(*rope, "rope_theta", config.rope_theta, false, path));
    TLLM_RETURN_IF_ERROR(read_float(*rope, "factor", config.rope_scaling_factor, true, path));
    TLLM_RETURN_IF_ERROR(read_float(*rope, "beta_fast", config.rope_ntk_beta, false, path));
    TLLM_RETURN_IF_ERROR(read_float(*rope, "beta_slow", config.rope_ntk_alpha, false, path));
    TLLM_RETURN_IF_ERROR(
        read_int(*rope, "original_max_position_embeddings", config.initial_context_length, true, path));
    if (rope->contains("truncate") && (*rope)["truncate"] != false) {
        return make_error(ErrorCode::kUnsupported, "{}: YaRN with truncate=true is not gpt-oss", path);
    }
    set_even_layers_sliding(config);
    if (root.contains("layer_types")) {
        const json& types = root["layer_types"];
        if (!types.is_array() || static_cast<int64_t>(types.size()) != config.n_layers) {
            return make_error(ErrorCode::kInvalidArgument, "{}: \"layer_types\" must list {} layers", path,
                              config.n_layers);
        }
        for (size_t i = 0; i < types.size(); ++i) {
            if (types[i] == "sliding_attention") {
                config.layer_sliding[i] = true;
            } else if (types[i] == "full_attention") {
                config.layer_sliding[i] = false;
            } else {
                return make_error(ErrorCode::kInvalidArgument, "{}: layer_types[{}] = {} is unknown", path, i,
                                  types[i].dump());
            }
        }
    }
    return config;
}

} // namespace

float GptOssConfig::attention_scale() const { return 1.0f / std::sqrt(static_cast<float>(head_dim)); }

Status GptOssConfig::validate() const {
    auto positive = [](const char* key, int64_t value, int64_t max) -> Status {
        if (value <= 0 || value > max) {
            return make_error(ErrorCode::kInvalidArgument, "config: \"{}\" = {} must be in [1, {}]", key, value, max);
        }
        return {};
    };
    TLLM_RETURN_IF_ERROR(positive("num_hidden_layers", n_layers, 1024));
    TLLM_RETURN_IF_ERROR(positive("num_experts", n_experts, 4096));
    TLLM_RETURN_IF_ERROR(positive("experts_per_token", n_experts_per_token, n_experts));
    TLLM_RETURN_IF_ERROR(positive("vocab_size", vocab_size, int64_t{1} << 24));
    TLLM_RETURN_IF_ERROR(positive("hidden_size", hidden_size, 65536));
    TLLM_RETURN_IF_ERROR(positive("intermediate_size", intermediate_size, 262144));
    TLLM_RETURN_IF_ERROR(positive("num_attention_heads", n_heads, 1024));
    TLLM_RETURN_IF_ERROR(positive("num_key_value_heads", n_kv_heads, n_heads));
    TLLM_RETURN_IF_ERROR(positive("head_dim", head_dim, 1024));
    TLLM_RETURN_IF_ERROR(positive("sliding_window", sliding_window, int64_t{1} << 24));
    TLLM_RETURN_IF_ERROR(positive("initial_context_length", initial_context_length, int64_t{1} << 24));
    if (hidden_size % 32 != 0 || intermediate_size % 32 != 0) {
        return make_error(ErrorCode::kInvalidArgument,
                          "config: hidden_size ({}) and intermediate_size ({}) must be multiples of 32 (MXFP4 blocks)",
                          hidden_size, intermediate_size);
    }
    if (head_dim % 2 != 0) {
        return make_error(ErrorCode::kInvalidArgument, "config: head_dim {} must be even for RoPE", head_dim);
    }
    if (n_heads % n_kv_heads != 0) {
        return make_error(ErrorCode::kInvalidArgument,
                          "config: num_attention_heads {} must be a multiple of num_key_value_heads {}", n_heads,
                          n_kv_heads);
    }
    auto finite_positive = [](const char* key, float value) -> Status {
        if (!(value > 0.0f) || !std::isfinite(value)) {
            return make_error(ErrorCode::kInvalidArgument, "config: \"{}\" = {} must be positive", key, value);
        }
        return {};
    };
    TLLM_RETURN_IF_ERROR(finite_positive("swiglu_limit", swiglu_limit));
    TLLM_RETURN_IF_ERROR(finite_positive("rope_theta", rope_theta));
    TLLM_RETURN_IF_ERROR(finite_positive("rope_scaling_factor", rope_scaling_factor));
    TLLM_RETURN_IF_ERROR(finite_positive("rope_ntk_alpha", rope_ntk_alpha));
    TLLM_RETURN_IF_ERROR(finite_positive("rope_ntk_beta", rope_ntk_beta));
    TLLM_RETURN_IF_ERROR(finite_positive("rms_norm_eps", rms_norm_eps));
    if (static_cast<double>(initial_context_length) * rope_scaling_factor > static_cast<double>(int64_t{1} << 24)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "config: initial_context_length x rope_scaling_factor = {} x {} exceeds 2^24 positions",
                          initial_context_length, rope_scaling_factor);
    }
    if (rope_scaling_factor < 1.0f) {
        return make_error(ErrorCode::kInvalidArgument, "config: rope_scaling_factor {} must be >= 1",
                          rope_scaling_factor);
    }
    if (static_cast<int64_t>(layer_sliding.size()) != n_layers) {
        return make_error(ErrorCode::kInvalidArgument, "config: {} layer types for {} layers", layer_sliding.size(),
                          n_layers);
    }
    return {};
}

std::string GptOssConfig::to_json(ConfigForm form) const {
    json root;
    if (form == ConfigForm::kOriginal) {
        root = {{"num_hidden_layers", n_layers},
                {"num_experts", n_experts},
                {"experts_per_token", n_experts_per_token},
                {"vocab_size", vocab_size},
                {"hidden_size", hidden_size},
                {"intermediate_size", intermediate_size},
                {"swiglu_limit", swiglu_limit},
                {"head_dim", head_dim},
                {"num_attention_heads", n_heads},
                {"num_key_value_heads", n_kv_heads},
                {"sliding_window", sliding_window},
                {"initial_context_length", initial_context_length},
                {"rope_theta", rope_theta},
                {"rope_scaling_factor", rope_scaling_factor},
                {"rope_ntk_alpha", rope_ntk_alpha},
                {"rope_ntk_beta", rope_ntk_beta}};
        return root.dump(2) + "\n";
    }
    json layer_types = json::array();
    for (bool sliding : layer_sliding) {
        layer_types.push_back(sliding ? "sliding_attention" : "full_attention");
    }
    root = {{"architectures", {"GptOssForCausalLM"}},
            {"model_type", "gpt_oss"},
            {"attention_bias", true},
            {"attention_dropout", 0.0},
            {"experts_per_token", n_experts_per_token},
            {"num_experts_per_tok", n_experts_per_token},
            {"head_dim", head_dim},
            {"hidden_act", "silu"},
            {"hidden_size", hidden_size},
            {"initial_context_length", initial_context_length},
            {"initializer_range", 0.02},
            {"intermediate_size", intermediate_size},
            {"layer_types", layer_types},
            {"max_position_embeddings", max_context()},
            {"num_attention_heads", n_heads},
            {"num_hidden_layers", n_layers},
            {"num_key_value_heads", n_kv_heads},
            {"num_local_experts", n_experts},
            {"output_router_logits", false},
            {"rms_norm_eps", rms_norm_eps},
            {"rope_scaling",
             {{"beta_fast", rope_ntk_beta},
              {"beta_slow", rope_ntk_alpha},
              {"factor", rope_scaling_factor},
              {"original_max_position_embeddings", initial_context_length},
              {"rope_type", "yarn"},
              {"truncate", false}}},
            {"rope_theta", rope_theta},
            {"router_aux_loss_coef", 0.9},
            {"sliding_window", sliding_window},
            {"swiglu_limit", swiglu_limit},
            {"tie_word_embeddings", false},
            {"torch_dtype", "bfloat16"},
            {"use_cache", true},
            {"vocab_size", vocab_size},
            {"quantization_config",
             {{"quant_method", "mxfp4"},
              {"modules_to_not_convert",
               {"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"}}}}};
    // The o200k_harmony ids; a smaller test vocabulary has none (transformers rejects ids past it).
    if (vocab_size > 200002) {
        root["eos_token_id"] = 200002;
        root["pad_token_id"] = 199999;
    }
    return root.dump(2) + "\n";
}

Result<GptOssConfig> config_preset(const std::string& name) {
    GptOssConfig config;
    if (name == "20b") {
        config.n_layers = 24;
        config.n_experts = 32;
    } else if (name == "120b") {
        config.n_layers = 36;
        config.n_experts = 128;
    } else {
        return make_error(ErrorCode::kInvalidArgument, "unknown model preset \"{}\" (expected 20b or 120b)", name);
    }
    set_even_layers_sliding(config);
    return config;
}

Result<GptOssConfig> parse_config_json(const std::string& text, const std::string& path) {
    json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded()) {
        return make_error(ErrorCode::kInvalidArgument, "{}: not valid JSON", path);
    }
    if (!root.is_object()) {
        return make_error(ErrorCode::kInvalidArgument, "{}: expected a JSON object", path);
    }
    Result<GptOssConfig> parsed = make_error(ErrorCode::kInvalidArgument, "{}", path);
    if (root.contains("num_local_experts") || root.contains("model_type")) {
        if (root.contains("model_type") && root["model_type"] != "gpt_oss") {
            return make_error(ErrorCode::kUnsupported, "{}: model_type {} is not gpt_oss", path,
                              root["model_type"].dump());
        }
        parsed = parse_hugging_face(root, path);
    } else if (root.contains("num_experts")) {
        parsed = parse_original(root, path);
    } else {
        return make_error(ErrorCode::kInvalidArgument,
                          "{}: not a gpt-oss config (neither \"num_experts\" nor \"num_local_experts\")", path);
    }
    if (!parsed.ok()) {
        return parsed.error();
    }
    Status valid = parsed->validate();
    if (!valid.ok()) {
        return valid.error().with_context(path);
    }
    return parsed;
}

Result<GptOssConfig> load_config_file(const std::string& path) {
    TLLM_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
    return parse_config_json(text, path);
}

RopeParameters compute_rope_parameters(const GptOssConfig& config) {
    // Computed in double and rounded once, so that tables agree with references to the last bit
    // wherever they agree on the formula.
    const double d_half = static_cast<double>(config.head_dim) / 2.0;
    const double theta = config.rope_theta;
    const double factor = config.rope_scaling_factor;
    const double context = static_cast<double>(config.initial_context_length);
    auto correction_dim = [&](double rotations) {
        return d_half * std::log(context / (rotations * 2.0 * std::numbers::pi)) / std::log(theta);
    };
    const double low = correction_dim(config.rope_ntk_beta);
    const double high = correction_dim(config.rope_ntk_alpha);
    RopeParameters rope;
    rope.concentration = factor > 1.0 ? static_cast<float>(0.1 * std::log(factor) + 1.0) : 1.0f;
    rope.inv_freq.resize(static_cast<size_t>(config.head_dim / 2));
    for (size_t i = 0; i < rope.inv_freq.size(); ++i) {
        double freq = std::pow(theta, 2.0 * static_cast<double>(i) / static_cast<double>(config.head_dim));
        double ramp = high == low ? (static_cast<double>(i) > low ? 1.0 : 0.0)
                                  : std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
        double interpolation = 1.0 / (factor * freq);
        double extrapolation = 1.0 / freq;
        rope.inv_freq[i] = static_cast<float>(interpolation * ramp + extrapolation * (1.0 - ramp));
    }
    return rope;
}

} // namespace tllm
