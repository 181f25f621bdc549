// NVRTC, opened at run time: compiles the embedded kernel sources for the exact card (or any arch, with
// no GPU present), and keeps the results in a disk cache keyed by everything that affects the output.
#pragma once

#include "core/result.h"
#include "kernels/cuda/embedded_kernels.h"
#include "kernels/cuda/shared_library.h"

#include <memory>
#include <nvrtc.h>
#include <string>
#include <utility>
#include <vector>

namespace tllm::cuda {

#define TLLM_NVRTC_FUNCTIONS(X)                                                                                        \
    X(nvrtcGetErrorString)                                                                                             \
    X(nvrtcVersion)                                                                                                    \
    X(nvrtcGetNumSupportedArchs)                                                                                       \
    X(nvrtcGetSupportedArchs)                                                                                          \
    X(nvrtcCreateProgram)                                                                                              \
    X(nvrtcDestroyProgram)                                                                                             \
    X(nvrtcCompileProgram)                                                                                             \
    X(nvrtcGetProgramLogSize)                                                                                          \
    X(nvrtcGetProgramLog)                                                                                              \
    X(nvrtcGetPTXSize)                                                                                                 \
    X(nvrtcGetPTX)                                                                                                     \
    X(nvrtcGetCUBINSize)                                                                                               \
    X(nvrtcGetCUBIN)

class Nvrtc {
  public:
    // Tries libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so, <cuda_home>/lib64/libnvrtc.so.13 and
    // /usr/local/cuda/lib64/libnvrtc.so.13; kNotFound listing each failure when none opens.
    static Result<std::unique_ptr<Nvrtc>> load(const std::string& cuda_home);

#define TLLM_NVRTC_DECLARE_MEMBER(name) decltype(&::name) name = nullptr;
    TLLM_NVRTC_FUNCTIONS(TLLM_NVRTC_DECLARE_MEMBER)
#undef TLLM_NVRTC_DECLARE_MEMBER

    int major() const { return major_; }
    int minor() const { return minor_; }
    std::string version() const { return fmt::format("{}.{}", major_, minor_); }
    // SM numbers it can emit CUBIN for, ascending.
    const std::vector<int>& supported_archs() const { return supported_archs_; }
    const std::string& library_name() const { return library_.name(); }

  private:
    SharedLibrary library_;
    int major_ = 0;
    int minor_ = 0;
    std::vector<int> supported_archs_;
};

// -DNAME=VALUE options for NVRTC, e.g. to bake shapes into a module.
using JitDefines = std::vector<std::pair<std::string, std::string>>;

struct NvrtcImage {
    std::vector<uint8_t> bytes; // a CUBIN, or NUL-terminated PTX text when `ptx`
    bool ptx = false;           // NVRTC does not know the arch: PTX for `target`, JIT-compiled by the driver
    int arch = 0;               // the arch asked for
    int target = 0;             // the sm_ of the CUBIN, or the compute_ of the PTX
    bool compiled = false;      // false: it came from the disk cache
    std::string cache_path;     // "" without a cache
    double seconds = 0;         // compile time, or cache read time
};

// Compiles one module for `arch` (SM number) with the embedded headers, -std=c++17, -DTLLM_JIT=1 and the
// defines. Needs no GPU. A compile error returns kInternal carrying NVRTC's log.
Result<NvrtcImage> nvrtc_compile(const Nvrtc& nvrtc, const EmbeddedModule& module, int arch, const JitDefines& defines);

enum class CacheUse {
    kReadWrite, // use a valid cache file; compile and store otherwise
    kRefresh,   // compile and overwrite (the driver refused the cached image)
};

// nvrtc_compile through the disk cache <cache_dir>/nvrtc/<module>.sm_<arch>.<key>.cubin, whose key hashes the
// NVRTC version, the source, every header, every option and the target. Files carry a checksum: a damaged
// one is logged, recompiled and overwritten. An empty cache_dir compiles without a cache.
Result<NvrtcImage> nvrtc_compile_cached(const Nvrtc& nvrtc,
                                        const EmbeddedModule& module,
                                        int arch,
                                        const JitDefines& defines,
                                        const std::string& cache_dir,
                                        CacheUse use = CacheUse::kReadWrite);

// The file nvrtc_compile_cached reads and writes for these inputs.
Result<std::string> nvrtc_cache_path(const Nvrtc& nvrtc,
                                     const EmbeddedModule& module,
                                     int arch,
                                     const JitDefines& defines,
                                     const std::string& cache_dir);

} // namespace tllm::cuda
