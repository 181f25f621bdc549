// A reply's text as its client receives it, shared by the Chat Completions and legacy Completions routes: cut
// before the first `stop` string, with text that might begin one held back until it cannot, and each token's
// log-probability entry sent with the chunk that carries the token's last byte. Entries of tokens whose text a
// stop string cut off are dropped, so the entries match the text returned.
#pragma once

#include "runtime/batch_engine.h"
#include "tokenizer/tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tllm::server {

class StreamedText {
  public:
    explicit StreamedText(std::vector<std::string> stop);

    // A token whose `length` bytes come next in the text, with its log-probability entry. Called before the text
    // it carries is appended (a token may end inside a UTF-8 character whose text comes with the next one).
    void add_token(nlohmann::ordered_json entry, size_t length);
    // Appends text (valid UTF-8). True when a stop string has appeared: the text ends before it.
    bool append(std::string_view text);
    bool stopped() const { return stopped_; }

    // The text not yet taken that no stop string can still claim (all of it when `end`: no more text comes),
    // never split inside a UTF-8 character, and appends the entries of the tokens it completes to `entries`.
    std::string take(bool end, nlohmann::ordered_json& entries);
    const std::string& text() const { return text_; }
    // Every entry kept so far, whole or streamed alike (for a whole response, after take(true, ...)).
    nlohmann::ordered_json entries() const;

  private:
    struct Entry {
        size_t start = 0; // byte offsets of the token's text
        size_t end = 0;
        nlohmann::ordered_json value;
    };

    std::vector<std::string> stop_;
    size_t hold_ = 0; // bytes held back: the longest stop string but one
    std::string text_;
    size_t sent_ = 0;
    bool stopped_ = false;
    size_t token_bytes_ = 0; // of the tokens added: where the next token's text starts
    std::vector<Entry> entries_;
    size_t released_ = 0; // entries taken
};

// A token's text for a log-probability entry: its bytes when they are valid UTF-8, else with each byte of an
// invalid or partial sequence written as \xNN (OpenAI's form), so the JSON stays valid; `bytes` has them all.
std::string token_display(std::string_view bytes);
nlohmann::ordered_json token_bytes_json(std::string_view bytes);

// `usage` of the chunked routes: {prompt_tokens, completion_tokens, total_tokens}; and their last chunk of a stream
// that asked for it (stream_options.include_usage): `chunk` with no choices and the usage.
// OpenAI's usage object; cached_tokens: prompt tokens the prefix cache served (prompt_tokens_details).
nlohmann::ordered_json usage_object(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens);
nlohmann::ordered_json
usage_chunk(nlohmann::ordered_json chunk, int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens);

// Chat Completions' entry of a sampled token: {token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}.
nlohmann::ordered_json chat_logprob_entry(const Tokenizer& tokenizer, const TokenEvent& token);

} // namespace tllm::server
