// Byte-pair merging of one pre-tokenized piece, as tiktoken's byte_pair_encode does it: a piece that is
// itself a token is emitted whole; otherwise start from single bytes and repeatedly merge the adjacent
// pair whose concatenation has the lowest rank (leftmost on ties) until no adjacent pair is a token.
#pragma once

#include "tokenizer/vocab.h"

#include <cstdint>
#include <string_view>
#include <vector>

namespace tllm {

using TokenId = int32_t;

// Reusable working memory, so encoding a long text allocates nothing per piece.
struct BpeScratch {
    std::vector<uint32_t> next;      // [piece bytes] linked list of parts
    std::vector<uint32_t> prev;      // [piece bytes] (heap merge only)
    std::vector<uint32_t> ranks;     // [piece bytes] rank of each part merged with its successor
    std::vector<uint32_t> part_rank; // [piece bytes] rank of each part (quadratic merge only)
    std::vector<uint64_t> heap;      // (rank << 32 | part) candidates (heap merge only)
};

// Appends the ranks of `piece` (non-empty) to `out`. Every single byte must be a token.
void bpe_encode_piece(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out, BpeScratch& scratch);

// The two merge strategies, exposed so tests can check they agree. The quadratic one is tiktoken's
// own loop (fast for short pieces); the heap one is O(n log n) for long pieces.
void bpe_merge_quadratic(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out, BpeScratch& scratch);
void bpe_merge_heap(const Vocab& vocab, std::string_view piece, std::vector<TokenId>& out, BpeScratch& scratch);

} // namespace tllm
