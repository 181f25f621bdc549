// The model the chat binary's tests synthesize: the real vocabulary (the chat renders Harmony's special
// tokens) around the smallest network that runs.
#pragma once

namespace tllm::testing {

inline constexpr const char* kChatBinaryTestConfig = R"({
  "num_hidden_layers": 1, "num_experts": 2, "experts_per_token": 1, "vocab_size": 201088,
  "hidden_size": 32, "intermediate_size": 32, "swiglu_limit": 7.0, "head_dim": 16,
  "num_attention_heads": 2, "num_key_value_heads": 1, "sliding_window": 16,
  "initial_context_length": 4096, "rope_theta": 150000.0, "rope_scaling_factor": 32.0,
  "rope_ntk_alpha": 1.0, "rope_ntk_beta": 32.0
})";

} // namespace tllm::testing
