// The CUDA driver API, resolved at run time from libcuda.so.1. Each entry point is a member typed from
// <cuda.h> and fetched with cuGetProcAddress for this header's CUDA_VERSION, so the versioned symbol
// (_v2, _v3) matching the header's prototype is the one called: `driver.cuMemAlloc(&ptr, bytes)`.
#pragma once

#include "core/result.h"
#include "kernels/cuda/shared_library.h"

#include <cuda.h>
#include <memory>
#include <string>
#include <string_view>

namespace tllm::cuda {

// Every driver function we call. Names are cuda.h's: those it #defines to a versioned symbol expand to
// that symbol in the member name too, consistently, while #name keeps the base name cuGetProcAddress wants.
#define TLLM_CU_FUNCTIONS(X)                                                                                           \
    X(cuInit)                                                                                                          \
    X(cuDriverGetVersion)                                                                                              \
    X(cuDeviceGetCount)                                                                                                \
    X(cuDeviceGet)                                                                                                     \
    X(cuDeviceGetName)                                                                                                 \
    X(cuDeviceGetAttribute)                                                                                            \
    X(cuDeviceTotalMem)                                                                                                \
    X(cuDevicePrimaryCtxRetain)                                                                                        \
    X(cuDevicePrimaryCtxRelease)                                                                                       \
    X(cuCtxSetCurrent)                                                                                                 \
    X(cuCtxSynchronize)                                                                                                \
    X(cuMemGetInfo)                                                                                                    \
    X(cuMemAlloc)                                                                                                      \
    X(cuMemFree)                                                                                                       \
    X(cuMemAllocHost)                                                                                                  \
    X(cuMemFreeHost)                                                                                                   \
    X(cuMemcpyHtoD)                                                                                                    \
    X(cuMemcpyDtoH)                                                                                                    \
    X(cuMemcpyHtoDAsync)                                                                                               \
    X(cuMemcpyDtoHAsync)                                                                                               \
    X(cuMemcpyDtoDAsync)                                                                                               \
    X(cuMemsetD8Async)                                                                                                 \
    X(cuMemsetD32Async)                                                                                                \
    X(cuModuleLoadData)                                                                                                \
    X(cuModuleUnload)                                                                                                  \
    X(cuModuleGetFunction)                                                                                             \
    X(cuFuncSetAttribute)                                                                                              \
    X(cuFuncGetAttribute)                                                                                              \
    X(cuLaunchKernel)                                                                                                  \
    X(cuLaunchKernelEx)                                                                                                \
    X(cuStreamCreate)                                                                                                  \
    X(cuStreamDestroy)                                                                                                 \
    X(cuStreamSynchronize)                                                                                             \
    X(cuStreamBeginCapture)                                                                                            \
    X(cuStreamEndCapture)                                                                                              \
    X(cuGraphInstantiateWithFlags)                                                                                     \
    X(cuGraphLaunch)                                                                                                   \
    X(cuGraphDestroy)                                                                                                  \
    X(cuGraphExecDestroy)                                                                                              \
    X(cuEventCreate)                                                                                                   \
    X(cuEventRecord)                                                                                                   \
    X(cuEventSynchronize)                                                                                              \
    X(cuEventElapsedTime)                                                                                              \
    X(cuEventDestroy)                                                                                                  \
    X(cuGetErrorName)                                                                                                  \
    X(cuGetErrorString)

class Driver {
  public:
    // Opens libcuda.so.1 once per process. kNotFound ("no NVIDIA driver: ...") when it is absent; kDevice
    // when the driver lacks an entry point (older than this build needs).
    static Result<const Driver*> load();

#define TLLM_CU_DECLARE_MEMBER(name) decltype(&::name) name = nullptr;
    TLLM_CU_FUNCTIONS(TLLM_CU_DECLARE_MEMBER)
#undef TLLM_CU_DECLARE_MEMBER

    // "CUDA_ERROR_OUT_OF_MEMORY (out of memory)"
    std::string error_text(CUresult result) const;

  private:
    static Result<std::unique_ptr<Driver>> open();
    SharedLibrary library_;
};

// OK for CUDA_SUCCESS; otherwise an Error naming `what` and the driver's error (kOutOfMemory for
// CUDA_ERROR_OUT_OF_MEMORY, kDevice for the rest).
Status cu_status(const Driver& driver, CUresult result, std::string_view what);

// Logs a failed call instead of returning it: for destructors, where a failure usually echoes an earlier,
// already reported error (a sticky launch failure) and aborting would hide it.
void cu_log_failure(const Driver& driver, CUresult result, const char* what, const char* file, int line);
[[noreturn]] void cu_check_failed(const Driver& driver, CUresult result, const char* what, const char* file, int line);

} // namespace tllm::cuda

// TLLM_CU_RETURN(driver, cuMemAlloc(&ptr, bytes)): calls driver.cuMemAlloc and returns its error Status.
#define TLLM_CU_RETURN(driver, call) TLLM_RETURN_IF_ERROR(::tllm::cuda::cu_status((driver), (driver).call, #call))

// For calls that fail only through a bug: aborts with the call and the driver's error (always on).
#define TLLM_CU_CHECK(driver, call)                                                                                    \
    do {                                                                                                               \
        const CUresult tllm_cu_result_ = (driver).call;                                                                \
        if (tllm_cu_result_ != CUDA_SUCCESS) [[unlikely]] {                                                            \
            ::tllm::cuda::cu_check_failed((driver), tllm_cu_result_, #call, __FILE__, __LINE__);                       \
        }                                                                                                              \
    } while (0)

// For destructors: logs a failure and carries on.
#define TLLM_CU_LOG(driver, call)                                                                                      \
    do {                                                                                                               \
        const CUresult tllm_cu_result_ = (driver).call;                                                                \
        if (tllm_cu_result_ != CUDA_SUCCESS) [[unlikely]] {                                                            \
            ::tllm::cuda::cu_log_failure((driver), tllm_cu_result_, #call, __FILE__, __LINE__);                        \
        }                                                                                                              \
    } while (0)
