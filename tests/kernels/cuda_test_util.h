// Shared helpers for the GPU kernel tests: one context and registry per test binary, device
// buffers filled from host vectors, and comparisons against the CPU reference kernels.
#pragma once

#include "core/dtype.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/kernel_registry.h"
#include "kernels/cuda/ops.h"

#include <cmath>
#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace tllm::cuda::test_util {

struct Gpu {
    std::unique_ptr<CudaContext> context;
    std::unique_ptr<KernelRegistry> registry;
    std::unique_ptr<OpKernels> kernels;
};

// The process's GPU, or nullptr when there is none (the caller skips).
inline Gpu* gpu() {
    static Gpu* instance = []() -> Gpu* {
        Result<int> count = cuda_device_count();
        if (!count.ok() || *count == 0) {
            return nullptr;
        }
        auto* g = new Gpu();
        auto context = CudaContext::create(0);
        if (!context.ok()) {
            ADD_FAILURE() << context.error().to_string();
            return nullptr;
        }
        g->context = std::move(context).value();
        JitOptions options;
        auto registry = KernelRegistry::create(*g->context, options);
        if (!registry.ok()) {
            ADD_FAILURE() << registry.error().to_string();
            return nullptr;
        }
        g->registry = std::move(registry).value();
        auto kernels = OpKernels::create(*g->registry);
        if (!kernels.ok()) {
            ADD_FAILURE() << kernels.error().to_string();
            return nullptr;
        }
        g->kernels = std::move(kernels).value();
        return g;
    }();
    return instance;
}

#define TLLM_REQUIRE_GPU()                                                                                             \
    do {                                                                                                               \
        if (::tllm::cuda::test_util::gpu() == nullptr) {                                                               \
            GTEST_SKIP() << "no CUDA device";                                                                          \
        }                                                                                                              \
    } while (0)

// A device copy of a host vector; the returned buffer owns the memory.
template <typename T> DeviceBuffer to_device(const std::vector<T>& values) {
    auto buffer = DeviceBuffer::allocate(*gpu()->context, std::max<size_t>(values.size() * sizeof(T), 4));
    EXPECT_TRUE(buffer.ok());
    if (!values.empty()) {
        EXPECT_TRUE(buffer->upload(values.data(), values.size() * sizeof(T)).ok());
    }
    return std::move(buffer).value();
}

// A device buffer of n elements poisoned with NaN bytes (0xff), so unwritten outputs show.
template <typename T> DeviceBuffer poisoned(size_t n) {
    std::vector<uint8_t> bytes(std::max<size_t>(n * sizeof(T), 4), 0xff);
    return to_device(bytes);
}

template <typename T> std::vector<T> to_host(const DeviceBuffer& buffer, size_t n) {
    std::vector<T> out(n);
    EXPECT_TRUE(gpu()->context->driver().cuCtxSynchronize() == CUDA_SUCCESS);
    EXPECT_TRUE(buffer.download(out.data(), n * sizeof(T)).ok());
    return out;
}

// |gpu − cpu| ≤ atol + rtol·|cpu|, or one bf16 step apart when both were rounded to bf16 (f32 sums
// in another order can land on either side of a rounding boundary). NaN never passes.
inline void expect_close(const std::vector<float>& gpu_values,
                         const std::vector<float>& cpu_values,
                         float atol,
                         float rtol,
                         bool bf16_rounded,
                         const char* what) {
    ASSERT_EQ(gpu_values.size(), cpu_values.size()) << what;
    int reported = 0;
    for (size_t i = 0; i < cpu_values.size(); ++i) {
        const float g = gpu_values[i];
        const float c = cpu_values[i];
        float tolerance = atol + rtol * std::fabs(c);
        if (bf16_rounded) {
            tolerance = std::max(tolerance, std::ldexp(1.0f, std::ilogb(c == 0.0f ? 1e-30f : c) - 7));
        }
        const bool ok = !std::isnan(g) && std::fabs(g - c) <= tolerance;
        if (!ok && reported++ < 5) {
            ADD_FAILURE() << what << " [" << i << "]: gpu " << g << " cpu " << c << " tolerance " << tolerance;
        }
    }
}

} // namespace tllm::cuda::test_util
