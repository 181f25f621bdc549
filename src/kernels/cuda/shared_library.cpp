#include "kernels/cuda/shared_library.h"

#include <dlfcn.h>

namespace tllm::cuda {

Result<SharedLibrary> SharedLibrary::open_first(const std::vector<std::string>& candidates) {
    std::string failures;
    for (const std::string& candidate : candidates) {
        // RTLD_NODELETE: dlclose drops the handle but keeps the code mapped. libcuda runs threads of its own that
        // could still be executing it at exit, and leak reports can only name a library that is still mapped.
        void* handle = ::dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (handle != nullptr) {
            SharedLibrary library;
            library.handle_ = handle;
            library.name_ = candidate;
            return library;
        }
        const char* reason = ::dlerror();
        failures += fmt::format("{}{}", failures.empty() ? "" : "; ", reason != nullptr ? reason : candidate);
    }
    return make_error(ErrorCode::kNotFound, "{}", failures);
}

SharedLibrary::~SharedLibrary() {
    if (handle_ != nullptr) {
        ::dlclose(handle_);
    }
}

SharedLibrary::SharedLibrary(SharedLibrary&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)), name_(std::move(other.name_)) {}

SharedLibrary& SharedLibrary::operator=(SharedLibrary&& other) noexcept {
    if (this != &other) {
        if (handle_ != nullptr) {
            ::dlclose(handle_);
        }
        handle_ = std::exchange(other.handle_, nullptr);
        name_ = std::move(other.name_);
    }
    return *this;
}

void* SharedLibrary::symbol(const char* name) const { return handle_ != nullptr ? ::dlsym(handle_, name) : nullptr; }

} // namespace tllm::cuda
