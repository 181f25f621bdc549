#include "model/paged_kv_store.h"

#include <algorithm>

namespace tllm {

PagedKvLayout::PagedKvLayout(const GptOssConfig& config, int32_t n_blocks, int32_t block_tokens)
    : n_blocks(n_blocks), block_tokens(block_tokens), row_width(config.kv_width()) {
    TLLM_CHECK(n_blocks > 0 && block_tokens > 0, "paged KV: {} blocks of {} tokens", n_blocks, block_tokens);
    int64_t in_group[2] = {0, 0};
    for (int64_t layer = 0; layer < config.n_layers; ++layer) {
        layer_slot.push_back(in_group[layer_group(config, layer)]++);
    }
    layers_per_block = std::max<int64_t>(1, std::max(in_group[0], in_group[1]));
}

PagedKvStore::PagedKvStore(const GptOssConfig& config, int32_t n_blocks, int32_t block_tokens, DType dtype)
    : layout_(config, n_blocks, block_tokens), dtype_(dtype) {
    TLLM_CHECK(dtype == DType::kBF16 || dtype == DType::kF32, "paged KV dtype {}", dtype_name(dtype));
    const size_t bytes = static_cast<size_t>(layout_.elements()) * dtype_size(dtype);
    // Left uninitialized: a block's rows are written before any token reads them, and untouched pages cost no
    // memory, so a pool sized for a long context grows as the sequences fill it.
    keys_ = std::make_unique_for_overwrite<uint8_t[]>(bytes);
    values_ = std::make_unique_for_overwrite<uint8_t[]>(bytes);
}

} // namespace tllm
