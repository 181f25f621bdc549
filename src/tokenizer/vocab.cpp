#include "tokenizer/vocab.h"

#include <array>
#include <charconv>
#include <cstring>

namespace tllm {
namespace {

constexpr std::array<int8_t, 256> base64_table() {
    std::array<int8_t, 256> table{};
    for (auto& v : table) {
        v = -1;
    }
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) {
        table[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
    }
    return table;
}
constexpr std::array<int8_t, 256> kBase64 = base64_table();

// Standard base64 with '=' padding; returns false on any malformed input.
bool base64_decode(std::string_view text, std::string& out) {
    if (text.empty() || text.size() % 4 != 0) {
        return false;
    }
    size_t padding = 0;
    if (text.back() == '=') {
        padding = text[text.size() - 2] == '=' ? 2 : 1;
    }
    uint32_t accumulator = 0;
    size_t data_chars = text.size() - padding;
    for (size_t i = 0; i < data_chars; ++i) {
        int8_t v = kBase64[static_cast<uint8_t>(text[i])];
        if (v < 0) {
            return false;
        }
        accumulator = (accumulator << 6) | static_cast<uint32_t>(v);
        if (i % 4 == 3) {
            out.push_back(static_cast<char>(accumulator >> 16));
            out.push_back(static_cast<char>(accumulator >> 8));
            out.push_back(static_cast<char>(accumulator));
            accumulator = 0;
        }
    }
    if (padding == 1) { // 3 chars -> 2 bytes
        out.push_back(static_cast<char>(accumulator >> 10));
        out.push_back(static_cast<char>(accumulator >> 2));
    } else if (padding == 2) { // 2 chars -> 1 byte
        out.push_back(static_cast<char>(accumulator >> 4));
    }
    return true;
}

} // namespace

Result<Vocab> Vocab::from_tiktoken(std::string_view file_text) {
    Vocab vocab;
    vocab.offsets_.reserve(file_text.size() / 16);
    vocab.pool_.reserve(file_text.size() / 2);
    size_t position = 0;
    size_t line_number = 0;
    while (position < file_text.size()) {
        ++line_number;
        size_t newline = file_text.find('\n', position);
        std::string_view line =
            file_text.substr(position, newline == std::string_view::npos ? std::string_view::npos : newline - position);
        position = newline == std::string_view::npos ? file_text.size() : newline + 1;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
            line.remove_suffix(1); // trim_end, as harmony's loader does
        }
        if (line.empty()) {
            continue;
        }
        size_t space = line.find(' ');
        if (space == std::string_view::npos) {
            return make_error(ErrorCode::kCorruptFile, "tiktoken rank file line {}: expected \"<base64> <rank>\"",
                              line_number);
        }
        std::string_view rank_text = line.substr(space + 1);
        uint64_t rank = 0;
        auto [end, ec] = std::from_chars(rank_text.data(), rank_text.data() + rank_text.size(), rank);
        if (ec != std::errc() || end != rank_text.data() + rank_text.size()) {
            return make_error(ErrorCode::kCorruptFile, "tiktoken rank file line {}: bad rank \"{}\"", line_number,
                              rank_text);
        }
        if (rank != vocab.offsets_.size()) {
            return make_error(ErrorCode::kCorruptFile,
                              "tiktoken rank file line {}: rank {} out of order (expected {}; ranks must be 0..n-1)",
                              line_number, rank, vocab.offsets_.size());
        }
        vocab.offsets_.push_back(static_cast<uint32_t>(vocab.pool_.size()));
        if (!base64_decode(line.substr(0, space), vocab.pool_)) {
            return make_error(ErrorCode::kCorruptFile, "tiktoken rank file line {}: bad base64 \"{}\"", line_number,
                              line.substr(0, space));
        }
    }
    if (vocab.offsets_.empty()) {
        return make_error(ErrorCode::kCorruptFile, "tiktoken rank file is empty");
    }
    vocab.offsets_.push_back(static_cast<uint32_t>(vocab.pool_.size()));
    TLLM_RETURN_IF_ERROR(vocab.build_index());
    return vocab;
}

Result<Vocab> Vocab::from_tokens(std::vector<std::string> tokens) {
    Vocab vocab;
    vocab.offsets_.reserve(tokens.size() + 1);
    for (const std::string& token : tokens) {
        vocab.offsets_.push_back(static_cast<uint32_t>(vocab.pool_.size()));
        vocab.pool_.append(token);
    }
    vocab.offsets_.push_back(static_cast<uint32_t>(vocab.pool_.size()));
    TLLM_RETURN_IF_ERROR(vocab.build_index());
    return vocab;
}

Status Vocab::build_index() {
    size_t n = size();
    if (n >= kNoRank / 2 || pool_.size() >= UINT32_MAX) {
        return make_error(ErrorCode::kUnsupported, "vocabulary too large ({} tokens)", n);
    }
    size_t capacity = 16;
    while (capacity < 2 * n) {
        capacity *= 2;
    }
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (uint32_t r = 0; r < n; ++r) {
        std::string_view token = bytes(r);
        if (token.empty()) {
            return make_error(ErrorCode::kCorruptFile, "vocabulary token {} is empty", r);
        }
        if (token.size() > 255) {
            return make_error(ErrorCode::kUnsupported, "vocabulary token {} is {} bytes; at most 255 are supported", r,
                              token.size());
        }
        max_token_bytes_ = std::max(max_token_bytes_, token.size());
        uint64_t h = hash(token);
        uint64_t slot = h & mask_;
        uint32_t tag = tag_of(h, token.size());
        while (slots_[slot].rank != kNoRank) {
            if (slots_[slot].tag == tag &&
                bytes_equal(pool_.data() + slots_[slot].offset, token.data(), token.size())) {
                return make_error(ErrorCode::kCorruptFile, "vocabulary tokens {} and {} have the same bytes",
                                  slots_[slot].rank, r);
            }
            slot = (slot + 1) & mask_;
        }
        slots_[slot] = Slot{r, tag, offsets_[r]};
    }
    for (int byte = 0; byte < 256; ++byte) {
        char c = static_cast<char>(byte);
        byte_ranks_[byte] = rank(std::string_view(&c, 1));
    }
    return {};
}

} // namespace tllm
