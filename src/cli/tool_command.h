// `tritonllm tool apply_patch|python|browser`: each of the model's tools run alone, exactly as the chat runs
// it, for users and tests.
#pragma once

#include <CLI/CLI.hpp>

namespace tllm {

void register_tool_command(CLI::App& app);

} // namespace tllm
