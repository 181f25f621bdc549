// The o200k pre-tokenizer: splits text into the pieces that OpenAI's regex
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// finds (leftmost-first alternation with backtracking, as the Rust regex/fancy-regex engines run it),
// written out by hand. \s is Unicode White_Space; (?i) is simple case folding, so 'ſ matches 's.
#pragma once

#include <cstddef>
#include <string_view>

namespace tllm {

// End (byte offset) of the piece that starts at `start` < text.size(). `text` must be valid UTF-8.
size_t o200k_piece_end(std::string_view text, size_t start);

// Calls on_piece(std::string_view) for each piece of `text` (valid UTF-8), in order.
template <typename OnPiece> void o200k_split(std::string_view text, OnPiece&& on_piece) {
    size_t start = 0;
    while (start < text.size()) {
        size_t end = o200k_piece_end(text, start);
        on_piece(text.substr(start, end - start));
        start = end;
    }
}

} // namespace tllm
