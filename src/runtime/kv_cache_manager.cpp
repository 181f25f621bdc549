#include "runtime/kv_cache_manager.h"

#include "core/check.h"

#include <algorithm>
#include <optional>

namespace tllm {
namespace {

constexpr uint64_t kChainSeed = 0x6b762d626c6f636bull; // the parent key of a sequence's first block

} // namespace

KvCacheManager::KvCacheManager(int32_t n_blocks, int32_t block_tokens, std::vector<int32_t> group_windows)
    : pool_(n_blocks, block_tokens), windows_(std::move(group_windows)) {
    TLLM_CHECK(!windows_.empty() && windows_[0] == 0,
               "KvCacheManager: the first layer group must keep every position (the prefix chain hangs off it)");
    for (int32_t window : windows_) {
        TLLM_CHECK(window >= 0, "KvCacheManager: window {}", window);
    }
}

int64_t KvCacheManager::max_sequence_blocks(int64_t tokens,
                                            int64_t chunk_tokens,
                                            int32_t block_tokens,
                                            std::span<const int32_t> group_windows) {
    TLLM_CHECK(tokens >= 0 && chunk_tokens > 0 && block_tokens > 0,
               "max_sequence_blocks: {} tokens, chunks of {}, blocks of {}", tokens, chunk_tokens, block_tokens);
    const int64_t all = (tokens + block_tokens - 1) / block_tokens;
    int64_t blocks = 0;
    for (int32_t window : group_windows) {
        // A chunk of n from position s holds blocks floor((s - window + 1) / b) to ceil((s + n) / b) - 1: at most
        // floor((n + window - 3) / b) + 2 of them, whatever s is.
        blocks += window == 0 ? all : std::min(all, (chunk_tokens + window - 3) / block_tokens + 2);
    }
    return blocks;
}

int64_t KvCacheManager::first_visible_block(int group, int64_t next) const {
    const int32_t window = windows_[static_cast<size_t>(group)];
    if (window == 0) {
        return 0;
    }
    return std::max<int64_t>(0, next - window + 1) / block_tokens();
}

uint64_t KvCacheManager::group_key(int group, uint64_t chain_key) const {
    // Each group's blocks are published under their own keys: the same tokens hold other layers' KV.
    return group == 0 ? chain_key : KvBlockPool::chain_key(chain_key + static_cast<uint64_t>(group), {});
}

int64_t KvCacheManager::admit(SequenceKv& sequence, std::span<const int32_t> prompt) {
    TLLM_CHECK(sequence.length == 0 && sequence.keys.empty(), "KvCacheManager::admit: the sequence has KV already");
    const int32_t b = block_tokens();
    sequence.tables.assign(windows_.size(), {});
    // Whole blocks of the prompt, one token kept back so that the last prompt token is computed.
    const int64_t candidates = prompt.empty() ? 0 : (static_cast<int64_t>(prompt.size()) - 1) / b;
    // The chain of the first group; a sliding group's block i hangs off the first group's block i, which pins
    // the whole prefix, so that dropped blocks before its window need not be cached.
    std::vector<int32_t> chain;
    std::vector<uint64_t> keys;
    uint64_t parent_key = kChainSeed;
    for (int64_t i = 0; i < candidates; ++i) {
        const std::span<const int32_t> tokens = prompt.subspan(static_cast<size_t>(i * b), static_cast<size_t>(b));
        const uint64_t key = KvBlockPool::chain_key(parent_key, tokens);
        const auto block = pool_.find_cached(group_key(0, key), chain.empty() ? kNoBlock : chain.back(), tokens);
        if (!block) {
            break;
        }
        chain.push_back(*block);
        keys.push_back(key);
        parent_key = key;
    }
    // The longest prefix of `chain` that every other group can serve: the blocks its window needs at that length
    // must be cached. Each block is looked up at most once, as shorter prefixes need earlier blocks.
    std::vector<std::vector<std::optional<int32_t>>> found(windows_.size()); // [group][index], looked up lazily
    std::vector<std::vector<bool>> looked(windows_.size());
    auto cached = [&](int g, int64_t i) {
        const size_t gi = static_cast<size_t>(g);
        const size_t ii = static_cast<size_t>(i);
        if (!looked[gi][ii]) {
            looked[gi][ii] = true;
            found[gi][ii] = pool_.find_cached(group_key(g, keys[ii]), chain[ii],
                                              prompt.subspan(ii * static_cast<size_t>(b), static_cast<size_t>(b)));
        }
        return found[gi][ii].has_value();
    };
    for (int g = 1; g < n_groups(); ++g) {
        found[static_cast<size_t>(g)].resize(chain.size());
        looked[static_cast<size_t>(g)].assign(chain.size(), false);
    }
    int64_t reused = static_cast<int64_t>(chain.size());
    for (; reused > 0; --reused) {
        bool served = true;
        for (int g = 1; g < n_groups() && served; ++g) {
            for (int64_t i = first_visible_block(g, reused * b); i < reused && served; ++i) {
                served = cached(g, i);
            }
        }
        if (served) {
            break;
        }
    }
    for (size_t i = static_cast<size_t>(reused); i < chain.size(); ++i) {
        pool_.release(chain[i]);
    }
    chain.resize(static_cast<size_t>(reused));
    keys.resize(static_cast<size_t>(reused));
    sequence.tables[0] = std::move(chain);
    for (int g = 1; g < n_groups(); ++g) {
        const int64_t first = reused == 0 ? 0 : first_visible_block(g, reused * b);
        std::vector<int32_t>& table = sequence.tables[static_cast<size_t>(g)];
        for (size_t i = 0; i < found[static_cast<size_t>(g)].size(); ++i) {
            const std::optional<int32_t> block = found[static_cast<size_t>(g)][i];
            const bool kept = static_cast<int64_t>(i) >= first && static_cast<int64_t>(i) < reused;
            if (kept) {
                table.push_back(*block);
            } else if (static_cast<int64_t>(i) < reused) {
                table.push_back(kNoBlock);
            }
            if (block && !kept) {
                pool_.release(*block);
            }
        }
    }
    sequence.keys = std::move(keys);
    sequence.length = reused * b;
    prefix_stats_.prompt_tokens += static_cast<int64_t>(prompt.size());
    prefix_stats_.reused_tokens += sequence.length;
    return sequence.length;
}

void KvCacheManager::withdraw(SequenceKv& sequence, std::span<const int32_t> prompt) {
    prefix_stats_.prompt_tokens -= static_cast<int64_t>(prompt.size());
    prefix_stats_.reused_tokens -= sequence.length;
    free(sequence);
}

int32_t KvCacheManager::blocks_needed(const SequenceKv& sequence, int64_t n) const {
    const int64_t blocks_after = (sequence.length + n + block_tokens() - 1) / block_tokens();
    int64_t needed = 0;
    for (const std::vector<int32_t>& table : sequence.tables) {
        needed += std::max<int64_t>(0, blocks_after - static_cast<int64_t>(table.size()));
    }
    return static_cast<int32_t>(needed);
}

bool KvCacheManager::reserve(SequenceKv& sequence, int64_t n) {
    if (sequence.tables.empty()) {
        sequence.tables.assign(windows_.size(), {});
    }
    const int32_t needed = blocks_needed(sequence, n);
    if (needed > pool_.available()) {
        return false;
    }
    const size_t blocks_after = static_cast<size_t>((sequence.length + n + block_tokens() - 1) / block_tokens());
    for (std::vector<int32_t>& table : sequence.tables) {
        while (table.size() < blocks_after) {
            const auto block = pool_.allocate();
            TLLM_CHECK(block.has_value(), "KvCacheManager::reserve: the pool ran out after counting");
            table.push_back(*block);
        }
    }
    return true;
}

void KvCacheManager::commit(SequenceKv& sequence, std::span<const int32_t> tokens, int64_t new_length) {
    const int32_t b = block_tokens();
    TLLM_CHECK(new_length >= sequence.length && new_length <= static_cast<int64_t>(tokens.size()) &&
                   (new_length + b - 1) / b <= static_cast<int64_t>(sequence.tables[0].size()),
               "KvCacheManager::commit: length {} to {} with {} tokens", sequence.length, new_length, tokens.size());
    sequence.length = new_length;
    // Publish the blocks completed, before a sliding group lets any go.
    for (int64_t i = static_cast<int64_t>(sequence.keys.size()); (i + 1) * b <= new_length; ++i) {
        const std::span<const int32_t> block_tokens =
            tokens.subspan(static_cast<size_t>(i * b), static_cast<size_t>(b));
        const uint64_t key =
            KvBlockPool::chain_key(sequence.keys.empty() ? kChainSeed : sequence.keys.back(), block_tokens);
        const int32_t anchor = sequence.tables[0][static_cast<size_t>(i)];
        pool_.publish(anchor, key, i == 0 ? kNoBlock : sequence.tables[0][static_cast<size_t>(i - 1)], block_tokens);
        for (int g = 1; g < n_groups(); ++g) {
            const int32_t block = sequence.tables[static_cast<size_t>(g)][static_cast<size_t>(i)];
            if (block != kNoBlock) {
                pool_.publish(block, group_key(g, key), anchor, block_tokens);
            }
        }
        sequence.keys.push_back(key);
    }
    for (int g = 1; g < n_groups(); ++g) {
        std::vector<int32_t>& table = sequence.tables[static_cast<size_t>(g)];
        const int64_t first = std::min<int64_t>(first_visible_block(g, new_length), static_cast<int64_t>(table.size()));
        for (int64_t i = 0; i < first; ++i) {
            int32_t& block = table[static_cast<size_t>(i)];
            if (block != kNoBlock) {
                pool_.release(block);
                block = kNoBlock;
            }
        }
    }
}

int64_t KvCacheManager::truncate(SequenceKv& sequence, int64_t length) {
    const int32_t b = block_tokens();
    length = std::clamp<int64_t>(length, 0, sequence.length);
    if (sequence.tables.empty()) { // never admitted, or freed: nothing to keep
        return 0;
    }
    // A published block is never written again: cut inside one, keep only the whole blocks before it.
    if (length % b != 0 && length / b < static_cast<int64_t>(sequence.keys.size())) {
        length = length / b * b;
    }
    // A sliding group that dropped blocks the shorter sequence would need again cannot serve it.
    for (int g = 1; g < n_groups(); ++g) {
        const std::vector<int32_t>& table = sequence.tables[static_cast<size_t>(g)];
        const int64_t first = first_visible_block(g, length);
        for (int64_t i = first; i < std::min<int64_t>((length + b - 1) / b, static_cast<int64_t>(table.size())); ++i) {
            if (table[static_cast<size_t>(i)] == kNoBlock) {
                length = 0; // nothing short of a recompute from the start restores them
                break;
            }
        }
    }
    const size_t keep = static_cast<size_t>((length + b - 1) / b);
    for (std::vector<int32_t>& table : sequence.tables) {
        for (size_t i = keep; i < table.size(); ++i) {
            if (table[i] != kNoBlock) {
                pool_.release(table[i]);
            }
        }
        table.resize(std::min(keep, table.size()));
    }
    if (length == 0) {
        free(sequence);
        return 0;
    }
    sequence.keys.resize(std::min(sequence.keys.size(), static_cast<size_t>(length / b)));
    sequence.length = length;
    return length;
}

void KvCacheManager::free(SequenceKv& sequence) {
    for (std::vector<int32_t>& table : sequence.tables) {
        for (int32_t block : table) {
            if (block != kNoBlock) {
                pool_.release(block);
            }
        }
    }
    sequence = SequenceKv{};
}

} // namespace tllm
