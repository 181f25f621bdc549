// Shared by the fuzz targets that feed token streams: the o200k_harmony tokenizer, loaded once, and the Harmony
// special tokens a stream should hit often.
#pragma once

#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <cstdlib>
#include <iterator>

namespace tllm::fuzz {

inline const Tokenizer& harmony_tokenizer() {
    static const Tokenizer instance = [] {
        auto loaded = Tokenizer::o200k_harmony();
        if (!loaded.ok()) {
            std::abort();
        }
        return std::move(loaded).value();
    }();
    return instance;
}

inline constexpr TokenId kHarmonySpecials[] = {kTokenStart,   kTokenEnd,       kTokenMessage,
                                               kTokenChannel, kTokenConstrain, kTokenReturn,
                                               kTokenCall,    kTokenEndOfText, 200018};

// A sampled token from 3 bytes: a Harmony special a quarter of the time, a short text piece (the first 1024 ids,
// which split UTF-8 among them) a quarter, any id the rest.
inline TokenId token_from_bytes(const uint8_t* bytes) {
    const uint32_t pick = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16);
    switch (pick % 4) {
    case 0:
        return kHarmonySpecials[(pick >> 2) % std::size(kHarmonySpecials)];
    case 1:
        return static_cast<TokenId>((pick >> 2) % 1024);
    default:
        return static_cast<TokenId>((pick >> 2) % 201088);
    }
}

} // namespace tllm::fuzz
