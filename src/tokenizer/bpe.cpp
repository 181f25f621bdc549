#include "tokenizer/bpe.h"

#include "core/check.h"

#include <algorithm>
#include <functional>

namespace tllm {
namespace {

// Pieces longer than this use the heap; shorter ones the simple scan, which is faster for them.
constexpr size_t kHeapThreshold = 96;

} // namespace

void bpe_merge_quadratic(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out, BpeScratch& scratch) {
    // tiktoken's loop: scan all adjacent pairs for the lowest rank (leftmost on ties), merge, repeat.
    // Parts are a singly linked list over byte positions; a part's own rank is the rank of the pair that
    // formed it (or of its byte), so no lookups are needed to emit.
    const uint32_t n = static_cast<uint32_t>(piece.size());
    auto& next = scratch.next;           // next[i]: start of the part after part i (n at the end)
    auto& pair_rank = scratch.ranks;     // pair_rank[i]: rank of part i merged with the next part
    auto& part_rank = scratch.part_rank; // part_rank[i]: rank of part i itself
    next.resize(n);
    pair_rank.resize(n);
    part_rank.resize(n);
    auto rank_of_pair = [&](uint32_t i) -> uint32_t {
        uint32_t j = next[i];
        if (j >= n) {
            return Vocab::kNoRank;
        }
        return vocab.rank(piece.substr(i, next[j] - i));
    };
    for (uint32_t i = 0; i < n; ++i) {
        next[i] = i + 1;
        part_rank[i] = vocab.byte_rank(static_cast<uint8_t>(piece[i]));
    }
    for (uint32_t i = 0; i < n; ++i) {
        pair_rank[i] = rank_of_pair(i);
    }
    while (true) {
        uint32_t best = Vocab::kNoRank;
        uint32_t best_i = 0;
        uint32_t best_prev = UINT32_MAX;
        for (uint32_t i = 0, prev = UINT32_MAX; i < n; prev = i, i = next[i]) {
            if (pair_rank[i] < best) { // strict: the leftmost minimum wins ties
                best = pair_rank[i];
                best_i = i;
                best_prev = prev;
            }
        }
        if (best == Vocab::kNoRank) {
            break;
        }
        next[best_i] = next[next[best_i]];
        part_rank[best_i] = best;
        pair_rank[best_i] = rank_of_pair(best_i);
        if (best_prev != UINT32_MAX) {
            pair_rank[best_prev] = rank_of_pair(best_prev);
        }
    }
    for (uint32_t i = 0; i < n; i = next[i]) {
        out.push_back(static_cast<TokenId>(part_rank[i]));
    }
}

void bpe_merge_heap(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out, BpeScratch& scratch) {
    // Parts form a doubly linked list over byte positions 0..n-1 (a part is named by its first byte);
    // the heap holds (rank << 32 | left part) for each candidate pair, so the smallest key is the
    // lowest rank and, among equal ranks, the leftmost pair. Entries made stale by a merge are skipped.
    const uint32_t n = static_cast<uint32_t>(piece.size());
    auto& next = scratch.next; // next[i]: start of the part after part i (n at the end)
    auto& prev = scratch.prev; // prev[i]: start of the part before part i (UINT32_MAX at the front)
    auto& heap = scratch.heap;
    auto& alive_rank = scratch.ranks; // alive_rank[i]: current rank of pair (i, next[i])
    next.resize(n);
    prev.resize(n);
    alive_rank.resize(n);
    heap.clear();
    for (uint32_t i = 0; i < n; ++i) {
        next[i] = i + 1;
        prev[i] = i == 0 ? UINT32_MAX : i - 1;
    }
    auto end_of = [&](uint32_t i) { return next[i]; }; // byte after part i
    auto push_pair = [&](uint32_t i) {
        alive_rank[i] = Vocab::kNoRank;
        if (next[i] >= n) {
            return;
        }
        uint32_t rank = vocab.rank(piece.substr(i, end_of(next[i]) - i));
        alive_rank[i] = rank;
        if (rank != Vocab::kNoRank) {
            heap.push_back((static_cast<uint64_t>(rank) << 32) | i);
            std::push_heap(heap.begin(), heap.end(), std::greater<>());
        }
    };
    for (uint32_t i = 0; i < n; ++i) {
        push_pair(i);
    }
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<>());
        uint64_t top = heap.back();
        heap.pop_back();
        uint32_t rank = static_cast<uint32_t>(top >> 32);
        uint32_t i = static_cast<uint32_t>(top);
        if (prev[i] == UINT32_MAX - 1 || alive_rank[i] != rank) {
            continue; // part i was merged away, or its pair changed since this entry was pushed
        }
        uint32_t j = next[i];
        // Merge part j into part i.
        next[i] = next[j];
        if (next[j] < n) {
            prev[next[j]] = i;
        }
        prev[j] = UINT32_MAX - 1; // dead
        alive_rank[j] = Vocab::kNoRank;
        push_pair(i);
        if (prev[i] != UINT32_MAX) {
            push_pair(prev[i]);
        }
    }
    for (uint32_t i = 0; i < n; i = next[i]) {
        uint32_t rank = vocab.rank(piece.substr(i, next[i] - i));
        TLLM_CHECK(rank != Vocab::kNoRank, "BPE produced a part that is not a token");
        out.push_back(static_cast<TokenId>(rank));
    }
}

void bpe_encode_piece(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out, BpeScratch& scratch) {
    if (piece.size() <= vocab.max_token_bytes()) {
        uint32_t whole = vocab.rank(piece);
        if (whole != Vocab::kNoRank) {
            out.push_back(static_cast<TokenId>(whole));
            return;
        }
    }
    if (piece.size() == 1) {
        TLLM_CHECK(false, "byte 0x{:02x} is not in the vocabulary", static_cast<uint8_t>(piece[0]));
    }
    if (piece.size() <= kHeapThreshold) {
        bpe_merge_quadratic(vocab, piece, out, scratch);
    } else {
        bpe_merge_heap(vocab, piece, out, scratch);
    }
}

} // namespace tllm
