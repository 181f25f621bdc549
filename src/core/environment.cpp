#include "core/environment.h"

#include <cstdlib>

namespace tllm {

Environment Environment::from_process() {
    // The only getenv in the project.
    return from_lookup([](const char* name) { return std::getenv(name); });
}

Environment Environment::from_lookup(const std::function<const char*(const char*)>& lookup) {
    auto get = [&](const char* name) -> std::string {
        const char* value = lookup(name);
        return value != nullptr ? std::string(value) : std::string();
    };
    Environment environment;
    environment.jit_backend = get("TRITONLLM_JIT_BACKEND");

    environment.cache_dir = get("TRITONLLM_CACHE_DIR");
    if (environment.cache_dir.empty()) {
        if (std::string xdg = get("XDG_CACHE_HOME"); !xdg.empty()) {
            environment.cache_dir = xdg + "/tritonllm";
        } else if (std::string home = get("HOME"); !home.empty()) {
            environment.cache_dir = home + "/.cache/tritonllm";
        }
    }

    environment.cuda_home = get("CUDA_HOME");
    if (environment.cuda_home.empty()) {
        environment.cuda_home = get("CUDA_PATH");
    }
    if (environment.cuda_home.empty()) {
        environment.cuda_home = "/usr/local/cuda";
    }
    return environment;
}

} // namespace tllm
