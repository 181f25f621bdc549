// The engine API: one Engine holds the model and the compute resources; each Sequence holds one
// conversation's tokens and KV cache, apart from the model, so many sequences can share it. One
// step advances any number of sequences together.
#pragma once

#include "core/result.h"
#include "core/thread_pool.h"
#include "kernels/cpu/ops.h"
#include "model/forward_cpu.h"
#include "model/kv_cache.h"
#include "model/weights.h"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace tllm {

enum class Backend { kCpu };

struct EngineOptions {
    Backend backend = Backend::kCpu;
    int n_threads = 0;             // 0: every hardware thread
    int64_t max_step_tokens = 256; // longer prompts are processed in chunks of this many tokens
    cpu::SimdPath simd = cpu::SimdPath::kAuto;
    Precision precision = Precision::kBf16; // kF32: a float32 reference (no bf16 rounding, f32 KV cache)
};

class Sequence {
  public:
    Sequence(const GptOssConfig& config, int64_t max_context, DType kv_dtype = DType::kBF16)
        : cache_(config, max_context, kv_dtype) {}
    const std::vector<int32_t>& tokens() const { return tokens_; }
    int64_t length() const { return cache_.length(); }
    int64_t max_context() const { return cache_.max_context(); }
    // Forgets everything from position `length` on, keeping the shared prefix's cache.
    void truncate(int64_t length);

  private:
    friend class Engine;
    std::vector<int32_t> tokens_;
    KvCache cache_;
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

    const GptOssConfig& config() const { return weights_->config(); }
    const EngineOptions& options() const { return options_; }

    // max_context 0 means the model's (initial_context_length x rope factor).
    std::unique_ptr<Sequence> new_sequence(int64_t max_context = 0) const;

    // Appends each input's tokens to its sequence and computes logits: logits[i] is
    // [n_tokens_i or 1, vocab] f32. A sequence may appear at most once per step. On error no
    // sequence changes.
    Status step(std::span<const StepInput> inputs, std::vector<std::vector<float>>& logits);

  private:
    Engine(std::shared_ptr<const ModelWeights> weights, const EngineOptions& options);

    std::shared_ptr<const ModelWeights> weights_;
    EngineOptions options_;
    ThreadPool pool_;
    CpuForward forward_;
};

} // namespace tllm
