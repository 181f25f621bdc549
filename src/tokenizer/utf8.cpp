#include "tokenizer/utf8.h"

#include "tokenizer/unicode_tables.h"

#include <cstdint>
#include <cstring>

namespace tllm {
namespace {

// Valid range of the second byte after `lead` (RFC 3629 table); later bytes are always 80..BF.
void second_byte_range(uint8_t lead, uint8_t& low, uint8_t& high) {
    low = 0x80;
    high = 0xBF;
    if (lead == 0xE0) {
        low = 0xA0;
    } else if (lead == 0xED) {
        high = 0x9F;
    } else if (lead == 0xF0) {
        low = 0x90;
    } else if (lead == 0xF4) {
        high = 0x8F;
    }
}

// Length of the valid-so-far prefix of the sequence at `p` (at most `n` bytes available), and
// whether it is a complete character.
size_t sequence_prefix(const uint8_t* p, size_t n, bool& complete) {
    int length = unicode::utf8_sequence_length(p[0]);
    complete = false;
    if (length == 0) {
        return 0;
    }
    if (length == 1) {
        complete = true;
        return 1;
    }
    uint8_t low = 0;
    uint8_t high = 0;
    second_byte_range(p[0], low, high);
    size_t matched = 1;
    while (matched < static_cast<size_t>(length) && matched < n) {
        uint8_t byte = p[matched];
        bool ok = matched == 1 ? (byte >= low && byte <= high) : (byte >= 0x80 && byte <= 0xBF);
        if (!ok) {
            return matched;
        }
        ++matched;
    }
    complete = matched == static_cast<size_t>(length);
    return matched;
}

constexpr char kReplacement[] = "\xEF\xBF\xBD";

} // namespace

namespace unicode {

size_t valid_utf8_prefix(std::string_view bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    size_t n = bytes.size();
    size_t i = 0;
    while (i < n) {
        // ASCII fast path, 8 bytes at a time.
        while (i + 8 <= n) {
            uint64_t word = 0;
            std::memcpy(&word, p + i, 8);
            if (word & 0x8080808080808080ull) {
                break;
            }
            i += 8;
        }
        if (i >= n) {
            break;
        }
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        bool complete = false;
        size_t length = sequence_prefix(p + i, n - i, complete);
        if (!complete) {
            return i;
        }
        i += length;
    }
    return n;
}

} // namespace unicode

std::string utf8_lossy(std::string_view bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    size_t n = bytes.size();
    std::string out;
    out.reserve(n);
    size_t i = 0;
    while (i < n) {
        bool complete = false;
        size_t length = sequence_prefix(p + i, n - i, complete);
        if (complete) {
            out.append(bytes.data() + i, length);
            i += length;
        } else {
            out.append(kReplacement);
            i += length == 0 ? 1 : length;
        }
    }
    return out;
}

size_t utf8_incomplete_tail(std::string_view bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    size_t n = bytes.size();
    // A sequence is at most 4 bytes, so its lead is among the last 3 bytes.
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        size_t start = n - back;
        if ((p[start] & 0xC0) == 0x80) {
            continue; // a continuation byte: keep looking for the lead
        }
        bool complete = false;
        size_t length = sequence_prefix(p + start, back, complete);
        return (!complete && length == back) ? back : 0;
    }
    return 0;
}

std::string Utf8StreamDecoder::push(std::string_view bytes) {
    pending_.append(bytes);
    size_t hold = utf8_incomplete_tail(pending_);
    std::string out = utf8_lossy(std::string_view(pending_).substr(0, pending_.size() - hold));
    pending_.erase(0, pending_.size() - hold);
    return out;
}

std::string Utf8StreamDecoder::flush() {
    std::string out = utf8_lossy(pending_);
    pending_.clear();
    return out;
}

} // namespace tllm
