// `tritonllm kernels`: the GPU kernel modules built into this binary, the card and which image it would
// load; `--compile` warms the NVRTC cache (TRITONLLM_JIT_BACKEND=nvrtc) for the card or for --arch N.
#pragma once

#include <CLI/CLI.hpp>

namespace tllm {

void register_kernel_commands(CLI::App& app);

} // namespace tllm
