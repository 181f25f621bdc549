// Per-sequence attention cache: for every layer, the rotated keys and the values of every token
// seen so far, in bf16 as the model stores them (or f32 for the float32 reference precision).
#pragma once

#include "core/check.h"
#include "core/dtype.h"
#include "model/config.h"

#include <cstdint>
#include <vector>

namespace tllm {

class KvCache {
  public:
    // max_context bounds the sequence; storage grows on demand up to it. dtype is kBF16 or kF32.
    KvCache(const GptOssConfig& config, int64_t max_context, DType dtype = DType::kBF16);

    int64_t length() const { return length_; }
    int64_t max_context() const { return max_context_; }
    int64_t n_layers() const { return static_cast<int64_t>(keys_.size()); }
    int64_t row_width() const { return row_width_; } // n_kv_heads * head_dim
    DType dtype() const { return dtype_; }

    // Makes room for `n_tokens` positions in total (amortized doubling, capped at max_context).
    void reserve(int64_t n_tokens);
    // [capacity, n_kv_heads, head_dim] of T (uint16_t bf16 bits, or float)
    template <typename T> T* keys(int64_t layer) { return checked<T>(keys_[static_cast<size_t>(layer)]); }
    template <typename T> T* values(int64_t layer) { return checked<T>(values_[static_cast<size_t>(layer)]); }

    // Called by the forward pass once new positions are written.
    void set_length(int64_t length);
    // Forgets positions >= length (to reuse a shared prefix).
    void truncate(int64_t length);

  private:
    template <typename T> T* checked(std::vector<uint8_t>& storage) {
        TLLM_CHECK(sizeof(T) == dtype_size(dtype_), "KV cache of {} read as {}-byte elements", dtype_name(dtype_),
                   sizeof(T));
        return reinterpret_cast<T*>(storage.data());
    }

    int64_t max_context_;
    int64_t row_width_;
    DType dtype_;
    int64_t capacity_ = 0;
    int64_t length_ = 0;
    std::vector<std::vector<uint8_t>> keys_; // per layer, raw bytes of dtype_
    std::vector<std::vector<uint8_t>> values_;
};

} // namespace tllm
