// The paged KV cache's books (runtime/kv_block_pool.h, runtime/kv_cache_manager.h): allocation, eviction order,
// exact prefix hits, sliding-window release, and a property test that simulates the KV memory the blocks stand
// for, checking after every operation that each sequence still sees its own tokens at every visible position.
#include "core/random.h"
#include "kv_slot.h"
#include "runtime/kv_cache_manager.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <map>
#include <numeric>

namespace tllm {
namespace {

TEST(KvBlockPool, HandsOutEveryBlockThenNone) {
    KvBlockPool pool(3, 4);
    std::vector<int32_t> got;
    for (int i = 0; i < 3; ++i) {
        auto block = pool.allocate();
        ASSERT_TRUE(block.has_value());
        got.push_back(*block);
    }
    EXPECT_FALSE(pool.allocate().has_value());
    EXPECT_EQ(pool.available(), 0);
    pool.release(got[1]);
    EXPECT_EQ(pool.allocate(), got[1]);
}

TEST(KvBlockPool, EvictsTheLeastRecentlyReleasedCachedBlock) {
    KvBlockPool pool(3, 2);
    const std::vector<int32_t> tokens[3] = {{1, 2}, {3, 4}, {5, 6}};
    int32_t blocks[3];
    for (int i = 0; i < 3; ++i) {
        blocks[i] = *pool.allocate();
        pool.publish(blocks[i], KvBlockPool::chain_key(i, tokens[i]), kNoBlock, tokens[i]);
    }
    for (int i : {1, 0, 2}) { // released in this order: 1 is the first to go
        pool.release(blocks[i]);
    }
    EXPECT_EQ(pool.available(), 3);
    EXPECT_EQ(pool.cached(), 3);
    EXPECT_EQ(pool.allocate(), blocks[1]);
    EXPECT_EQ(pool.stats().evictions, 1);
    EXPECT_FALSE(pool.find_cached(KvBlockPool::chain_key(1, tokens[1]), kNoBlock, tokens[1]).has_value());
    // A hit takes the block off the eviction list until it is released again.
    EXPECT_EQ(pool.find_cached(KvBlockPool::chain_key(0, tokens[0]), kNoBlock, tokens[0]), blocks[0]);
    EXPECT_EQ(pool.allocate(), blocks[2]);
    EXPECT_FALSE(pool.allocate().has_value());
    EXPECT_EQ(pool.stats().hit_blocks, 1);
    EXPECT_EQ(pool.stats().miss_blocks, 1);
}

TEST(KvBlockPool, AHitNeedsTheSameTokensAndALiveParent) {
    KvBlockPool pool(3, 2);
    const std::vector<int32_t> first = {7, 8};
    const std::vector<int32_t> second = {9, 10};
    const int32_t parent = *pool.allocate();
    pool.publish(parent, 11, kNoBlock, first);
    const int32_t child = *pool.allocate();
    pool.publish(child, 22, parent, second);
    // The same key with other tokens, or under another parent, is no hit (as after a key collision).
    const std::vector<int32_t> other = {9, 11};
    EXPECT_FALSE(pool.find_cached(22, parent, other).has_value());
    EXPECT_FALSE(pool.find_cached(22, kNoBlock, second).has_value());
    EXPECT_EQ(pool.find_cached(22, parent, second), child);
    // The parent, released first, is evicted first and its block given to other tokens: the child's chain is stale.
    pool.release(parent);
    pool.release(child);
    pool.release(child);
    const int32_t spare = *pool.allocate();
    EXPECT_NE(spare, parent);
    EXPECT_EQ(pool.allocate(), parent);
    EXPECT_FALSE(pool.find_cached(22, parent, second).has_value());
}

// Positions [0, n) of a prompt computed in one step.
void prefill(KvCacheManager& kv, SequenceKv& sequence, const std::vector<int32_t>& tokens) {
    const int64_t n = static_cast<int64_t>(tokens.size()) - sequence.length;
    ASSERT_TRUE(kv.reserve(sequence, n));
    kv.commit(sequence, tokens, static_cast<int64_t>(tokens.size()));
}

TEST(KvCacheManager, APromptReusesTheWholeBlocksOfAnEarlierOne) {
    KvCacheManager kv(16, 4, {0});
    std::vector<int32_t> prompt(10);
    std::iota(prompt.begin(), prompt.end(), 100);
    SequenceKv first;
    EXPECT_EQ(kv.admit(first, prompt), 0);
    prefill(kv, first, prompt);
    EXPECT_EQ(kv.pool().available(), 13);
    kv.free(first);
    EXPECT_EQ(kv.pool().available(), 16);
    EXPECT_EQ(kv.pool().cached(), 2); // the two full blocks; the partial third is not published

    SequenceKv second;
    std::vector<int32_t> longer = prompt;
    longer.push_back(5);
    EXPECT_EQ(kv.admit(second, longer), 8);
    // A prompt of exactly two blocks reuses one: its last token must be computed for its logits.
    SequenceKv third;
    EXPECT_EQ(kv.admit(third, std::span<const int32_t>(prompt).first(8)), 4);
    EXPECT_EQ(kv.pool().ref_count(second.tables[0][0]), 2);
    std::vector<int32_t> diverging = prompt;
    diverging[5] = 0;
    SequenceKv fourth;
    EXPECT_EQ(kv.admit(fourth, diverging), 4);
    EXPECT_EQ(kv.prefix_stats().reused_tokens, 16);
    for (SequenceKv* s : {&second, &third, &fourth}) {
        kv.free(*s);
    }
    EXPECT_EQ(kv.pool().available(), 16);
}

TEST(KvCacheManager, SlidingGroupsKeepOnlyTheBlocksTheirWindowSees) {
    KvCacheManager kv(32, 4, {0, 8});
    std::vector<int32_t> prompt(21);
    std::iota(prompt.begin(), prompt.end(), 1);
    SequenceKv sequence;
    kv.admit(sequence, prompt);
    prefill(kv, sequence, prompt);
    // The next position, 21, sees 14..21: blocks 3 (12..15) onward.
    const std::vector<int32_t>& sliding = sequence.tables[1];
    ASSERT_EQ(sliding.size(), 6u);
    EXPECT_EQ(std::count(sliding.begin(), sliding.end(), kNoBlock), 3);
    EXPECT_EQ(sliding[3] != kNoBlock && sliding[4] != kNoBlock && sliding[5] != kNoBlock, true);
    EXPECT_EQ(kv.pool().available(), 32 - 6 - 3);
    kv.free(sequence);
    // Another sequence on the same prompt reuses 20 positions: the sliding group's blocks 3 and 4 (cached) serve
    // position 20's window 13..20.
    SequenceKv again;
    EXPECT_EQ(kv.admit(again, prompt), 20);
    EXPECT_EQ(again.tables[1][2], kNoBlock);
    EXPECT_NE(again.tables[1][3], kNoBlock);
    // Cut back to 10 positions: the sliding group dropped block 0 and 1 that 10's window (3..10) needs.
    EXPECT_EQ(kv.truncate(again, 10), 0);
    EXPECT_EQ(kv.pool().available(), 32);
}

// The bound callers size a one-sequence pool by: for random lengths, windows, block sizes and chunkings (a
// prompt in chunks of at most C, then decode one position at a time), the blocks in use never pass it, a pool of
// exactly that many never refuses a reservation, and some run reaches it (it is no looser than it must be).
TEST(KvCacheManager, MaxSequenceBlocksBoundsEveryChunkingAndIsReached) {
    Rng rng(13);
    bool reached = false;
    for (int trial = 0; trial < 400; ++trial) {
        const auto block_tokens = static_cast<int32_t>(1 + rng.next() % 8);
        const auto window = static_cast<int32_t>(1 + rng.next() % 40);
        const auto chunk = static_cast<int64_t>(1 + rng.next() % 50);
        const auto prompt_length = static_cast<int64_t>(1 + rng.next() % 120);
        const auto total = prompt_length + static_cast<int64_t>(rng.next() % 30);
        const std::vector<int32_t> windows = {0, window};
        const int64_t bound = KvCacheManager::max_sequence_blocks(total, chunk, block_tokens, windows);
        KvCacheManager kv(static_cast<int32_t>(bound), block_tokens, windows);
        std::vector<int32_t> tokens(static_cast<size_t>(total));
        std::iota(tokens.begin(), tokens.end(), 7 + trial); // distinct per trial: no prefix hits to skew the count
        SequenceKv sequence;
        kv.admit(sequence, std::span<const int32_t>(tokens).first(static_cast<size_t>(prompt_length)));
        const bool greedy = trial % 2 == 0; // full chunks, or random ones no larger
        int64_t peak = 0;
        while (sequence.length < total) {
            int64_t n = 1;
            if (sequence.length < prompt_length) {
                const int64_t left = prompt_length - sequence.length;
                n = std::min(left, greedy ? chunk : static_cast<int64_t>(1 + rng.next() % chunk));
            }
            ASSERT_TRUE(kv.reserve(sequence, n))
                << "trial " << trial << ": blocks of " << block_tokens << ", window " << window << ", chunks of "
                << chunk << ", at " << sequence.length << " of " << total << ", bound " << bound;
            peak = std::max<int64_t>(peak, bound - kv.pool().available());
            kv.commit(sequence, tokens, sequence.length + n);
        }
        EXPECT_LE(peak, bound);
        reached = reached || peak == bound;
        kv.free(sequence);
        EXPECT_EQ(kv.pool().available(), bound);
    }
    EXPECT_TRUE(reached);
}

using test_util::KvSlot;

struct Live {
    SequenceKv kv;
    std::vector<int32_t> tokens; // prompt, then generated tokens
    int64_t target = 0;          // tokens it will have when it finishes
};

TEST(KvCacheManager, RandomAdmitStepFinishCancelPreemptAndTruncateKeepEverySequencesKv) {
    constexpr int32_t kBlocks = 48;
    constexpr int32_t kBlockTokens = 4;
    constexpr int32_t kWindow = 6;
    KvCacheManager kv(kBlocks, kBlockTokens, {0, kWindow});
    std::vector<std::vector<KvSlot>> memory(2, std::vector<KvSlot>(static_cast<size_t>(kBlocks * kBlockTokens)));
    Rng rng(2026);
    auto uniform = [&](int64_t n) { return static_cast<int64_t>(rng.next() % static_cast<uint64_t>(n)); };
    // Prompts share prefixes: a few stems and a random tail from a small alphabet.
    const std::vector<int32_t> stems[3] = {{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 9, 9}, {7, 7, 7, 7, 7, 7, 7}};
    std::map<int, Live> live;
    int next_id = 0;
    int preempted = 0;
    int finished = 0;

    auto check = [&](const Live& s) {
        for (int g = 0; g < 2; ++g) {
            const std::vector<int32_t>& table =
                s.kv.tables.empty() ? std::vector<int32_t>{} : s.kv.tables[static_cast<size_t>(g)];
            const int64_t first = g == 0 ? 0 : std::max<int64_t>(0, s.kv.length - kWindow + 1);
            for (int64_t p = first; p < s.kv.length; ++p) {
                const int32_t block = table.at(static_cast<size_t>(p / kBlockTokens));
                ASSERT_NE(block, kNoBlock) << "group " << g << " position " << p;
                const KvSlot& slot =
                    memory[static_cast<size_t>(g)][static_cast<size_t>(block * kBlockTokens + p % kBlockTokens)];
                ASSERT_EQ(slot, (KvSlot{s.tokens[static_cast<size_t>(p)], p})) << "group " << g << " position " << p;
            }
        }
    };
    // One step of n positions: reserve, "compute" (write the memory model), commit.
    auto step = [&](Live& s, int64_t n) {
        if (!kv.reserve(s.kv, n)) {
            return false;
        }
        for (int g = 0; g < 2; ++g) {
            for (int64_t p = s.kv.length; p < s.kv.length + n; ++p) {
                const int32_t block = s.kv.tables[static_cast<size_t>(g)][static_cast<size_t>(p / kBlockTokens)];
                // Nobody else may see a block this step writes into.
                EXPECT_EQ(kv.pool().ref_count(block), 1) << "write into a shared block";
                memory[static_cast<size_t>(g)][static_cast<size_t>(block * kBlockTokens + p % kBlockTokens)] =
                    KvSlot{s.tokens[static_cast<size_t>(p)], p};
            }
        }
        kv.commit(s.kv, s.tokens, s.kv.length + n);
        return true;
    };

    for (int op = 0; op < 20000; ++op) {
        const int64_t kind = uniform(40);
        if ((kind < 6 && live.size() < 10) || live.empty()) { // admit, as a scheduler would, while few run
            Live s;
            s.tokens = stems[uniform(3)];
            for (int64_t i = uniform(8); i > 0; --i) {
                s.tokens.push_back(static_cast<int32_t>(uniform(3)));
            }
            s.target = static_cast<int64_t>(s.tokens.size()) + 1 + uniform(20);
            const int64_t reused = kv.admit(s.kv, s.tokens);
            ASSERT_LT(reused, static_cast<int64_t>(s.tokens.size()));
            ASSERT_EQ(reused % kBlockTokens, 0);
            check(s);
            live.emplace(next_id++, std::move(s));
            continue;
        }
        auto it = std::next(live.begin(), uniform(static_cast<int64_t>(live.size())));
        Live& s = it->second;
        if (kind < 36) { // a step: a prefill chunk, or one decode token
            const int64_t pending = static_cast<int64_t>(s.tokens.size()) - s.kv.length;
            const int64_t n = pending > 0 ? 1 + uniform(pending) : 1;
            if (pending == 0) {
                s.tokens.push_back(static_cast<int32_t>(uniform(3))); // the token it sampled
            }
            if (!step(s, n)) { // out of blocks: preempt the newest, to be recomputed from its tokens
                auto newest = std::prev(live.end());
                kv.free(newest->second.kv);
                ++preempted;
                if (pending == 0) {
                    s.tokens.pop_back();
                }
                continue;
            }
            check(s);
            if (static_cast<int64_t>(s.tokens.size()) >= s.target &&
                s.kv.length == static_cast<int64_t>(s.tokens.size())) {
                kv.free(s.kv); // finished
                live.erase(it);
                ++finished;
            }
        } else if (kind < 37) { // cancelled at any point
            kv.free(s.kv);
            live.erase(it);
        } else if (kind < 38) { // truncated (an answer regenerated): positions past the kept KV are recomputed
            const int64_t requested = uniform(s.kv.length + 1);
            const int64_t kept = kv.truncate(s.kv, requested);
            ASSERT_LE(kept, requested);
            s.tokens.resize(static_cast<size_t>(requested));
            check(s);
        } else { // a preempted sequence resumes: its blocks were freed, the cache may still hold its prefix
            if (s.kv.length == 0 && s.kv.tables.empty()) {
                kv.admit(s.kv, s.tokens);
                check(s);
            }
        }
        for (const auto& [id, other] : live) {
            check(other);
        }
        if (::testing::Test::HasFatalFailure()) {
            return;
        }
    }
    for (auto& [id, s] : live) {
        kv.free(s.kv);
    }
    EXPECT_EQ(kv.pool().available(), kBlocks);
    for (int32_t block = 0; block < kBlocks; ++block) {
        EXPECT_EQ(kv.pool().ref_count(block), 0);
    }
    // The operations did happen: cache hits, evictions, preemptions when blocks ran out, sequences finished.
    EXPECT_GT(kv.prefix_stats().reused_tokens, 0);
    EXPECT_GT(preempted, 100) << finished;
    EXPECT_GT(finished, 100) << preempted;
    EXPECT_GT(kv.pool().stats().evictions, 0);
}

} // namespace
} // namespace tllm
