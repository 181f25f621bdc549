// Token sampling on the GPU (ops/f32_logits_sample.cu): the CPU sampler's algorithm (runtime/sampler.h),
// with the same arithmetic (core/sampling_math.h), so a row with counter c gets the token
// Sampler(params).sample(row, c) would. Enqueuing only launches kernels, with shapes fixed by the parameters,
// vocab and row count and never by the data, so it can be captured into a CUDA graph: each row's device
// counter is read and then incremented on the device, and replays draw fresh numbers.
#pragma once

#include "core/result.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/kernel_registry.h"

#include <cstdint>
#include <memory>

namespace tllm::cuda {

struct SampleParams {
    float temperature = 0.0f; // 0: greedy; else >= FLT_MIN and finite
    int top_k = 0;            // 0: no limit; 1: greedy
    float top_p = 1.0f;       // (0, 1]
    uint64_t seed = 0;
};

class LogitsSampler {
  public:
    // Device scratch for max_rows rows: per-row hand-over state between the kernels (RowState in the .cu).
    static size_t scratch_bytes(int64_t max_rows);

    // Allocates and zeroes the scratch. vocab in [1, 2^31 - 1], max_rows in [1, 65535].
    static Result<std::unique_ptr<LogitsSampler>>
    create(const CudaContext& context, KernelRegistry& registry, int64_t vocab, int64_t max_rows);

    // Enqueues sampling of `rows` rows on `stream`: tokens[r] (device i32) from logits row r (device f32
    // [rows, vocab], row stride vocab); counters[r] (device u64) is used, then incremented. Row r draws with
    // seeds[r] (device u64) when seeds is not 0, else with params.seed. The scratch is shared by all calls:
    // calls must not run concurrently (keep them on one stream, or order them).
    // kInvalidArgument for bad parameters or rows outside [1, max_rows].
    Status enqueue(CUstream stream,
                   CUdeviceptr logits,
                   int64_t rows,
                   const SampleParams& params,
                   CUdeviceptr counters,
                   CUdeviceptr tokens,
                   CUdeviceptr seeds = 0) const;

    // Kernel launches one enqueue makes with these parameters (1 to 7).
    int launches(const SampleParams& params) const;
    int64_t vocab() const { return vocab_; }
    int64_t max_rows() const { return max_rows_; }
    unsigned blocks_per_row() const { return blocks_per_row_; }

  private:
    LogitsSampler(const CudaContext& context, int64_t vocab, int64_t max_rows);

    const CudaContext& context_;
    int64_t vocab_;
    int64_t max_rows_;
    unsigned blocks_per_row_;
    DeviceBuffer scratch_;
    CUfunction greedy_ = nullptr;
    CUfunction stats_ = nullptr;
    CUfunction count_ = nullptr;
    CUfunction mass_ = nullptr;
    CUfunction draw_ = nullptr;
};

} // namespace tllm::cuda
