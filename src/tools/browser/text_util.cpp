#include "tools/browser/text_util.h"

#include <fmt/format.h>

namespace tllm::tools::browser_text {

namespace {

constexpr char32_t kReplacementCharacter = 0xFFFD;

bool in_range(char32_t c, char32_t low, char32_t high) { return c >= low && c <= high; }

// Length of the valid UTF-8 sequence at `pos`, or 0 when the bytes there do not form one.
size_t valid_sequence_length(std::string_view bytes, size_t pos) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
    const unsigned char lead = byte(pos);
    if (lead < 0x80) {
        return 1;
    }
    size_t length = 0;
    char32_t minimum = 0;
    if ((lead & 0xE0) == 0xC0) {
        length = 2;
        minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3;
        minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (pos + length > bytes.size()) {
        return 0;
    }
    char32_t value = lead & (0x7F >> length);
    for (size_t i = 1; i < length; ++i) {
        if ((byte(pos + i) & 0xC0) != 0x80) {
            return 0;
        }
        value = (value << 6) | (byte(pos + i) & 0x3F);
    }
    if (value < minimum || value > 0x10FFFF || in_range(value, 0xD800, 0xDFFF)) {
        return 0;
    }
    return length;
}

} // namespace

// How many bytes at `pos` start a sequence that could still become valid (the "maximal subpart" that decoders,
// Python's included, replace with a single U+FFFD). At least 1.
static size_t invalid_prefix_length(std::string_view bytes, size_t pos) {
    const auto lead = static_cast<unsigned char>(bytes[pos]);
    size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        low = lead == 0xE0 ? 0xA0 : 0x80;
        high = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        low = lead == 0xF0 ? 0x90 : 0x80;
        high = lead == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 1;
    }
    size_t consumed = 1;
    while (consumed < length && pos + consumed < bytes.size()) {
        const auto byte = static_cast<unsigned char>(bytes[pos + consumed]);
        if (byte < low || byte > high) {
            break;
        }
        low = 0x80;
        high = 0xBF;
        ++consumed;
    }
    return consumed;
}

std::string sanitize_utf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    size_t pos = 0;
    while (pos < bytes.size()) {
        const size_t length = valid_sequence_length(bytes, pos);
        if (length == 0) {
            append_utf8(out, kReplacementCharacter);
            pos += invalid_prefix_length(bytes, pos);
            continue;
        }
        if (bytes[pos] != '\0') {
            out.append(bytes.substr(pos, length));
        }
        pos += length;
    }
    return out;
}

char32_t next_code_point(std::string_view text, size_t& pos) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(i < text.size() ? text[i] : 0x80); };
    const unsigned char lead = byte(pos);
    if (lead < 0x80) {
        ++pos;
        return lead;
    }
    size_t length = (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 4;
    char32_t value = lead & (0x7F >> length);
    for (size_t i = 1; i < length; ++i) {
        value = (value << 6) | (byte(pos + i) & 0x3F);
    }
    pos += length;
    return value;
}

std::u32string decode_utf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        out.push_back(next_code_point(text, pos));
    }
    return out;
}

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

std::string encode_utf8(std::u32string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t c : text) {
        append_utf8(out, c);
    }
    return out;
}

size_t count_code_points(std::string_view text) {
    size_t count = 0;
    for (char byte : text) {
        count += (static_cast<unsigned char>(byte) & 0xC0) != 0x80;
    }
    return count;
}

bool is_space(char32_t c) {
    return in_range(c, 0x09, 0x0D) || in_range(c, 0x1C, 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           in_range(c, 0x2000, 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_digit(char32_t c) {
    return in_range(c, '0', '9') || in_range(c, 0x660, 0x669) || in_range(c, 0x6F0, 0x6F9) ||
           in_range(c, 0x966, 0x96F) || in_range(c, 0xFF10, 0xFF19);
}

bool is_word(char32_t c) {
    if (c < 0x80) {
        return in_range(c, '0', '9') || in_range(c, 'a', 'z') || in_range(c, 'A', 'Z') || c == '_';
    }
    if (c < 0xC0) {
        // Latin-1 punctuation and symbols, except the letters and numbers that live among them.
        return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || in_range(c, 0xBC, 0xBE);
    }
    if (c == 0xD7 || c == 0xF7 || is_space(c)) {
        return false;
    }
    const bool punctuation_or_symbol =
        in_range(c, 0x2000, 0x206F) || in_range(c, 0x20A0, 0x20CF) || in_range(c, 0x2100, 0x214F) ||
        in_range(c, 0x2190, 0x245F) || in_range(c, 0x2500, 0x2775) || in_range(c, 0x2794, 0x2BFF) ||
        in_range(c, 0x2E00, 0x2E7F) || in_range(c, 0x3000, 0x3004) || in_range(c, 0x3008, 0x3020) || c == 0x3030 ||
        c == 0x303D || in_range(c, 0xFE10, 0xFE19) || in_range(c, 0xFE30, 0xFE6F) || in_range(c, 0xFF01, 0xFF0F) ||
        in_range(c, 0xFF1A, 0xFF20) || in_range(c, 0xFF3B, 0xFF40) || in_range(c, 0xFF5B, 0xFF65) ||
        in_range(c, 0xFFF0, 0xFFFF) || in_range(c, 0xE000, 0xF8FF) || in_range(c, 0x1F000, 0x1FAFF);
    return !punctuation_or_symbol;
}

char32_t to_lower(char32_t c) {
    if (in_range(c, 'A', 'Z') || (in_range(c, 0xC0, 0xDE) && c != 0xD7) || in_range(c, 0x391, 0x3AB) ||
        in_range(c, 0x410, 0x42F)) {
        return c + 32;
    }
    if (in_range(c, 0x400, 0x40F)) {
        return c + 80;
    }
    if (in_range(c, 0x100, 0x137) || in_range(c, 0x14A, 0x177)) {
        return c | 1;
    }
    if (in_range(c, 0x139, 0x148) || in_range(c, 0x179, 0x17E)) {
        return (c % 2 == 1) ? c + 1 : c;
    }
    return c;
}

std::string to_lower(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t start = pos;
        const char32_t c = next_code_point(text, pos);
        const char32_t lower = to_lower(c);
        if (lower == c) {
            out.append(text.substr(start, pos - start));
        } else {
            append_utf8(out, lower);
        }
    }
    return out;
}

std::string_view strip(std::string_view text) {
    size_t begin = 0;
    while (begin < text.size()) {
        size_t next = begin;
        if (!is_space(next_code_point(text, next))) {
            break;
        }
        begin = next;
    }
    size_t end = text.size();
    while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
            --start;
        }
        size_t probe = start;
        if (!is_space(next_code_point(text, probe))) {
            break;
        }
        end = start;
    }
    return text.substr(begin, end - begin);
}

std::string merge_whitespace(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool in_space = false;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t start = pos;
        const char32_t c = next_code_point(text, pos);
        if (is_space(c)) {
            if (!in_space) {
                out.push_back(' ');
            }
            in_space = true;
            continue;
        }
        in_space = false;
        out.append(text.substr(start, pos - start));
    }
    return out;
}

std::string truncate_with_ellipsis(std::string_view text, size_t max_chars) {
    if (count_code_points(text) <= max_chars) {
        return std::string(text);
    }
    size_t pos = 0;
    for (size_t kept = 0; kept + 3 < max_chars && pos < text.size(); ++kept) {
        next_code_point(text, pos);
    }
    return std::string(text.substr(0, pos)) + "...";
}

std::string_view cut_at_char_boundary(std::string_view text, size_t max_bytes) {
    if (text.size() <= max_bytes) {
        return text;
    }
    size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end;
    }
    return text.substr(0, end);
}

std::string python_json_string(std::string_view text) {
    std::string out = "\"";
    size_t pos = 0;
    while (pos < text.size()) {
        const char32_t c = next_code_point(text, pos);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            if (c < 0x20 || (c >= 0x7F && c < 0x10000)) {
                out += fmt::format("\\u{:04x}", static_cast<uint32_t>(c));
            } else if (c >= 0x10000) {
                const char32_t offset = c - 0x10000;
                out += fmt::format("\\u{:04x}\\u{:04x}", static_cast<uint32_t>(0xD800 + (offset >> 10)),
                                   static_cast<uint32_t>(0xDC00 + (offset & 0x3FF)));
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
    }
    out += "\"";
    return out;
}

} // namespace tllm::tools::browser_text
