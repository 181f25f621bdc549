#include "model/kv_cache.h"

#include <algorithm>

namespace tllm {

KvCache::KvCache(const GptOssConfig& config, int64_t max_context, DType dtype)
    : max_context_(max_context), row_width_(config.kv_width()), dtype_(dtype) {
    TLLM_CHECK(max_context > 0, "max_context {}", max_context);
    TLLM_CHECK(dtype == DType::kBF16 || dtype == DType::kF32, "KV cache dtype {}", dtype_name(dtype));
    keys_.resize(static_cast<size_t>(config.n_layers));
    values_.resize(static_cast<size_t>(config.n_layers));
}

void KvCache::reserve(int64_t n_tokens) {
    TLLM_CHECK(n_tokens <= max_context_, "reserve {} beyond max context {}", n_tokens, max_context_);
    if (n_tokens <= capacity_) {
        return;
    }
    int64_t capacity = std::min(max_context_, std::max({n_tokens, capacity_ * 2, int64_t{64}}));
    size_t bytes = static_cast<size_t>(capacity * row_width_) * dtype_size(dtype_);
    for (size_t layer = 0; layer < keys_.size(); ++layer) {
        keys_[layer].resize(bytes);
        values_[layer].resize(bytes);
    }
    capacity_ = capacity;
}

void KvCache::set_length(int64_t length) {
    TLLM_CHECK(length >= 0 && length <= capacity_, "length {} beyond capacity {}", length, capacity_);
    length_ = length;
}

void KvCache::truncate(int64_t length) {
    TLLM_CHECK(length >= 0, "truncate to {}", length);
    length_ = std::min(length_, length);
}

} // namespace tllm
