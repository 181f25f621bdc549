#include "tokenizer/pretokenize.h"

#include "core/check.h"
#include "tokenizer/unicode_tables.h"

#include <array>
#include <cstdint>

namespace tllm {
namespace {

using namespace unicode;

constexpr size_t kNoMatch = static_cast<size_t>(-1);

// Flags of the ASCII characters, precomputed from the same tables.
constexpr std::array<uint8_t, 128> ascii_flags() {
    std::array<uint8_t, 128> table{};
    for (int c = 0; c < 128; ++c) {
        uint8_t f = 0;
        if ((c >= 'a' && c <= 'z')) {
            f = kLetter | kLowerLike;
        } else if (c >= 'A' && c <= 'Z') {
            f = kLetter | kUpperLike;
        } else if (c >= '0' && c <= '9') {
            f = kNumber;
        } else if (c == ' ' || (c >= 0x09 && c <= 0x0D)) {
            f = kSpace;
        }
        table[c] = f;
    }
    return table;
}
constexpr std::array<uint8_t, 128> kAsciiFlags = ascii_flags();

struct Char {
    uint32_t code_point;
    uint32_t length; // bytes
    uint8_t flags;
};

class Scanner {
  public:
    explicit Scanner(std::string_view text) : p_(reinterpret_cast<const uint8_t*>(text.data())), n_(text.size()) {}

    size_t size() const { return n_; }

    [[gnu::always_inline]] Char at(size_t i) const {
        uint8_t lead = p_[i];
        if (lead < 0x80) {
            return {lead, 1, kAsciiFlags[lead]};
        }
        int length = utf8_sequence_length(lead);
        TLLM_CHECK(length > 1 && i + length <= n_, "pre-tokenizer given invalid UTF-8 at byte {}", i);
        uint32_t cp = decode_valid(p_ + i, length);
        return {cp, static_cast<uint32_t>(length), unicode::flags(cp)};
    }

    // End of the longest run from `i` of characters having any of `mask`.
    size_t run_end(size_t i, uint8_t mask) const {
        while (i < n_) {
            Char c = at(i);
            if (!(c.flags & mask)) {
                break;
            }
            i += c.length;
        }
        return i;
    }

    // (?i:'s|'t|'re|'ve|'m|'ll|'d)? after a word ending at `i`: returns the new end.
    size_t contraction(size_t i) const {
        if (i + 1 >= n_ || p_[i] != '\'') {
            return i;
        }
        uint8_t a = p_[i + 1] | 0x20; // ASCII lower-casing; only applied to letters below
        bool ascii_letter = (p_[i + 1] >= 'A' && p_[i + 1] <= 'Z') || (p_[i + 1] >= 'a' && p_[i + 1] <= 'z');
        if (ascii_letter) {
            if (a == 's' || a == 't' || a == 'm' || a == 'd') {
                return i + 2;
            }
            if (i + 2 < n_) {
                uint8_t b = p_[i + 2] | 0x20;
                bool b_letter = (p_[i + 2] >= 'A' && p_[i + 2] <= 'Z') || (p_[i + 2] >= 'a' && p_[i + 2] <= 'z');
                if (b_letter && (((a == 'r' || a == 'v') && b == 'e') || (a == 'l' && b == 'l'))) {
                    return i + 3;
                }
            }
            return i;
        }
        // U+017F LATIN SMALL LETTER LONG S case-folds to 's'.
        if (i + 2 < n_ && p_[i + 1] == 0xC5 && p_[i + 2] == 0xBF) {
            return i + 3;
        }
        return i;
    }

    // Alternative 1 from `s` (after the optional prefix): U* Lw+ contraction?
    size_t word_lower(size_t s) const {
        size_t j = s;
        size_t last_lower_end = kNoMatch;
        Char c{};
        bool have_c = false;
        while (j < n_) {
            c = at(j);
            if (!(c.flags & kUpperLike)) {
                have_c = true;
                break;
            }
            if (c.flags & kLowerLike) {
                last_lower_end = j + c.length;
            }
            j += c.length;
        }
        if (have_c && (c.flags & kLowerLike)) {
            return contraction(run_end(j, kLowerLike));
        }
        // Backtrack U* to its last character that is also lower-like; Lw+ ends right after it.
        return last_lower_end == kNoMatch ? kNoMatch : contraction(last_lower_end);
    }

    // Alternative 2 from `s`: U+ Lw* contraction?
    size_t word_upper(size_t s) const {
        size_t j = run_end(s, kUpperLike);
        if (j == s) {
            return kNoMatch;
        }
        return contraction(run_end(j, kLowerLike));
    }

  private:
    const uint8_t* p_;
    size_t n_;
};

bool is_cr_lf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

// [^\s\p{L}\p{N}]
bool is_punct(uint8_t flags) { return !(flags & (kSpace | kLetter | kNumber)); }

} // namespace

size_t o200k_piece_end(std::string_view text, size_t start) {
    Scanner scan(text);
    const size_t n = scan.size();
    TLLM_CHECK(start < n);
    const Char c = scan.at(start);
    const size_t next = start + c.length;
    // [^\r\n\p{L}\p{N}] : can be the one-character prefix of the word alternatives.
    const bool prefix_ok = !(c.flags & (kLetter | kNumber)) && !is_cr_lf(c.code_point);

    // Alternatives 1 and 2, each tried with the prefix (greedy ?) and then without it.
    size_t end = kNoMatch;
    if (prefix_ok && next < n) {
        end = scan.word_lower(next);
    }
    if (end == kNoMatch && (c.flags & (kUpperLike | kLowerLike))) {
        end = scan.word_lower(start);
    }
    if (end == kNoMatch && prefix_ok && next < n) {
        end = scan.word_upper(next);
    }
    if (end == kNoMatch && (c.flags & kUpperLike)) {
        end = scan.word_upper(start);
    }
    if (end != kNoMatch) {
        return end;
    }

    // Alternative 3: \p{N}{1,3}
    if (c.flags & kNumber) {
        end = next;
        for (int k = 1; k < 3 && end < n; ++k) {
            Char d = scan.at(end);
            if (!(d.flags & kNumber)) {
                break;
            }
            end += d.length;
        }
        return end;
    }

    // Alternative 4: ' '?[^\s\p{L}\p{N}]+[\r\n/]*
    size_t punct_start = kNoMatch;
    if (c.code_point == ' ' && next < n && is_punct(scan.at(next).flags)) {
        punct_start = next;
    } else if (is_punct(c.flags)) {
        punct_start = start;
    }
    if (punct_start != kNoMatch) {
        end = punct_start;
        while (end < n) {
            Char d = scan.at(end);
            if (!is_punct(d.flags)) {
                break;
            }
            end += d.length;
        }
        const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
        while (end < n && (bytes[end] == '\r' || bytes[end] == '\n' || bytes[end] == '/')) {
            ++end;
        }
        return end;
    }

    // Only whitespace is left (every other character matched above).
    TLLM_CHECK(c.flags & kSpace, "U+{:04X} matched no alternative", c.code_point);
    size_t run = start;
    size_t last_cr_lf_end = kNoMatch; // alternative 5 ends after the run's last CR/LF
    size_t last_char_start = start;
    size_t n_chars = 0;
    while (run < n) {
        Char d = scan.at(run);
        if (!(d.flags & kSpace)) {
            break;
        }
        if (is_cr_lf(d.code_point)) {
            last_cr_lf_end = run + d.length;
        }
        last_char_start = run;
        run += d.length;
        ++n_chars;
    }
    if (last_cr_lf_end != kNoMatch) {
        return last_cr_lf_end; // \s*[\r\n]+
    }
    if (run == n) {
        return n; // \s+(?!\S) at the end of the text
    }
    if (n_chars >= 2) {
        return last_char_start; // \s+(?!\S): leave the last space to prefix the next word
    }
    return run; // \s+
}

} // namespace tllm
