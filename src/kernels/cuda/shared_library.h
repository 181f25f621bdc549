// A shared library opened at run time (dlopen RAII). libcuda and libnvrtc are never linked, so binaries
// start on machines without an NVIDIA driver or toolkit and report their absence as an ordinary error.
#pragma once

#include "core/result.h"

#include <string>
#include <vector>

namespace tllm::cuda {

class SharedLibrary {
  public:
    // The first of `candidates` that dlopen accepts; the error lists every candidate with its dlerror.
    static Result<SharedLibrary> open_first(const std::vector<std::string>& candidates);

    SharedLibrary() = default;
    ~SharedLibrary();
    SharedLibrary(SharedLibrary&& other) noexcept;
    SharedLibrary& operator=(SharedLibrary&& other) noexcept;
    SharedLibrary(const SharedLibrary&) = delete;
    SharedLibrary& operator=(const SharedLibrary&) = delete;

    // The address of `name`, or nullptr when the library does not export it.
    void* symbol(const char* name) const;
    // The name it was opened under.
    const std::string& name() const { return name_; }

  private:
    void* handle_ = nullptr;
    std::string name_;
};

} // namespace tllm::cuda
