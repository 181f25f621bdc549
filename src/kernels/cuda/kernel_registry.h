// One kernel registry and one launch path for every GPU kernel. Modules (src/kernels/cuda/ops/<op>.cu) are
// loaded on first use from an ImageSource: the embedded CUBINs (default), NVRTC at run time
// (TRITONLLM_JIT_BACKEND=nvrtc), and later Triton-compiled CUBINs.
#pragma once

#include "core/environment.h"
#include "core/result.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/driver.h"
#include "kernels/cuda/nvrtc.h"

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tllm::cuda {

enum class JitBackend { kCubin, kNvrtc, kTriton };

// "" or "cubin" -> kCubin, "nvrtc", "triton"; anything else is kInvalidArgument.
Result<JitBackend> parse_jit_backend(std::string_view value);
const char* jit_backend_name(JitBackend backend);

struct JitOptions {
    JitBackend backend = JitBackend::kCubin;
    std::string cache_dir; // "" = no disk cache
    std::string cuda_home; // where to look for libnvrtc after the loader's search path
    JitDefines defines;    // -DNAME=VALUE for NVRTC, to bake shapes
};

// TRITONLLM_JIT_BACKEND, the cache dir and CUDA_HOME from the environment.
Result<JitOptions> jit_options_from(const Environment& environment);

// An image ready for cuModuleLoadData: a CUBIN, or NUL-terminated PTX.
struct LoadedImage {
    std::span<const uint8_t> borrowed; // embedded bytes, alive for the process
    std::vector<uint8_t> owned;        // bytes built at run time
    std::string origin;                // for logs: "embedded sm_90", "nvrtc sm_90 (cached)"
    std::span<const uint8_t> bytes() const { return owned.empty() ? borrowed : std::span<const uint8_t>(owned); }
};

// Where module images come from. A source is asked again, with `refresh`, when the driver refused the image
// it gave (a source with a cache rebuilds it then).
class ImageSource {
  public:
    virtual ~ImageSource() = default;
    virtual Result<LoadedImage> image(std::string_view module, int arch, bool refresh) = 0;
    virtual bool can_refresh() const { return false; }
    virtual std::string describe(int arch) const = 0;
};

// Loads modules into one context and hands out their kernels. Thread-safe.
class KernelRegistry {
  public:
    // Fails early when the backend cannot serve this card: no embedded image for its arch, no NVRTC, or triton.
    static Result<std::unique_ptr<KernelRegistry>> create(const CudaContext& context, const JitOptions& options);
    // For tests and for future sources: a registry over any image source.
    KernelRegistry(const CudaContext& context, JitBackend backend, std::unique_ptr<ImageSource> source);
    ~KernelRegistry();
    KernelRegistry(const KernelRegistry&) = delete;
    KernelRegistry& operator=(const KernelRegistry&) = delete;

    // Loads `module` (op file stem) on first use and returns its extern "C" kernel `kernel`.
    Result<CUfunction> function(std::string_view module, std::string_view kernel);
    // Loads `module` now (e.g. every module at start-up, so the first step does not pay for it).
    Status preload(std::string_view module);
    JitBackend backend() const { return backend_; }
    // For logs, e.g. "cubin: embedded sm_90 images for NVIDIA H100 80GB HBM3 (sm_90)".
    std::string describe() const;
    const CudaContext& context() const { return context_; }

  private:
    class Module;
    Result<Module*> module_locked(std::string_view name);

    const CudaContext& context_;
    JitBackend backend_;
    std::unique_ptr<ImageSource> source_;
    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<Module>, std::less<>> modules_;
    std::map<std::string, CUfunction, std::less<>> functions_; // "module/kernel"
};

struct Dim3 {
    unsigned x = 1, y = 1, z = 1;
};

// How a launch may overlap the kernel before it on the stream.
enum class LaunchOrder {
    kAfterPrevious, // ordinary stream order
    // Programmatic dependent launch (sm_90+): the kernel may start while the previous one finishes and
    // must call grid_dependency_wait() (ops/common.cuh) before touching what earlier kernels use.
    kOverlapPrevious,
};

// Launches `function` with `params` (addresses of the arguments, in order, null-terminated).
Status launch_params(const Driver& driver,
                     CUfunction function,
                     Dim3 grid,
                     Dim3 block,
                     unsigned shared_bytes,
                     CUstream stream,
                     LaunchOrder order,
                     void** params);

// Launches `function` with `args` passed by address in order: each argument's type must be exactly the
// kernel's parameter type (u64, not int, for a u64 parameter), since the driver copies sizeof(parameter)
// bytes from each address. Device pointers are passed as typed pointers (DeviceBuffer::as<T>()) or CUdeviceptr.
template <typename... Args>
Status launch_ordered(const Driver& driver,
                      CUfunction function,
                      Dim3 grid,
                      Dim3 block,
                      unsigned shared_bytes,
                      CUstream stream,
                      LaunchOrder order,
                      const Args&... args) {
    static_assert((std::is_trivially_copyable_v<Args> && ...), "kernel arguments must be plain values or pointers");
    void* params[] = {const_cast<void*>(static_cast<const void*>(&args))..., nullptr};
    return launch_params(driver, function, grid, block, shared_bytes, stream, order, params);
}

template <typename... Args>
Status launch(const Driver& driver,
              CUfunction function,
              Dim3 grid,
              Dim3 block,
              unsigned shared_bytes,
              CUstream stream,
              const Args&... args) {
    return launch_ordered(driver, function, grid, block, shared_bytes, stream, LaunchOrder::kAfterPrevious, args...);
}

} // namespace tllm::cuda
