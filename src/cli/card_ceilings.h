// What a card can do at most, measured in the same run as a benchmark, so that every speed is reported as a
// fraction of a ceiling of that card: memory copy bandwidth and the tensor cores' mma.sync rate.
#pragma once

#include "core/result.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/ops.h"

#include <functional>
#include <vector>

namespace tllm {

double median(std::vector<double> values);

// Median milliseconds of `reps` calls of enqueue(call), each timed alone between two events on `stream`, after
// `warmups` untimed ones (clocks, page tables, module loads). `call` counts from 0 over all of them.
Result<double> median_call_ms(const cuda::CudaContext& context,
                              const cuda::Stream& stream,
                              int warmups,
                              int reps,
                              const std::function<Status(int)>& enqueue);

// Device-to-device copy bandwidth (bytes read plus written per second), median of 10 copies of 1 GiB.
Result<double> cuda_copy_bandwidth(const cuda::CudaContext& context, const cuda::Stream& stream);

// Host memcpy bandwidth (read plus written), median of 5 copies of 1 GiB, for the cpu backend.
double host_copy_bandwidth();

// bf16 flops per second of mma.sync m16n8k16 with f32 accumulation on every SM (ops/bf16_mma_peak.cu), median of
// 5 launches. Hopper's wgmma reaches about 1.5 times this rate; every shipped arch has mma.sync.
Result<double>
cuda_mma_peak_flops(const cuda::CudaContext& context, const cuda::OpKernels& kernels, const cuda::Stream& stream);

} // namespace tllm
