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
#include <memory>
#include <span>
#include <vector>

namespace tllm {

// Where paged KV rows live, the same on the CPU and on the GPU (model/cuda_paged_kv_store.h): n_blocks blocks of
// layers_per_block layers × block_tokens positions × row_width values, for keys and for values alike.
struct PagedKvLayout {
    PagedKvLayout(const GptOssConfig& config, int32_t n_blocks, int32_t block_tokens);

    static int layer_group(const GptOssConfig& config, int64_t layer) {
        return config.layer_sliding[static_cast<size_t>(layer)] ? 1 : 0;
    }
    // Rows ([n_kv_heads, head_dim]) from one block to the next within a layer's view.
    int64_t block_rows() const { return layers_per_block * block_tokens; }
    // Elements of keys (or of values) in all.
    int64_t elements() const { return int64_t{n_blocks} * layers_per_block * block_tokens * row_width; }
    // Where `layer`'s view starts: position slot s of block b is its row b·block_rows() + s.
    int64_t layer_offset(int64_t layer) const {
        return layer_slot[static_cast<size_t>(layer)] * block_tokens * row_width;
    }

    int32_t n_blocks;
    int32_t block_tokens;
    int64_t row_width;
    int64_t layers_per_block = 0;
    std::vector<int64_t> layer_slot; // [layer] its index within its group
};

// One sequence's part of a paged step: its new tokens take positions start, start + 1, ..., and their K and V rows
// are found through the sequence's block tables, one per layer group (PagedKvLayout::layer_group).
struct PagedChunk {
    std::span<const int32_t> tokens;
    int64_t start = 0;
    std::span<const int32_t> tables[2];
    bool logits = true;      // the logits of its last token are wanted
    bool all_logits = false; // with `logits`: those of every token, in order (not in sampled steps)
};

class PagedKvStore {
  public:
    PagedKvStore(const GptOssConfig& config, int32_t n_blocks, int32_t block_tokens, DType dtype);

    static int layer_group(const GptOssConfig& config, int64_t layer) {
        return PagedKvLayout::layer_group(config, layer);
    }
    const PagedKvLayout& layout() const { return layout_; }
    int32_t n_blocks() const { return layout_.n_blocks; }
    int32_t block_tokens() const { return layout_.block_tokens; }
    int64_t block_rows() const { return layout_.block_rows(); }
    DType dtype() const { return dtype_; }

    // `layer`'s view: position slot s of block b is row b·block_rows() + s. T is uint16_t (bf16 bits) or float.
    template <typename T> T* keys(int64_t layer) { return view<T>(keys_, layer); }
    template <typename T> T* values(int64_t layer) { return view<T>(values_, layer); }

  private:
    template <typename T> T* view(std::unique_ptr<uint8_t[]>& storage, int64_t layer) {
        TLLM_CHECK(sizeof(T) == dtype_size(dtype_), "paged KV of {} read as {}-byte elements", dtype_name(dtype_),
                   sizeof(T));
        return reinterpret_cast<T*>(storage.get()) + layout_.layer_offset(layer);
    }

    PagedKvLayout layout_;
    DType dtype_;
    std::unique_ptr<uint8_t[]> keys_; // [n_blocks, layers_per_block, block_tokens, row_width] of dtype_
    std::unique_ptr<uint8_t[]> values_;
};

} // namespace tllm
