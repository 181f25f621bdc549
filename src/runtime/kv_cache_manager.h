// The paged KV cache's bookkeeping for many sequences over one KvBlockPool (issue 13): a block table per
// sequence and per layer group. gpt-oss alternates full-attention layers, which keep every position, with
// sliding-window layers, which see only the last `window` positions: each group of layers has its own table, a
// full group's grows block by block and a sliding group's releases the blocks its window has left behind.
// Position p of a sequence lives in slot p % block_tokens of block table[p / block_tokens]; a table entry is
// kNoBlock where a sliding group dropped its block. Prompts reuse the longest cached prefix of whole blocks.
#pragma once

#include "runtime/kv_block_pool.h"

#include <cstdint>
#include <span>
#include <vector>

namespace tllm {

struct SequenceKv {
    std::vector<std::vector<int32_t>> tables; // [group][block index] block id or kNoBlock
    std::vector<uint64_t> keys;               // chain keys of the full blocks the sequence has published or reused
    int64_t length = 0;                       // positions whose KV is computed
};

struct PrefixStats {
    int64_t prompt_tokens = 0; // in prompts admitted
    int64_t reused_tokens = 0; // of those, positions whose KV came from the cache
};

class KvCacheManager {
  public:
    // group_windows: 0 for a group of full-attention layers, else its sliding window in positions.
    KvCacheManager(int32_t n_blocks, int32_t block_tokens, std::vector<int32_t> group_windows);

    // The most blocks one sequence of `tokens` positions holds at once when no step computes more than
    // `chunk_tokens` of its positions: a full group keeps them all; a sliding group keeps the blocks its window sees
    // from a chunk's first position plus the chunk's own, which for a long prompt is more than the window's.
    static int64_t max_sequence_blocks(int64_t tokens,
                                       int64_t chunk_tokens,
                                       int32_t block_tokens,
                                       std::span<const int32_t> group_windows);

    const KvBlockPool& pool() const { return pool_; }
    int32_t block_tokens() const { return pool_.block_tokens(); }
    int n_groups() const { return static_cast<int>(windows_.size()); }
    const PrefixStats& prefix_stats() const { return prefix_stats_; }

    // Starts `sequence` (empty) on a prompt: takes the longest run of cached whole blocks that leaves at least one
    // prompt token to compute (its logits are needed) and whose sliding groups still hold the blocks their window
    // needs. Returns the positions reused; sequence.length is set to it.
    int64_t admit(SequenceKv& sequence, std::span<const int32_t> prompt);
    // Undoes an admit() whose sequence could not start (no blocks for its first chunk): frees it and takes its
    // prompt back out of the prefix statistics, so that a request waiting through many steps counts once.
    void withdraw(SequenceKv& sequence, std::span<const int32_t> prompt);
    // Blocks to add so that positions [length, length + n) have slots.
    int32_t blocks_needed(const SequenceKv& sequence, int64_t n) const;
    // Adds them, all or nothing: false (and nothing taken) when the pool has too few.
    bool reserve(SequenceKv& sequence, int64_t n);
    // A step computed positions up to new_length of `tokens` (all the sequence's tokens): full blocks are
    // published, and sliding groups release the blocks no later position can see.
    void commit(SequenceKv& sequence, std::span<const int32_t> tokens, int64_t new_length);
    // Keeps positions [0, length), rounded down to a block boundary when `length` cuts a block that others may
    // share: the caller recomputes the positions between. Returns the length kept.
    int64_t truncate(SequenceKv& sequence, int64_t length);
    // Returns every block of the sequence (finished, cancelled or preempted); cached ones stay cached.
    void free(SequenceKv& sequence);

  private:
    // The first block index a sliding group must still hold when the next position computed is `next`.
    int64_t first_visible_block(int group, int64_t next) const;
    uint64_t group_key(int group, uint64_t chain_key) const;

    KvBlockPool pool_;
    std::vector<int32_t> windows_;
    PrefixStats prefix_stats_;
};

} // namespace tllm
