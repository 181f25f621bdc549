#include "cli/card_ceilings.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace tllm {

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

Result<double> median_call_ms(const cuda::CudaContext& context,
                              const cuda::Stream& stream,
                              int warmups,
                              int reps,
                              const std::function<Status(int)>& enqueue) {
    TLLM_ASSIGN_OR_RETURN(cuda::Event start, cuda::Event::create(context));
    TLLM_ASSIGN_OR_RETURN(cuda::Event stop, cuda::Event::create(context));
    std::vector<double> times;
    for (int call = 0; call < warmups + reps; ++call) {
        TLLM_RETURN_IF_ERROR(start.record(stream));
        TLLM_RETURN_IF_ERROR(enqueue(call));
        TLLM_RETURN_IF_ERROR(stop.record(stream));
        TLLM_RETURN_IF_ERROR(stop.synchronize());
        TLLM_ASSIGN_OR_RETURN(float ms, stop.elapsed_ms_since(start));
        if (call >= warmups) {
            times.push_back(ms);
        }
    }
    return median(times);
}

Result<double> cuda_copy_bandwidth(const cuda::CudaContext& context, const cuda::Stream& stream) {
    const size_t bytes = size_t{1} << 30;
    TLLM_ASSIGN_OR_RETURN(cuda::DeviceBuffer source, cuda::DeviceBuffer::allocate(context, bytes));
    TLLM_ASSIGN_OR_RETURN(cuda::DeviceBuffer target, cuda::DeviceBuffer::allocate(context, bytes));
    const cuda::Driver& driver = context.driver();
    TLLM_CU_RETURN(driver, cuMemsetD8Async(source.ptr(), 0x5a, bytes, stream.get()));
    TLLM_ASSIGN_OR_RETURN(const double ms, median_call_ms(context, stream, 2, 10, [&](int) -> Status {
                              TLLM_CU_RETURN(driver,
                                             cuMemcpyDtoDAsync(target.ptr(), source.ptr(), bytes, stream.get()));
                              return {};
                          }));
    return 2.0 * static_cast<double>(bytes) / (ms * 1e-3);
}

double host_copy_bandwidth() {
    using Clock = std::chrono::steady_clock;
    const size_t bytes = size_t{1} << 30;
    std::vector<uint8_t> source(bytes, 0x5a);
    std::vector<uint8_t> target(bytes, 0);
    std::vector<double> rates;
    for (int i = 0; i < 6; ++i) {
        const auto start = Clock::now();
        std::memcpy(target.data(), source.data(), bytes);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        if (i >= 1) {
            rates.push_back(2.0 * static_cast<double>(bytes) / seconds);
        }
    }
    return median(rates);
}

Result<double>
cuda_mma_peak_flops(const cuda::CudaContext& context, const cuda::OpKernels& kernels, const cuda::Stream& stream) {
    // Eight blocks of 256 threads fill an SM's 64 warp slots; 4096 rounds make a launch last milliseconds.
    const unsigned blocks = static_cast<unsigned>(context.info().sm_count) * 8;
    constexpr int kRounds = 4096;
    TLLM_ASSIGN_OR_RETURN(cuda::DeviceBuffer out,
                          cuda::DeviceBuffer::allocate(context, size_t{blocks} * cuda::OpKernels::kMmaPeakThreads * 4));
    const double flops = static_cast<double>(blocks) * (cuda::OpKernels::kMmaPeakThreads / 32) * kRounds *
                         cuda::OpKernels::kMmaPeakChains * (2.0 * 16 * 8 * 16);
    TLLM_ASSIGN_OR_RETURN(const double ms, median_call_ms(context, stream, 2, 5, [&](int) {
                              return kernels.mma_peak(stream.get(), blocks, kRounds, out.as<float>());
                          }));
    return flops / (ms * 1e-3);
}

} // namespace tllm
