// Launch helpers shared by the OpKernels sources (ops.cpp, ops_attention.cpp); internal to kernels/cuda.
#pragma once

#include "kernels/cuda/device.h"
#include "kernels/cuda/kernel_registry.h"

#include <cstdint>

namespace tllm::cuda::ops_detail {

inline unsigned ceil_div(int64_t a, int64_t b) { return static_cast<unsigned>((a + b - 1) / b); }

// Forward kernels overlap the kernel before them where the card supports it (every one of them waits
// with grid_dependency_wait(), ops/common.cuh); never on the legacy default stream.
template <typename... Args>
Status launch_dependent(const CudaContext& context,
                        bool enabled,
                        CUfunction function,
                        Dim3 grid,
                        Dim3 block,
                        unsigned shared_bytes,
                        CUstream stream,
                        const Args&... args) {
    const LaunchOrder order =
        enabled && stream != nullptr ? LaunchOrder::kOverlapPrevious : LaunchOrder::kAfterPrevious;
    return launch_ordered(context.driver(), function, grid, block, shared_bytes, stream, order, args...);
}

} // namespace tllm::cuda::ops_detail
