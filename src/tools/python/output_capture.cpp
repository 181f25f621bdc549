#include "tools/python/output_capture.h"

#include "core/check.h"

#include <fmt/format.h>

namespace tllm::tools::sandbox {
namespace {

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// The length of the well-formed UTF-8 sequence at the start of `bytes` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when there is none.
size_t sequence_length(std::string_view bytes) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80) {
        return 1;
    }
    size_t length = 0;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        second_min = lead == 0xE0 ? 0xA0 : 0x80; // overlong below U+0800
        second_max = lead == 0xED ? 0x9F : 0xBF; // surrogates U+D800..U+DFFF
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        second_min = lead == 0xF0 ? 0x90 : 0x80; // overlong below U+10000
        second_max = lead == 0xF4 ? 0x8F : 0xBF; // above U+10FFFF
    } else {
        return 0;
    }
    if (bytes.size() < length || byte(1) < second_min || byte(1) > second_max) {
        return 0;
    }
    for (size_t i = 2; i < length; ++i) {
        if (!is_continuation(byte(i))) {
            return 0;
        }
    }
    return length;
}

// Where a cut at `end` leaves no partial character behind: the start of a character cut through, if any.
size_t whole_characters_end(std::string_view bytes, size_t end) {
    size_t start = end;
    for (size_t back = 0; back < 3 && start > 0 && is_continuation(static_cast<unsigned char>(bytes[start - 1]));
         ++back) {
        --start;
    }
    if (start == 0) {
        return end;
    }
    const size_t lead = start - 1;
    const size_t length = sequence_length(bytes.substr(lead));
    // A lead whose sequence runs past the cut: drop it with its continuation bytes.
    if (length == 0 && static_cast<unsigned char>(bytes[lead]) >= 0xC2 && end - lead < 4) {
        return lead;
    }
    return end;
}

// Where to start so the text begins on a character: skips continuation bytes left by a cut.
size_t whole_characters_start(std::string_view bytes) {
    size_t start = 0;
    while (start < bytes.size() && start < 3 && is_continuation(static_cast<unsigned char>(bytes[start]))) {
        ++start;
    }
    return start;
}

} // namespace

std::string valid_utf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    size_t i = 0;
    while (i < bytes.size()) {
        const size_t length = sequence_length(bytes.substr(i));
        if (length == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(bytes.substr(i, length));
            i += length;
        }
    }
    return out;
}

OutputCapture::OutputCapture(size_t max_kept_bytes)
    : max_kept_bytes_(max_kept_bytes), head_capacity_(max_kept_bytes / 2),
      tail_capacity_(max_kept_bytes - max_kept_bytes / 2) {
    TLLM_CHECK(max_kept_bytes > 0, "an output cap of 0 bytes");
}

void OutputCapture::append(std::string_view bytes) {
    total_bytes_ += bytes.size();
    if (head_.size() < head_capacity_) {
        const size_t taken = std::min(bytes.size(), head_capacity_ - head_.size());
        head_.append(bytes.substr(0, taken));
        bytes.remove_prefix(taken);
    }
    tail_.append(bytes);
    // Dropping the front only when the tail doubles keeps appends amortised O(1).
    if (tail_.size() > 2 * tail_capacity_) {
        tail_.erase(0, tail_.size() - tail_capacity_);
    }
}

std::string OutputCapture::text() const {
    if (!truncated()) {
        return valid_utf8(head_ + tail_);
    }
    const std::string_view tail = std::string_view(tail_).substr(tail_.size() - std::min(tail_.size(), tail_capacity_));
    const uint64_t omitted = total_bytes_ - head_.size() - tail.size();
    const std::string_view head(head_.data(), whole_characters_end(head_, head_.size()));
    return fmt::format("{}\n[... {} bytes omitted ...]\n{}", valid_utf8(head), omitted,
                       valid_utf8(tail.substr(whole_characters_start(tail))));
}

} // namespace tllm::tools::sandbox
