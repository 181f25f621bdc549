// What this binary is: its version, the commit and toolchain it was built from, and the CUBIN archs inside.
// Shown by `tritonllm --version` and recorded in `kernels --json` and every `bench` JSON line, so that a
// measurement names the build that made it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tllm {

// Fixed when the binary is built (cmake/build_stamp.cmake writes the definition).
struct BuildStamp {
    const char* version;      // the project version, "0.1.0"
    const char* git_commit;   // 12 hex digits, or "unknown" for a build outside git
    bool git_dirty;           // built with uncommitted changes to tracked files
    const char* build_type;   // CMAKE_BUILD_TYPE
    const char* compiler;     // "GNU 12.2.0"
    const char* cuda_toolkit; // the nvcc release that compiled the CUBINs, "13.0.88"
};
BuildStamp build_stamp();

struct BuildInfo {
    BuildStamp stamp;
    std::vector<int> cubin_archs; // SM numbers with an embedded CUBIN, ascending
};
BuildInfo build_info();

// {"version", "git_commit", "git_dirty", "build_type", "compiler", "cuda_toolkit", "cubin_archs"}
nlohmann::json build_info_json(const BuildInfo& info);
// A few lines for people, the first being "tritonllm <version>"; no newline at the end.
std::string build_info_text(const BuildInfo& info);

} // namespace tllm
