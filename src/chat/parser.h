// Streaming Harmony parser: feeds on sampled token ids one at a time and reports message starts (role,
// channel, recipient, content type), text deltas (always valid UTF-8; an incomplete multi-byte sequence
// is held back until complete), message ends and completed tool calls. It follows openai/harmony's
// StreamableParser on well-formed input and never fails on malformed output: what cannot be parsed is
// surfaced as plain text of a message marked `degraded`, with a kWarning event saying why.
#pragma once

#include "chat/message.h"
#include "chat/render.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

#include <optional>
#include <string>
#include <vector>

namespace tllm {

struct ParsedMessage {
    Role role = Role::kAssistant;
    std::optional<std::string> name; // tool messages: the tool ("functions.get_weather", "browser.search")
    std::optional<std::string> recipient;
    std::optional<std::string> channel;
    std::optional<std::string> content_type;
    std::string text;
    TokenId end_token = -1; // <|end|>, <|return|> or <|call|>; -1 when the stream ended first
    bool degraded = false;  // not well-formed Harmony: `text` holds the raw output
};

enum class ParserEventType {
    kMessageStart, // message's header fields are set
    kTextDelta,    // text: the new content (valid UTF-8)
    kMessageEnd,   // message: complete, text included
    kToolCall,     // message: an assistant message with a recipient (after its kMessageEnd)
    kWarning,      // text: what was malformed and how it was handled
};

struct ParserEvent {
    ParserEventType type;
    ParsedMessage message; // header fields for kMessageStart; everything for kMessageEnd / kToolCall
    std::string text;
};

class HarmonyStreamParser {
  public:
    // `initial_role`: the role whose header the prompt opened ("<|start|>assistant"), so parsing starts
    // inside that header; nullopt to start expecting <|start|>.
    explicit HarmonyStreamParser(const Tokenizer& tokenizer, std::optional<Role> initial_role = Role::kAssistant);

    // Appends the events caused by one token.
    void push(TokenId token, std::vector<ParserEvent>& events);
    // End of stream: finishes an open message (a header that never got <|message|> degrades).
    void finish(std::vector<ParserEvent>& events);

    const std::vector<ParsedMessage>& messages() const { return messages_; }
    bool in_message() const { return state_ == State::kContent; }

    // Longest header accepted before it is treated as plain text (real headers are a few tokens).
    static constexpr size_t kMaxHeaderTokens = 128;

  private:
    enum class State { kExpectStart, kHeader, kContent };

    void start_content(ParsedMessage header, std::vector<ParserEvent>& events);
    void start_degraded(std::string raw_text, const std::string& why, std::vector<ParserEvent>& events);
    void append_content(TokenId token, std::vector<ParserEvent>& events);
    void end_message(TokenId end_token, std::vector<ParserEvent>& events);
    std::string decode_lossy(const std::vector<TokenId>& tokens) const;
    bool is_stop(TokenId token) const;

    const Tokenizer* tokenizer_;
    State state_;
    std::optional<Role> next_role_; // the initial role, until the first header is parsed
    std::vector<TokenId> header_tokens_;
    ParsedMessage current_;
    Utf8StreamDecoder decoder_;
    std::vector<ParsedMessage> messages_;
};

// Parses a header string (special tokens as their text, e.g. "assistant<|channel|>final") as harmony's
// parse_header_from_string does. `role` is the known role, if any. Errors describe what is malformed.
Result<ParsedMessage> parse_harmony_header(std::string header, std::optional<Role> role);

} // namespace tllm
