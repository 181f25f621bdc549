// The model the chat binary's tests synthesize: the real vocabulary (the chat renders Harmony's special
// tokens) around the smallest network that runs.
#pragma once

#include "files.h"
#include "shell.h"
#include "temp_dir.h"

#include <string>

namespace tllm::testing {

inline constexpr const char* kChatBinaryTestConfig = R"({
  "num_hidden_layers": 1, "num_experts": 2, "experts_per_token": 1, "vocab_size": 201088,
  "hidden_size": 32, "intermediate_size": 32, "swiglu_limit": 7.0, "head_dim": 16,
  "num_attention_heads": 2, "num_key_value_heads": 1, "sliding_window": 16,
  "initial_context_length": 4096, "rope_theta": 150000.0, "rope_scaling_factor": 32.0,
  "rope_ntk_alpha": 1.0, "rope_ntk_beta": 32.0
})";

// Writes kChatBinaryTestConfig to `directory`/config.json and a checkpoint for it to `directory`/model with the
// binary's own `synth`.
inline CommandResult synthesize_chat_test_model(const TempDir& directory) {
    write_file(directory / "config.json", kChatBinaryTestConfig);
    return run_shell(std::string(TLLM_BINARY) + " synth --seed 5 --config " + (directory / "config.json") + " --out " +
                     (directory / "model") + " 2>&1");
}

} // namespace tllm::testing
