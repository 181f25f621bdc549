// `tritonllm bench`.
#pragma once

#include <CLI/CLI.hpp>

namespace tllm {

void register_bench_command(CLI::App& app);

} // namespace tllm
