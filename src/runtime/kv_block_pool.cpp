#include "runtime/kv_block_pool.h"

#include "core/check.h"
#include "core/hash.h"

#include <algorithm>

namespace tllm {

KvBlockPool::KvBlockPool(int32_t n_blocks, int32_t block_tokens)
    : block_tokens_(block_tokens), blocks_(static_cast<size_t>(n_blocks)) {
    TLLM_CHECK(n_blocks > 0 && block_tokens > 0, "KvBlockPool: {} blocks of {} tokens", n_blocks, block_tokens);
    free_.reserve(static_cast<size_t>(n_blocks));
    for (int32_t block = n_blocks - 1; block >= 0; --block) {
        free_.push_back(block); // block 0 is handed out first
    }
}

std::optional<int32_t> KvBlockPool::allocate() {
    int32_t id = kNoBlock;
    if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
    } else if (!lru_.empty()) {
        id = lru_.front();
        lru_.pop_front();
        unpublish(blocks_[static_cast<size_t>(id)]);
        ++stats_.evictions;
    } else {
        return std::nullopt;
    }
    Block& block = blocks_[static_cast<size_t>(id)];
    TLLM_CHECK(block.refs == 0 && !block.published, "KvBlockPool: block {} handed out while in use", id);
    block.refs = 1;
    ++block.generation;
    return id;
}

void KvBlockPool::retain(int32_t id) {
    Block& block = blocks_.at(static_cast<size_t>(id));
    TLLM_CHECK(block.refs > 0 || block.published, "KvBlockPool: retain of free block {}", id);
    if (block.refs == 0) {
        lru_.erase(block.lru_entry);
    }
    ++block.refs;
}

void KvBlockPool::release(int32_t id) {
    Block& block = blocks_.at(static_cast<size_t>(id));
    TLLM_CHECK(block.refs > 0, "KvBlockPool: release of block {} that nobody holds", id);
    if (--block.refs > 0) {
        return;
    }
    if (block.published) {
        block.lru_entry = lru_.insert(lru_.end(), id);
    } else {
        free_.push_back(id);
    }
}

uint64_t KvBlockPool::chain_key(uint64_t parent_key, std::span<const int32_t> tokens) {
    Hasher128 hasher;
    hasher.add(parent_key).add(static_cast<uint64_t>(tokens.size()));
    hasher.add_bytes({reinterpret_cast<const uint8_t*>(tokens.data()), tokens.size_bytes()});
    return hasher.finish().low;
}

std::optional<int32_t> KvBlockPool::find_cached(uint64_t key, int32_t parent, std::span<const int32_t> tokens) {
    const auto found = by_key_.find(key);
    if (found != by_key_.end()) {
        const Block& block = blocks_[static_cast<size_t>(found->second)];
        const bool same_parent =
            block.parent == parent &&
            (parent == kNoBlock || blocks_[static_cast<size_t>(parent)].generation == block.parent_generation);
        if (same_parent && std::equal(block.tokens.begin(), block.tokens.end(), tokens.begin(), tokens.end())) {
            retain(found->second);
            ++stats_.hit_blocks;
            return found->second;
        }
    }
    ++stats_.miss_blocks;
    return std::nullopt;
}

void KvBlockPool::publish(int32_t id, uint64_t key, int32_t parent, std::span<const int32_t> tokens) {
    Block& block = blocks_.at(static_cast<size_t>(id));
    TLLM_CHECK(block.refs > 0 && static_cast<int32_t>(tokens.size()) == block_tokens_,
               "KvBlockPool: publish of block {} (held {} times, {} tokens)", id, block.refs, tokens.size());
    if (block.published || by_key_.contains(key)) {
        return;
    }
    block.published = true;
    block.key = key;
    block.parent = parent;
    block.parent_generation = parent == kNoBlock ? 0 : blocks_.at(static_cast<size_t>(parent)).generation;
    block.tokens.assign(tokens.begin(), tokens.end());
    by_key_.emplace(key, id);
}

void KvBlockPool::unpublish(Block& block) {
    by_key_.erase(block.key);
    block.published = false;
    block.tokens.clear();
}

} // namespace tllm
