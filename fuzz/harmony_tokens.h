// Shared by the fuzz targets that feed token streams: the o200k_harmony tokenizer, loaded once, and the Harmony
// special tokens a stream should hit often.
#pragma once

#include "tokenizer/tokenizer.h"

#include <cstdlib>

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

} // namespace tllm::fuzz
