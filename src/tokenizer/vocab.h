// The byte-level BPE vocabulary: token byte strings <-> ranks (a token's id is its rank), with a
// flat open-addressing hash table tuned for the merge loop's lookups of short byte strings.
#pragma once

#include "core/result.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace tllm {

class Vocab {
  public:
    static constexpr uint32_t kNoRank = UINT32_MAX;

    // Parses a tiktoken rank file: one "<base64 bytes> <rank>\n" line per token, ranks 0..n-1.
    static Result<Vocab> from_tiktoken(std::string_view file_text);
    // Builds from byte strings listed in rank order (tokens[r] has rank r).
    static Result<Vocab> from_tokens(std::vector<std::string> tokens);

    Vocab() = default;

    // Rank of `bytes`, or kNoRank if it is not a token.
    uint32_t rank(std::string_view bytes) const {
        if (bytes.size() > max_token_bytes_) {
            return kNoRank;
        }
        uint64_t h = hash(bytes);
        uint32_t tag = tag_of(h, bytes.size());
        for (uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
            const Slot& s = slots_[slot];
            if (s.rank == kNoRank) {
                return kNoRank;
            }
            if (s.tag == tag && bytes_equal(pool_.data() + s.offset, bytes.data(), bytes.size())) {
                return s.rank;
            }
        }
    }
    std::string_view bytes(uint32_t rank) const {
        return std::string_view(pool_).substr(offsets_[rank], offsets_[rank + 1] - offsets_[rank]);
    }
    // Rank of a single byte (every byte is a token in a byte-level vocabulary; kNoRank otherwise).
    uint32_t byte_rank(uint8_t byte) const { return byte_ranks_[byte]; }
    size_t size() const { return offsets_.empty() ? 0 : offsets_.size() - 1; }
    size_t max_token_bytes() const { return max_token_bytes_; }

    // One multiply-mix per 8 bytes: tokens are short.
    static uint64_t hash(std::string_view bytes) {
        const char* p = bytes.data();
        size_t n = bytes.size();
        uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
        while (n >= 8) {
            h = mix(h, load<uint64_t>(p));
            p += 8;
            n -= 8;
        }
        uint64_t tail = 0;
        if (n >= 4) {
            tail = (static_cast<uint64_t>(load<uint32_t>(p)) << 32) | load<uint32_t>(p + n - 4);
        } else if (n > 0) {
            tail = (static_cast<uint64_t>(static_cast<uint8_t>(p[0])) << 16) |
                   (static_cast<uint64_t>(static_cast<uint8_t>(p[n / 2])) << 8) | static_cast<uint8_t>(p[n - 1]);
        }
        return mix(h, tail ^ (static_cast<uint64_t>(n) << 59));
    }

  private:
    struct Slot {
        uint32_t rank = kNoRank;
        uint32_t tag = 0;    // 24 hash bits and the length, so most mismatches never touch the bytes
        uint32_t offset = 0; // start of the token in pool_
    };

    static uint32_t tag_of(uint64_t hash, size_t length) {
        return (static_cast<uint32_t>(hash >> 32) & 0xFFFFFF00u) | static_cast<uint32_t>(length);
    }
    // Equality of two n-byte strings with fixed-size (inlined) loads; n <= 255.
    static bool bytes_equal(const char* a, const char* b, size_t n) {
        if (n >= 8) {
            for (size_t i = 0; i + 8 < n; i += 8) {
                if (load<uint64_t>(a + i) != load<uint64_t>(b + i)) {
                    return false;
                }
            }
            return load<uint64_t>(a + n - 8) == load<uint64_t>(b + n - 8);
        }
        if (n >= 4) {
            return load<uint32_t>(a) == load<uint32_t>(b) && load<uint32_t>(a + n - 4) == load<uint32_t>(b + n - 4);
        }
        if (n >= 2) {
            return load<uint16_t>(a) == load<uint16_t>(b) && a[n - 1] == b[n - 1];
        }
        return n == 0 || a[0] == b[0];
    }
    static uint64_t mix(uint64_t a, uint64_t b) {
        __uint128_t product = static_cast<__uint128_t>(a ^ 0x2d358dccaa6c78a5ull) * (b ^ 0x8bb84b93962eacc9ull);
        return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
    }
    template <typename T> static T load(const char* p) {
        T value;
        std::memcpy(&value, p, sizeof(T));
        return value;
    }
    Status build_index();

    std::string pool_;              // all token bytes, concatenated in rank order
    std::vector<uint32_t> offsets_; // [size + 1] start of each token in pool_
    std::vector<Slot> slots_;       // power-of-two table, load factor <= 0.5
    uint64_t mask_ = 0;
    size_t max_token_bytes_ = 0;
    uint32_t byte_ranks_[256] = {};
};

} // namespace tllm
