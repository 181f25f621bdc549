#include "model/paged_kv_store.h"

#include <algorithm>

namespace tllm {

PagedKvStore::PagedKvStore(const GptOssConfig& config, int32_t n_blocks, int32_t block_tokens, DType dtype)
    : n_blocks_(n_blocks), block_tokens_(block_tokens), row_width_(config.kv_width()), dtype_(dtype) {
    TLLM_CHECK(n_blocks > 0 && block_tokens > 0, "PagedKvStore: {} blocks of {} tokens", n_blocks, block_tokens);
    TLLM_CHECK(dtype == DType::kBF16 || dtype == DType::kF32, "paged KV dtype {}", dtype_name(dtype));
    int64_t in_group[2] = {0, 0};
    for (int64_t layer = 0; layer < config.n_layers; ++layer) {
        layer_slot_.push_back(in_group[layer_group(config, layer)]++);
    }
    layers_per_block_ = std::max<int64_t>(1, std::max(in_group[0], in_group[1]));
    const size_t bytes = static_cast<size_t>(n_blocks) * static_cast<size_t>(layers_per_block_) *
                         static_cast<size_t>(block_tokens) * static_cast<size_t>(row_width_) * dtype_size(dtype);
    keys_.assign(bytes, 0);
    values_.assign(bytes, 0);
}

} // namespace tllm
