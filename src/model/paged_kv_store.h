// The KV memory of the paged cache on the CPU (issue 13): n_blocks blocks, each holding block_tokens positions of
// every layer of one layer group, so that a block id given to a sequence's full-attention table and another to
// its sliding-window table cost one group's layers each. Groups are numbered as KvCacheManager's tables:
// 0 for full-attention layers, 1 for sliding-window ones. The books (which block belongs to whom) are
// runtime/kv_cache_manager.h's; this is only the memory.
#pragma once

#include "core/check.h"
#include "core/dtype.h"
#include "model/config.h"

#include <cstdint>
#include <vector>

namespace tllm {

class PagedKvStore {
  public:
    PagedKvStore(const GptOssConfig& config, int32_t n_blocks, int32_t block_tokens, DType dtype);

    static int layer_group(const GptOssConfig& config, int64_t layer) {
        return config.layer_sliding[static_cast<size_t>(layer)] ? 1 : 0;
    }
    int32_t n_blocks() const { return n_blocks_; }
    int32_t block_tokens() const { return block_tokens_; }
    // Rows ([n_kv_heads, head_dim]) from one block to the next within a layer's view.
    int64_t block_rows() const { return layers_per_block_ * block_tokens_; }
    DType dtype() const { return dtype_; }

    // `layer`'s view: position slot s of block b is row b·block_rows() + s. T is uint16_t (bf16 bits) or float.
    template <typename T> T* keys(int64_t layer) { return view<T>(keys_, layer); }
    template <typename T> T* values(int64_t layer) { return view<T>(values_, layer); }

  private:
    template <typename T> T* view(std::vector<uint8_t>& storage, int64_t layer) {
        TLLM_CHECK(sizeof(T) == dtype_size(dtype_), "paged KV of {} read as {}-byte elements", dtype_name(dtype_),
                   sizeof(T));
        return reinterpret_cast<T*>(storage.data()) +
               layer_slot_[static_cast<size_t>(layer)] * block_tokens_ * row_width_;
    }

    int32_t n_blocks_;
    int32_t block_tokens_;
    int64_t row_width_;
    DType dtype_;
    int64_t layers_per_block_ = 0;
    std::vector<int64_t> layer_slot_; // [layer] its index within its group
    std::vector<uint8_t> keys_;       // [n_blocks, layers_per_block, block_tokens, row_width] of dtype_
    std::vector<uint8_t> values_;
};

} // namespace tllm
