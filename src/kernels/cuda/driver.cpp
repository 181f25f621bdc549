#include "kernels/cuda/driver.h"

#include "core/check.h"
#include "core/log.h"

#include <string_view>

namespace tllm::cuda {

Result<std::unique_ptr<Driver>> Driver::open() {
    auto library = SharedLibrary::open_first({"libcuda.so.1"});
    if (!library.ok()) {
        return make_error(ErrorCode::kNotFound, "no NVIDIA driver: libcuda.so.1 not found ({})",
                          library.error().message());
    }
    // The versioned name: the unversioned cuGetProcAddress is the CUDA 11 ABI without the status argument.
    auto* get_proc = reinterpret_cast<decltype(&::cuGetProcAddress_v2)>(library->symbol("cuGetProcAddress_v2"));
    if (get_proc == nullptr) {
        return make_error(ErrorCode::kDevice,
                          "the NVIDIA driver ({}) has no cuGetProcAddress_v2: it predates CUDA 12; "
                          "install a driver for CUDA {}.{} or newer",
                          library->name(), CUDA_VERSION / 1000, CUDA_VERSION % 1000 / 10);
    }
    auto driver = std::make_unique<Driver>();
    auto resolve = [&](const char* name, void** slot) -> Status {
        CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        // cuda.h keeps the CUDA 2.0 prototype of cuCtxSynchronize(void) while CUDA 13.0 added a
        // cuCtxSynchronize(CUcontext) under the same base name: ask for the version the header declares.
        const int version = std::string_view(name) == "cuCtxSynchronize" ? 2000 : CUDA_VERSION;
        CUresult result = get_proc(name, slot, version, CU_GET_PROC_ADDRESS_DEFAULT, &found);
        if (result != CUDA_SUCCESS || found != CU_GET_PROC_ADDRESS_SUCCESS || *slot == nullptr) {
            return make_error(ErrorCode::kDevice,
                              "the NVIDIA driver lacks {} (cuGetProcAddress: result {}, status {}); "
                              "it is older than this build needs (CUDA {}.{})",
                              name, static_cast<int>(result), static_cast<int>(found), CUDA_VERSION / 1000,
                              CUDA_VERSION % 1000 / 10);
        }
        return {};
    };
#define TLLM_CU_RESOLVE(name) TLLM_RETURN_IF_ERROR(resolve(#name, reinterpret_cast<void**>(&driver->name)));
    TLLM_CU_FUNCTIONS(TLLM_CU_RESOLVE)
#undef TLLM_CU_RESOLVE
    driver->library_ = std::move(library).value();
    return driver;
}

Result<const Driver*> Driver::load() {
    // Loaded once: the driver's state is per process, and the library stays mapped until exit.
    static const Result<std::unique_ptr<Driver>> loaded = open();
    if (!loaded.ok()) {
        return loaded.error();
    }
    return static_cast<const Driver*>(loaded.value().get());
}

std::string Driver::error_text(CUresult result) const {
    const char* name = nullptr;
    const char* description = nullptr;
    if (cuGetErrorName(result, &name) != CUDA_SUCCESS || name == nullptr) {
        name = "unknown CUresult";
    }
    if (cuGetErrorString(result, &description) != CUDA_SUCCESS || description == nullptr) {
        description = "no description";
    }
    return fmt::format("{} {} ({})", name, static_cast<int>(result), description);
}

Status cu_status(const Driver& driver, CUresult result, std::string_view what) {
    if (result == CUDA_SUCCESS) {
        return {};
    }
    return make_error(result == CUDA_ERROR_OUT_OF_MEMORY ? ErrorCode::kOutOfMemory : ErrorCode::kDevice,
                      "{} failed: {}", what, driver.error_text(result));
}

void cu_log_failure(const Driver& driver, CUresult result, const char* what, const char* file, int line) {
    TLLM_LOG_ERROR("{}:{}: {} failed: {}", file, line, what, driver.error_text(result));
}

void cu_check_failed(const Driver& driver, CUresult result, const char* what, const char* file, int line) {
    detail::check_failed(file, line, what, driver.error_text(result));
}

} // namespace tllm::cuda
