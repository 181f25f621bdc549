#include "server/streamed_text.h"

#include "tokenizer/utf8.h"

#include <algorithm>
#include <fmt/format.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

// Where `text` may be cut without splitting a UTF-8 character: the largest boundary at or below `at`.
size_t utf8_boundary(const std::string& text, size_t at) {
    at = std::min(at, text.size());
    while (at > 0 && at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) {
        --at;
    }
    return at;
}

// The length of the UTF-8 sequence a lead byte starts (0: not a lead byte).
size_t sequence_length(unsigned char lead) {
    return lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
}

} // namespace

StreamedText::StreamedText(std::vector<std::string> stop) : stop_(std::move(stop)) {
    for (const std::string& s : stop_) {
        hold_ = std::max(hold_, s.empty() ? 0 : s.size() - 1);
    }
}

void StreamedText::add_token(Json entry, size_t length) {
    if (stopped_) {
        return;
    }
    entries_.push_back({token_bytes_, token_bytes_ + length, std::move(entry)});
    token_bytes_ += length;
}

bool StreamedText::append(std::string_view text) {
    if (stopped_) {
        return true;
    }
    const size_t before = text_.size();
    text_ += text;
    for (const std::string& stop : stop_) {
        const size_t from = before >= stop.size() ? before - stop.size() + 1 : 0;
        const size_t at = text_.find(stop, from);
        if (at != std::string::npos) {
            text_.resize(at);
            stopped_ = true;
        }
    }
    if (stopped_) { // tokens whose text lies wholly past the cut are not part of the reply
        std::erase_if(entries_, [&](const Entry& e) { return e.start >= text_.size(); });
    }
    return stopped_;
}

std::string StreamedText::take(bool end, Json& entries) {
    const bool all = end || stopped_;
    const size_t limit = utf8_boundary(text_, all ? text_.size() : text_.size() - std::min(hold_, text_.size()));
    std::string out;
    if (limit > sent_) {
        out = text_.substr(sent_, limit - sent_);
        sent_ = limit;
    }
    for (; released_ < entries_.size() && (all || entries_[released_].end <= sent_); ++released_) {
        entries.push_back(entries_[released_].value);
    }
    return out;
}

Json StreamedText::entries() const {
    Json out = Json::array();
    for (const Entry& e : entries_) {
        out.push_back(e.value);
    }
    return out;
}

std::string token_display(std::string_view bytes) {
    std::string out;
    for (size_t i = 0; i < bytes.size();) {
        const size_t n = sequence_length(static_cast<unsigned char>(bytes[i]));
        if (n > 0 && i + n <= bytes.size()) {
            const std::string_view sequence = bytes.substr(i, n);
            if (utf8_lossy(sequence) == sequence) {
                out += sequence;
                i += n;
                continue;
            }
        }
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(bytes[i]));
        ++i;
    }
    return out;
}

Json token_bytes_json(std::string_view bytes) {
    Json out = Json::array();
    for (char c : bytes) {
        out.push_back(static_cast<int>(static_cast<unsigned char>(c)));
    }
    return out;
}

Json usage_object(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens) {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

Json usage_chunk(Json chunk, int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens) {
    chunk["choices"] = Json::array();
    chunk["usage"] = usage_object(prompt_tokens, completion_tokens, cached_tokens);
    return chunk;
}

Json chat_logprob_entry(const Tokenizer& tokenizer, const TokenEvent& token) {
    auto entry = [&](int32_t id, float logprob) {
        const Result<std::string_view> bytes = tokenizer.token_bytes(id);
        const std::string_view text = bytes.ok() ? *bytes : std::string_view();
        return Json{{"token", token_display(text)}, {"logprob", logprob}, {"bytes", token_bytes_json(text)}};
    };
    Json out = entry(token.token, token.logprob);
    out["top_logprobs"] = Json::array();
    for (const TokenLogprob& top : token.top) {
        out["top_logprobs"].push_back(entry(top.token, top.logprob));
    }
    return out;
}

} // namespace tllm::server
