// The pool of fixed-size KV blocks that the paged KV cache hands to sequences (issue 13), with prefix caching:
// a full block that a sequence has computed can be published under the key of its tokens and of every token
// before it, and a later sequence whose prompt starts the same way takes it instead of computing it again.
// This class only keeps the books (which block is free, referenced or cached); the KV memory itself belongs to
// the backend, indexed by block.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace tllm {

inline constexpr int32_t kNoBlock = -1;

struct KvBlockStats {
    int64_t hit_blocks = 0;  // find_cached found the block
    int64_t miss_blocks = 0; // find_cached did not
    int64_t evictions = 0;   // cached blocks given to new tokens
};

class KvBlockPool {
  public:
    KvBlockPool(int32_t n_blocks, int32_t block_tokens);

    int32_t n_blocks() const { return static_cast<int32_t>(blocks_.size()); }
    int32_t block_tokens() const { return block_tokens_; }
    // Blocks allocate() can hand out now: never used, released, or cached and held by no sequence.
    int32_t available() const { return static_cast<int32_t>(free_.size() + lru_.size()); }
    int32_t cached() const { return static_cast<int32_t>(by_key_.size()); }
    int32_t ref_count(int32_t block) const { return blocks_.at(static_cast<size_t>(block)).refs; }
    const KvBlockStats& stats() const { return stats_; }

    // A block for new tokens, held once: a block nobody has published first, else the least recently released
    // cached one, whose cache entry goes. None when every block is held.
    std::optional<int32_t> allocate();
    void retain(int32_t block);
    // At no holders left a published block stays cached (most recently released last in line for eviction);
    // another goes back to the free blocks.
    void release(int32_t block);

    // The key of a full block: its tokens after the key of the block before it (`parent_key`; a group's seed for
    // the first block).
    static uint64_t chain_key(uint64_t parent_key, std::span<const int32_t> tokens);
    // The block published under `key` that holds exactly `tokens` after the block `parent` (kNoBlock: none), held
    // once more and counted as a hit; none (a miss) otherwise. Comparing the tokens and the parent block, not only
    // the key, makes a hit exact even when two prefixes' keys collide.
    std::optional<int32_t> find_cached(uint64_t key, int32_t parent, std::span<const int32_t> tokens);
    // Publishes a held, full block. A key already published keeps its block (two sequences that computed the same
    // prefix at once): this one stays private and is freed on release.
    void publish(int32_t block, uint64_t key, int32_t parent, std::span<const int32_t> tokens);

  private:
    struct Block {
        int32_t refs = 0;
        bool published = false;
        uint64_t key = 0;
        int32_t parent = kNoBlock;
        uint32_t parent_generation = 0;
        uint32_t generation = 0; // bumped when the block is given to new tokens: children naming it go stale
        std::vector<int32_t> tokens;
        std::list<int32_t>::iterator lru_entry;
    };
    void unpublish(Block& block);

    int32_t block_tokens_;
    std::vector<Block> blocks_;
    std::vector<int32_t> free_; // unpublished and held by nobody
    std::list<int32_t> lru_;    // published and held by nobody, least recently released first
    std::unordered_map<uint64_t, int32_t> by_key_;
    KvBlockStats stats_;
};

} // namespace tllm
