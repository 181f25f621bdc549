// The engine API: one Engine holds the model and the compute resources; each Sequence holds one
// conversation's tokens and KV cache, apart from the model, so many sequences can share it. One
// step advances any number of sequences together.
#pragma once

#include "core/result.h"
#include "core/thread_pool.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/kernel_registry.h"
#include "model/forward_cpu.h"
#include "model/forward_cuda.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "runtime/sampler.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tllm {

enum class Backend { kCpu, kCuda };
const char* backend_name(Backend backend);
// "cpu" or "cuda"; "" picks cuda when a GPU is present, else cpu.
Result<Backend> parse_backend(const std::string& value);

struct EngineOptions {
    Backend backend = Backend::kCpu;
    cuda::JitOptions jit;          // cuda: where kernel images come from (TRITONLLM_JIT_BACKEND)
    int n_threads = 0;             // 0: every hardware thread
    int64_t max_step_tokens = 256; // longer prompts are processed in chunks of this many tokens
    cpu::SimdPath simd = cpu::SimdPath::kAuto;
    Precision precision = Precision::kBf16; // kF32: a float32 reference (no bf16 rounding, f32 KV cache)
};

// One conversation: its tokens and its KV cache, on the CPU or on the GPU by the engine's backend.
class Sequence {
  public:
    explicit Sequence(std::unique_ptr<KvCache> cache) : cpu_cache_(std::move(cache)) {}
    explicit Sequence(std::unique_ptr<CudaKvCache> cache) : cuda_cache_(std::move(cache)) {}
    const std::vector<int32_t>& tokens() const { return tokens_; }
    int64_t length() const { return cpu_cache_ ? cpu_cache_->length() : cuda_cache_->length(); }
    int64_t max_context() const { return cpu_cache_ ? cpu_cache_->max_context() : cuda_cache_->max_context(); }
    // Forgets everything from position `length` on, keeping the shared prefix's cache.
    void truncate(int64_t length);

  private:
    friend class Engine;
    std::vector<int32_t> tokens_;
    std::unique_ptr<KvCache> cpu_cache_;
    std::unique_ptr<CudaKvCache> cuda_cache_;
};

// KV memory that many sequences share in blocks (runtime/batch_engine.h), on the engine's backend. The books
// (which blocks a sequence holds) are runtime/kv_cache_manager.h's.
class PagedKvMemory {
  public:
    const PagedKvLayout& layout() const { return cpu_ ? cpu_->layout() : cuda_->layout(); }

  private:
    friend class Engine;
    std::unique_ptr<PagedKvStore> cpu_;
    std::unique_ptr<CudaPagedKvStore> cuda_;
};

// How one row of a paged step is sampled: the i-th chunk that wants logits takes the i-th RowSampling.
struct RowSampling {
    SamplingParams params;
    uint64_t counter = 0;      // the draw's counter
    bool keep_logits = false;  // its logits come back too
    int32_t top_logprobs = -1; // ≥ 0: the sampled token's log-probability and the top_logprobs likeliest tokens'
                               // (at most cuda::OpKernels::kMaxLogprobsTop), computed where the logits are
};

struct StepInput {
    Sequence* sequence = nullptr;
    std::span<const int32_t> tokens; // appended to the sequence
    bool all_logits = false;         // logits for every new token, else for the last one
};

class Engine {
  public:
    static Result<std::unique_ptr<Engine>> create(std::shared_ptr<const ModelWeights> weights,
                                                  const EngineOptions& options);

    const GptOssConfig& config() const { return config_; }
    const EngineOptions& options() const { return options_; }

    // The context a sequence asking for `requested` positions gets: the model's (initial_context_length x rope
    // factor) where requested is 0 or less, or more than the model's.
    int64_t context_limit(int64_t requested) const {
        return requested > 0 ? std::min(requested, config_.max_context()) : config_.max_context();
    }

    // max_context 0 means the model's (context_limit). On the GPU the cache
    // for the whole context is allocated at once, so a card too small for it is an error here.
    Result<std::unique_ptr<Sequence>> new_sequence(int64_t max_context = 0) const;

    // Appends each input's tokens to its sequence and computes logits: logits[i] is
    // [n_tokens_i or 1, vocab] f32. A sequence may appear at most once per step. On error no
    // sequence changes.
    Status step(std::span<const StepInput> inputs, std::vector<std::vector<float>>& logits);

    // Paged KV memory of n_blocks blocks of block_tokens positions (kOutOfMemory where the card lacks room).
    Result<std::unique_ptr<PagedKvMemory>> new_paged_kv(int32_t n_blocks, int32_t block_tokens) const;
    // One step over the chunks of many sequences in `kv`: logits[i] is chunk i's last token's [vocab] f32 when
    // it wants logits, else empty. The chunks' tokens must fit one step (max_step_tokens) and their tables
    // cover their positions (checked); kInvalidArgument for token ids outside the vocabulary. The cuda backend
    // runs it in bf16 only (kUnsupported for the f32 reference).
    Status step_paged(PagedKvMemory& kv, std::span<const PagedChunk> chunks, std::vector<std::vector<float>>& logits);
    // The same step with each row sampled where the logits are (on the GPU for the cuda backend, so only tokens
    // cross to the host): tokens[i] for the i-th chunk wanting logits, kept_logits[i] its logits where
    // keep_logits asks (else empty), and with `logprobs`, (*logprobs)[i] its log-probabilities where top_logprobs
    // asks (computed where the logits are: only a few numbers a row leave the GPU). The same tokens on both
    // backends, as Sampler::sample(logits, counter).
    Status step_paged_sampled(PagedKvMemory& kv,
                              std::span<const PagedChunk> chunks,
                              std::span<const RowSampling> sampling,
                              std::vector<int32_t>& tokens,
                              std::vector<std::vector<float>>& kept_logits,
                              std::vector<RowLogprobs>* logprobs = nullptr);
    // step_paged_sampled in two halves, so that the host prepares the next step while this one runs (on the GPU;
    // the cpu backend computes it in the launch): launch_paged_sampled queues the step, collect_paged_sampled
    // waits for the oldest step launched and not collected and gives its results. A launch finds at most one step
    // not collected. A chunk token −1 − i (Scheduler::fed_back_token(i)) stands for the token the previous launched
    // step sampled for its i-th row, which on the GPU never goes through the host.
    Status
    launch_paged_sampled(PagedKvMemory& kv, std::span<const PagedChunk> chunks, std::span<const RowSampling> sampling);
    Status collect_paged_sampled(std::vector<int32_t>& tokens,
                                 std::vector<std::vector<float>>& kept_logits,
                                 std::vector<RowLogprobs>* logprobs = nullptr);
    // Forgets the steps launched and not collected, after an error (their results are lost; the next launch waits
    // for whatever they left running).
    void abandon_paged_steps();

    // Feeds `token` (the sequence's next input) and samples `steps` tokens one after another, each
    // fed back as the next input except the last: on return the sequence holds `token` and the first
    // steps − 1 sampled tokens, and `out` all `steps` sampled ones. The sampler's counter starts at
    // `counter`, so equal arguments give equal tokens on both backends (up to rounding near-ties).
    // On the GPU the steps run as one captured graph each, without host work in between.
    Status decode(Sequence& sequence,
                  int32_t token,
                  int64_t steps,
                  const SamplingParams& params,
                  uint64_t counter,
                  std::vector<int32_t>& out);

    // The GPU objects (cuda backend only), for benchmarks.
    const cuda::CudaContext* cuda_context() const { return cuda_context_.get(); }
    CudaForward* cuda_forward() const { return cuda_forward_.get(); }

  private:
    Engine(std::shared_ptr<const ModelWeights> weights, const GptOssConfig& config, const EngineOptions& options);
    Status init_cuda(int64_t reserve_context, uint64_t synthetic_seed);
    // Makes the GPU context current on the calling thread (cuda backend; nothing on the cpu one).
    Status use_this_thread() const;

    std::shared_ptr<const ModelWeights> weights_; // host weights (absent for synthetic GPU weights)
    GptOssConfig config_;
    EngineOptions options_;
    ThreadPool pool_;
    std::unique_ptr<CpuForward> cpu_forward_;
    // cuda backend, in construction order
    std::unique_ptr<cuda::CudaContext> cuda_context_;
    std::unique_ptr<cuda::KernelRegistry> registry_;
    std::unique_ptr<cuda::OpKernels> kernels_;
    std::unique_ptr<CudaWeights> cuda_weights_;
    std::unique_ptr<CudaForward> cuda_forward_;
    // cpu backend: paged steps launched (computed) and not collected, and the last one's sampled tokens.
    struct CpuSampledStep {
        std::vector<int32_t> tokens;
        std::vector<std::vector<float>> kept_logits;
        std::vector<RowLogprobs> logprobs;
    };
    std::vector<CpuSampledStep> cpu_launched_;
    std::vector<int32_t> cpu_fed_back_;

  public:
    // A GPU engine over random weights of the config's shapes made on the card (no file); for
    // benchmarks. reserve_context: KV positions the memory check keeps room for.
    static Result<std::unique_ptr<Engine>>
    create_synthetic(const GptOssConfig& config, const EngineOptions& options, uint64_t seed, int64_t reserve_context);
};

} // namespace tllm
