#include "kernels/cuda/logits_sampler.h"

#include "core/check.h"
#include "core/sampling_math.h"

#include <algorithm>
#include <vector>

namespace tllm::cuda {
namespace {

constexpr char kModule[] = "f32_logits_sample";
constexpr unsigned kThreads = 256; // the kernels' block size (kThreads in the .cu)
// sizeof(RowState) in the .cu, which static_asserts the same number: a 64-byte header and 2048 u64 bins.
constexpr size_t kRowStateBytes = 64 + 2048 * 8;
// About 8 logits per thread: enough blocks to spread a 201088-token row over ~100 SMs, few enough that the
// per-block histogram merges stay cheap.
constexpr int64_t kLogitsPerBlock = 8 * kThreads;
constexpr int64_t kMaxBlocksPerRow = 256;

} // namespace

size_t LogitsSampler::scratch_bytes(int64_t max_rows) { return static_cast<size_t>(max_rows) * kRowStateBytes; }

LogitsSampler::LogitsSampler(const CudaContext& context, int64_t vocab, int64_t max_rows)
    : context_(context), vocab_(vocab), max_rows_(max_rows),
      blocks_per_row_(static_cast<unsigned>(
          std::clamp<int64_t>((vocab + kLogitsPerBlock - 1) / kLogitsPerBlock, 1, kMaxBlocksPerRow))) {}

Result<std::unique_ptr<LogitsSampler>>
LogitsSampler::create(const CudaContext& context, KernelRegistry& registry, int64_t vocab, int64_t max_rows) {
    if (vocab < 1 || vocab > INT32_MAX) {
        return make_error(ErrorCode::kInvalidArgument, "sampler vocab {} outside [1, 2^31 - 1]", vocab);
    }
    if (max_rows < 1 || max_rows > 65535) { // rows are gridDim.y
        return make_error(ErrorCode::kInvalidArgument, "sampler max_rows {} outside [1, 65535]", max_rows);
    }
    std::unique_ptr<LogitsSampler> sampler(new LogitsSampler(context, vocab, max_rows));
    TLLM_ASSIGN_OR_RETURN(sampler->greedy_, registry.function(kModule, "f32_logits_sample_greedy"));
    TLLM_ASSIGN_OR_RETURN(sampler->stats_, registry.function(kModule, "f32_logits_sample_stats"));
    TLLM_ASSIGN_OR_RETURN(sampler->count_, registry.function(kModule, "f32_logits_sample_count"));
    TLLM_ASSIGN_OR_RETURN(sampler->mass_, registry.function(kModule, "f32_logits_sample_mass"));
    TLLM_ASSIGN_OR_RETURN(sampler->draw_, registry.function(kModule, "f32_logits_sample_draw"));
    // The kernel chain expects every row's state zeroed, and leaves it so.
    const size_t bytes = scratch_bytes(max_rows);
    TLLM_ASSIGN_OR_RETURN(sampler->scratch_, DeviceBuffer::allocate(context, bytes));
    const std::vector<uint8_t> zeros(bytes, 0);
    TLLM_RETURN_IF_ERROR(sampler->scratch_.upload(zeros.data(), bytes));
    return sampler;
}

int LogitsSampler::launches(const SampleParams& params) const {
    if (sampling::is_greedy(params.temperature, params.top_k)) {
        return 1;
    }
    const bool top_k = params.top_k > 0 && params.top_k < vocab_;
    const bool top_p = params.top_p < 1.0f;
    return 1 + (top_k || top_p ? 1 : 0) + (top_k ? 2 : 0) + (top_p ? 3 : 0);
}

Status LogitsSampler::enqueue(CUstream stream,
                              CUdeviceptr logits,
                              int64_t rows,
                              const SampleParams& params,
                              CUdeviceptr counters,
                              CUdeviceptr tokens,
                              CUdeviceptr seeds) const {
    if (const char* problem = sampling::sampling_params_problem(params.temperature, params.top_p, params.top_k)) {
        return make_error(ErrorCode::kInvalidArgument, "{} (temperature {}, top_p {}, top_k {})", problem,
                          params.temperature, params.top_p, params.top_k);
    }
    if (rows < 1 || rows > max_rows_) {
        return make_error(ErrorCode::kInvalidArgument, "sampling {} rows, outside [1, {}]", rows, max_rows_);
    }
    const Driver& driver = context_.driver();
    const Dim3 grid{blocks_per_row_, static_cast<unsigned>(rows), 1};
    const Dim3 block{kThreads, 1, 1};
    const int32_t vocab = static_cast<int32_t>(vocab_);
    const CUdeviceptr states = scratch_.ptr();
    if (sampling::is_greedy(params.temperature, params.top_k)) {
        return launch(driver, greedy_, grid, block, 0, stream, logits, vocab, counters, tokens, states);
    }
    // Only the parameters choose the chain; the data only decides whether a count pass exits at once.
    const float inverse = sampling::inverse_temperature(params.temperature);
    const bool top_k = params.top_k > 0 && params.top_k < vocab_;
    const bool top_p = params.top_p < 1.0f;
    if (top_k || top_p) {
        const int32_t k = top_k ? params.top_k : 0;
        TLLM_RETURN_IF_ERROR(launch(driver, stats_, grid, block, 0, stream, logits, vocab, inverse, k, states));
    }
    if (top_k) {
        for (int32_t pass = 1; pass < sampling::kRadixPasses; ++pass) {
            TLLM_RETURN_IF_ERROR(launch(driver, count_, grid, block, 0, stream, logits, vocab, inverse, pass, states));
        }
    }
    if (top_p) {
        for (int32_t pass = 0; pass < sampling::kRadixPasses; ++pass) {
            TLLM_RETURN_IF_ERROR(
                launch(driver, mass_, grid, block, 0, stream, logits, vocab, inverse, params.top_p, pass, states));
        }
    }
    return launch(driver, draw_, grid, block, 0, stream, logits, vocab, inverse, params.seed, seeds, counters, tokens,
                  states);
}

} // namespace tllm::cuda
