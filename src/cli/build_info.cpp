#include "cli/build_info.h"

#include "kernels/cuda/embedded_kernels.h"

#include <fmt/format.h>

namespace tllm {

BuildInfo build_info() {
    const std::span<const int> archs = cuda::configured_archs();
    return {build_stamp(), std::vector<int>(archs.begin(), archs.end())};
}

nlohmann::json build_info_json(const BuildInfo& info) {
    return {{"version", info.stamp.version},     {"git_commit", info.stamp.git_commit},
            {"git_dirty", info.stamp.git_dirty}, {"build_type", info.stamp.build_type},
            {"compiler", info.stamp.compiler},   {"cuda_toolkit", info.stamp.cuda_toolkit},
            {"cubin_archs", info.cubin_archs}};
}

std::string build_info_text(const BuildInfo& info) {
    std::string archs;
    for (int arch : info.cubin_archs) {
        archs += fmt::format("{}sm_{}", archs.empty() ? "" : " ", arch);
    }
    return fmt::format("tritonllm {}\n"
                       "commit:       {}{}\n"
                       "build:        {}, {}\n"
                       "CUDA toolkit: {}\n"
                       "CUBINs for:   {}",
                       info.stamp.version, info.stamp.git_commit,
                       info.stamp.git_dirty ? " (with uncommitted changes)" : "", info.stamp.build_type,
                       info.stamp.compiler, info.stamp.cuda_toolkit, archs.empty() ? "none (NVRTC only)" : archs);
}

} // namespace tllm
