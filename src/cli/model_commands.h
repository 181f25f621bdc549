// `tritonllm synth`, `tritonllm logits` and `tritonllm generate`.
#pragma once

#include <CLI/CLI.hpp>

namespace tllm {

void register_model_commands(CLI::App& app);

} // namespace tllm
