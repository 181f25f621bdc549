// The gpt-oss forward pass on the CPU (spec §A.2), over a batch of sequences at once: linear
// layers see every new token of every sequence together (each weight read once per step), while
// attention runs per sequence against its own cache.
//
// Precision (docs/precision.md): weights stay in their checkpoint formats and arithmetic is f32.
// With Precision::kBf16 (the default) values are rounded to bf16 where the model keeps them in
// memory between operations: the residual stream, normalized activations, q/k/v (and the KV cache),
// the attention output and the SwiGLU output; router logits, routing weights, expert sums and
// logits stay f32. Precision::kF32 rounds nothing and keeps an f32 KV cache: a float32 reference.
#pragma once

#include "core/result.h"
#include "core/thread_pool.h"
#include "kernels/cpu/ops.h"
#include "model/kv_cache.h"
#include "model/paged_kv_store.h"
#include "model/weights.h"

#include <cstdint>
#include <span>
#include <vector>

namespace tllm {

enum class Precision { kBf16, kF32 };
const char* precision_name(Precision precision);
// The KV cache element type each precision needs.
inline DType kv_cache_dtype(Precision precision) { return precision == Precision::kF32 ? DType::kF32 : DType::kBF16; }

// A sequence's KV in a paged store: its block table per layer group (PagedKvStore::layer_group), covering the
// positions of the step's new tokens, which take positions `start` onward.
struct PagedKv {
    PagedKvStore* store = nullptr;
    std::vector<std::span<const int32_t>> tables;
    int64_t start = 0;
};

struct ForwardRequest {
    KvCache* cache = nullptr;             // appended to: tokens take positions cache->length() onward
    PagedKv paged;                        // instead of `cache`
    std::span<const int32_t> tokens;      // [n] new tokens, n >= 1
    bool all_logits = false;              // logits for every new token, else for the last one only
    std::vector<float>* logits = nullptr; // out: [n or 1, vocab] f32 (resized); null: none wanted, none computed
};

// Sees intermediate activations, for comparing against other implementations block by block.
// rows are [n_tokens, width] f32 for all tokens of the step.
struct ForwardObserver {
    virtual ~ForwardObserver() = default;
    virtual void attention_output(int64_t /*layer*/, std::span<const float> /*rows: [n, hidden]*/) {}
    virtual void router_logits(int64_t /*layer*/, std::span<const float> /*rows: [n, n_experts]*/) {}
    virtual void moe_output(int64_t /*layer*/, std::span<const float> /*rows: [n, hidden]*/) {}
};

class CpuForward {
  public:
    CpuForward(const ModelWeights& weights,
               ThreadPool& pool,
               cpu::SimdPath simd = cpu::SimdPath::kAuto,
               Precision precision = Precision::kBf16);

    // Validates every request first (token ids in range, room in each cache); on error nothing
    // is changed.
    Status run(std::span<ForwardRequest> requests);
    void set_observer(ForwardObserver* observer) { observer_ = observer; }

  private:
    void attention_block(int64_t layer, std::span<ForwardRequest> requests, std::span<const int32_t> positions);
    // Writes one request's k and v rows (`row` onward in k_, v_) into its cache and attends over it.
    template <typename T>
    void write_and_attend(int64_t layer, ForwardRequest& request, size_t row, const int32_t* positions, float* out);
    void moe_block(int64_t layer, int64_t n_tokens);
    // Rounds the first n values to bf16 in Precision::kBf16; nothing in kF32.
    void round_stored(std::vector<float>& values, size_t n) const;
    float store(float value) const;

    const ModelWeights& weights_;
    const GptOssConfig& config_;
    ThreadPool& pool_;
    cpu::SimdPath simd_;
    Precision precision_;
    RopeParameters rope_;
    ForwardObserver* observer_ = nullptr;

    // Scratch, sized for the current step.
    std::vector<float> residual_;       // [n, hidden] (bf16 values)
    std::vector<float> normed_;         // [n, hidden] (bf16 values)
    std::vector<float> q_;              // [n, q_width]
    std::vector<float> k_;              // [n, kv_width]
    std::vector<float> v_;              // [n, kv_width]
    std::vector<float> attn_;           // [n, q_width]
    std::vector<float> projected_;      // [n, hidden]
    std::vector<float> router_;         // [n, n_experts]
    std::vector<int32_t> expert_ids_;   // [n, experts_per_token]
    std::vector<float> expert_weights_; // [n, experts_per_token]
    std::vector<float> moe_sum_;        // [n, hidden]
    std::vector<float> expert_in_;      // [n_routed, hidden]
    std::vector<float> expert_h_;       // [n_routed, 2 * intermediate]
    std::vector<float> expert_act_;     // [n_routed, intermediate]
    std::vector<float> expert_out_;     // [n_routed, hidden]
};

} // namespace tllm
