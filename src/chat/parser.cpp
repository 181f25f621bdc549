#include "chat/parser.h"

#include <algorithm>
#include <fmt/format.h>

namespace tllm {
namespace {

constexpr std::string_view kChannelMarker = "<|channel|>";
constexpr std::string_view kConstrainMarker = "<|constrain|>";

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string trim(std::string_view text) {
    // Rust's str::trim strips Unicode White_Space; headers are ASCII in practice, and a non-ASCII space
    // left here only ends up inside a part.
    size_t begin = 0;
    size_t end = text.size();
    while (begin < end && (is_ascii_space(text[begin]) || text[begin] == '\v')) {
        ++begin;
    }
    while (end > begin && (is_ascii_space(text[end - 1]) || text[end - 1] == '\v')) {
        --end;
    }
    return std::string(text.substr(begin, end - begin));
}

std::vector<std::string> split_ascii_whitespace(const std::string& text) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_ascii_space(text[i])) {
            ++i;
        }
        size_t start = i;
        while (i < text.size() && !is_ascii_space(text[i])) {
            ++i;
        }
        if (i > start) {
            parts.push_back(text.substr(start, i - start));
        }
    }
    return parts;
}

// Removes "<|channel|>value" from `header` and returns value ("" if the marker is absent).
Result<std::optional<std::string>> take_channel(std::string& header) {
    size_t at = header.find(kChannelMarker);
    if (at == std::string::npos) {
        return std::optional<std::string>();
    }
    size_t value_start = at + kChannelMarker.size();
    size_t value_end = value_start;
    // Up to whitespace (ASCII or not: any byte >= 0x80 that starts White_Space is rare; ASCII covers
    // the model's output) or '<'.
    while (value_end < header.size() && !is_ascii_space(header[value_end]) && header[value_end] != '\v' &&
           header[value_end] != '<') {
        ++value_end;
    }
    if (value_end == value_start) {
        return make_error(ErrorCode::kInvalidArgument, "channel marker present but no channel value found in header");
    }
    std::string channel = header.substr(value_start, value_end - value_start);
    header = header.substr(0, at) + header.substr(value_end);
    return std::optional<std::string>(std::move(channel));
}

} // namespace

Result<ParsedMessage> parse_harmony_header(std::string header, std::optional<Role> role) {
    ParsedMessage parsed;
    TLLM_ASSIGN_OR_RETURN(parsed.channel, take_channel(header));
    header = trim(header);
    if (header.find(kConstrainMarker) != std::string::npos) {
        std::string spaced;
        for (size_t at = 0;;) {
            size_t next = header.find(kConstrainMarker, at);
            spaced += header.substr(at, next == std::string::npos ? std::string::npos : next - at);
            if (next == std::string::npos) {
                break;
            }
            spaced += " ";
            spaced += kConstrainMarker;
            at = next + kConstrainMarker.size();
        }
        header = trim(spaced);
    }
    std::vector<std::string> parts = split_ascii_whitespace(header);
    std::optional<std::string> role_text;
    if (!role) {
        if (parts.empty()) {
            return make_error(ErrorCode::kInvalidArgument, "message header did not contain a role");
        }
        role_text = parts.front();
        role = role_from_name(parts.front());
        if (!role) {
            if (parts.size() > 1 || parts.front().starts_with("to=")) {
                parts.erase(parts.begin()); // an unknown author with a recipient is a tool
                role = Role::kTool;
            } else {
                return make_error(ErrorCode::kInvalidArgument, "unknown role \"{}\"", parts.front());
            }
        }
    }
    if (!parts.empty() && parts.front() == role_name(*role)) {
        parts.erase(parts.begin());
    }
    parsed.role = *role;
    if (*role == Role::kTool) {
        parsed.name = role_text;
    }
    if (!parts.empty()) {
        size_t n_parts = parts.size();
        std::string last = parts.back();
        parts.pop_back();
        if (last.starts_with("to=")) {
            parsed.recipient = last.substr(3);
        } else if (n_parts == 1 && !last.starts_with(kConstrainMarker)) {
            parsed.recipient = last;
        } else {
            parsed.content_type = last;
            if (!parts.empty()) {
                std::string recipient = parts.back();
                parts.pop_back();
                parsed.recipient = recipient.starts_with("to=") ? recipient.substr(3) : recipient;
            }
        }
    }
    if (!parts.empty()) {
        return make_error(ErrorCode::kInvalidArgument, "unexpected tokens remaining in message header: \"{}\"",
                          fmt::join(parts, " "));
    }
    return parsed;
}

HarmonyStreamParser::HarmonyStreamParser(const Tokenizer& tokenizer, std::optional<Role> initial_role)
    : tokenizer_(&tokenizer), state_(initial_role ? State::kHeader : State::kExpectStart), next_role_(initial_role) {}

bool HarmonyStreamParser::is_stop(TokenId token) const {
    return std::find(std::begin(kHarmonyStopTokens), std::end(kHarmonyStopTokens), token) !=
           std::end(kHarmonyStopTokens);
}

std::string HarmonyStreamParser::decode_lossy(const std::vector<TokenId>& tokens) const {
    std::string bytes;
    for (TokenId token : tokens) {
        auto piece = tokenizer_->token_bytes(token);
        bytes += piece.ok() ? std::string(*piece) : std::string("\xEF\xBF\xBD");
    }
    return utf8_lossy(bytes);
}

void HarmonyStreamParser::start_content(ParsedMessage header, std::vector<ParserEvent>& events) {
    current_ = std::move(header);
    current_.text.clear();
    state_ = State::kContent;
    events.push_back({ParserEventType::kMessageStart, current_, {}});
}

void HarmonyStreamParser::start_degraded(std::string raw_text,
                                         const std::string& why,
                                         std::vector<ParserEvent>& events) {
    events.push_back({ParserEventType::kWarning, {}, why + "; treating the output as plain text"});
    ParsedMessage message;
    message.role = next_role_.value_or(Role::kAssistant);
    message.degraded = true;
    next_role_.reset();
    start_content(std::move(message), events);
    if (!raw_text.empty()) {
        current_.text += raw_text;
        events.push_back({ParserEventType::kTextDelta, {}, std::move(raw_text)});
    }
}

void HarmonyStreamParser::append_content(TokenId token, std::vector<ParserEvent>& events) {
    auto bytes = tokenizer_->token_bytes(token);
    std::string delta;
    if (bytes.ok()) {
        delta = decoder_.push(*bytes);
    } else {
        events.push_back({ParserEventType::kWarning, {}, fmt::format("token {} is outside the vocabulary", token)});
        delta = decoder_.flush() + "\xEF\xBF\xBD";
    }
    if (!delta.empty()) {
        current_.text += delta;
        events.push_back({ParserEventType::kTextDelta, {}, std::move(delta)});
    }
}

void HarmonyStreamParser::end_message(TokenId end_token, std::vector<ParserEvent>& events) {
    std::string rest = decoder_.flush(); // held-back bytes never leak into the next message
    if (!rest.empty()) {
        current_.text += rest;
        events.push_back({ParserEventType::kTextDelta, {}, std::move(rest)});
    }
    current_.end_token = end_token;
    messages_.push_back(current_);
    events.push_back({ParserEventType::kMessageEnd, current_, {}});
    if (current_.role == Role::kAssistant && current_.recipient && !current_.degraded) {
        events.push_back({ParserEventType::kToolCall, current_, {}});
    }
    current_ = ParsedMessage{};
    state_ = State::kExpectStart;
}

void HarmonyStreamParser::push(TokenId token, std::vector<ParserEvent>& events) {
    switch (state_) {
    case State::kExpectStart:
        if (token == kTokenStart) {
            header_tokens_.clear();
            state_ = State::kHeader;
        } else if (is_stop(token)) {
            events.push_back(
                {ParserEventType::kWarning, {}, fmt::format("ignored stop token {} between messages", token)});
        } else {
            start_degraded("", fmt::format("expected <|start|> but got token {}", token), events);
            append_content(token, events);
        }
        return;
    case State::kHeader:
        if (token == kTokenMessage) {
            std::string header = decode_lossy(header_tokens_);
            auto parsed = parse_harmony_header(header, next_role_);
            if (!parsed.ok()) {
                start_degraded(header, "malformed header: " + parsed.error().message(), events);
            } else {
                next_role_.reset();
                start_content(std::move(*parsed), events);
            }
            header_tokens_.clear();
        } else if (is_stop(token) || token == kTokenStart) {
            // <|message|> never came. Like harmony's non-strict mode, the first message's header yields
            // its channel and the rest becomes content; otherwise the header text is kept as plain text.
            std::string header = decode_lossy(header_tokens_);
            header_tokens_.clear();
            std::string why = fmt::format("header ended by token {} without <|message|>", token);
            ParsedMessage message;
            bool recovered = false;
            if (next_role_) {
                std::string rest = header;
                auto channel = take_channel(rest);
                if (channel.ok()) {
                    message.role = *next_role_;
                    message.channel = std::move(*channel);
                    std::vector<std::string> parts = split_ascii_whitespace(trim(rest));
                    if (!parts.empty() && parts.front() == role_name(message.role)) {
                        parts.erase(parts.begin());
                    }
                    message.text = fmt::format("{}", fmt::join(parts, " "));
                    recovered = true;
                }
            }
            if (recovered) {
                events.push_back({ParserEventType::kWarning, {}, why + "; kept its channel, the rest is content"});
                next_role_.reset();
                std::string text = std::move(message.text);
                start_content(std::move(message), events);
                if (!text.empty()) {
                    current_.text = text;
                    events.push_back({ParserEventType::kTextDelta, {}, std::move(text)});
                }
            } else {
                start_degraded(header, why, events);
            }
            if (token == kTokenStart) {
                end_message(-1, events);
                state_ = State::kHeader;
            } else {
                end_message(token, events);
            }
        } else if (header_tokens_.size() >= kMaxHeaderTokens) {
            std::string header = decode_lossy(header_tokens_);
            header_tokens_.clear();
            start_degraded(header, fmt::format("header longer than {} tokens", kMaxHeaderTokens), events);
            append_content(token, events);
        } else {
            header_tokens_.push_back(token);
        }
        return;
    case State::kContent:
        if (is_stop(token)) {
            end_message(token, events);
        } else if (current_.degraded && token == kTokenStart) {
            end_message(-1, events); // plain text ends where structure resumes
            state_ = State::kHeader;
        } else {
            append_content(token, events);
        }
        return;
    }
}

void HarmonyStreamParser::finish(std::vector<ParserEvent>& events) {
    if (state_ == State::kHeader && (!header_tokens_.empty() || next_role_)) {
        if (!header_tokens_.empty()) {
            std::string header = decode_lossy(header_tokens_);
            header_tokens_.clear();
            start_degraded(header, "stream ended inside a message header", events);
            end_message(-1, events);
        }
        state_ = State::kExpectStart;
        return;
    }
    if (state_ == State::kContent) {
        end_message(-1, events);
    }
    state_ = State::kExpectStart;
}

} // namespace tllm
