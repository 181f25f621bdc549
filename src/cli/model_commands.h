// `tritonllm synth`, `tritonllm logits` and `tritonllm generate`.
#pragma once

#include "core/result.h"
#include "runtime/engine.h"

#include <CLI/CLI.hpp>
#include <string>

namespace tllm {

void register_model_commands(CLI::App& app);

// Engine options from the common flags and the environment (TRITONLLM_JIT_BACKEND): backend "" picks
// cuda when a GPU is present.
Result<EngineOptions> engine_options(const std::string& backend, int threads, const std::string& precision);

} // namespace tllm
