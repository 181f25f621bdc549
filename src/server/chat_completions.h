// OpenAI Chat Completions over Harmony: a request body becomes a prompt (chat/openai_request.h renders the
// messages as gpt-oss's chat template does) and a BatchRequest; the sampled tokens, parsed as Harmony, become the
// response: the analysis channel as `reasoning` and `reasoning_content` (vLLM's name), the final channel as `content`,
// calls to functions.NAME as `tool_calls`, streamed as chat.completion.chunk deltas or returned whole.
#pragma once

#include "chat/parser.h"
#include "core/result.h"
#include "runtime/batch_engine.h"
#include "server/request_fields.h"
#include "server/streamed_text.h"
#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tllm::server {

// What the reply's assembler needs of its request.
struct ChatOutputOptions {
    std::vector<std::string> stop_text; // `stop`: the reply ends before the first of these
    bool exclude_reasoning = false;     // `reasoning.exclude`: the reasoning is generated but not returned
    bool logprobs = false;              // entries for the tokens whose text is in `content`
    std::vector<TokenId> forced_header; // tool_choice required or named (ToolChoice::forced_header)
};

struct ChatCompletionJob {
    BatchRequest request; // prompt, max_new_tokens, stop tokens, sampling, log-probabilities
    bool stream = false;
    bool include_usage = false; // stream_options.include_usage
    ChatOutputOptions output;
    std::string model; // as the request names it ("" when it names none)
    int n = 1;         // choices, each its own engine request (choice_requests)
};

// kInvalidArgument (HTTP 400) with a message naming the field for anything a client got wrong; kUnsupported for
// what we do not offer (non-text content). tool_choice "required" or named ends the prompt with the start
// of a call's header (ToolChoice), "none" leaves the functions undeclared.
Result<ChatCompletionJob> parse_chat_completion(const nlohmann::ordered_json& body,
                                                const Tokenizer& tokenizer,
                                                const ChatLimits& limits,
                                                uint64_t default_seed);

enum class ChatFinish { kStop, kLength, kToolCalls };

// Turns one request's sampled tokens into OpenAI's objects: those of the choice `index`.
class ChatCompletionAssembler {
  public:
    ChatCompletionAssembler(const Tokenizer& tokenizer,
                            std::string id,
                            std::string model,
                            int64_t created,
                            ChatOutputOptions options,
                            int index = 0);

    // One sampled token: appends the stream chunks it causes (none while a header or a multi-byte character is
    // incomplete). True when the reply has ended (a stop string was reached): the caller ends the request.
    bool on_token(const TokenEvent& token, std::vector<nlohmann::ordered_json>& chunks);
    // End of generation (`length`: the token limit was reached): appends the content still held back, and
    // returns the last chunk, with the finish reason.
    nlohmann::ordered_json finish_chunk(bool length, std::vector<nlohmann::ordered_json>& chunks);
    // The usage chunk of a stream (stream_options.include_usage), and the whole response of a non-stream request.
    nlohmann::ordered_json usage_chunk(int64_t prompt_tokens) const;
    nlohmann::ordered_json response(bool length, int64_t prompt_tokens);
    int64_t completion_tokens() const { return completion_tokens_; }
    int64_t cached_tokens() const { return cached_tokens_; }

  private:
    nlohmann::ordered_json chunk(nlohmann::ordered_json delta) const;
    void handle(const ParserEvent& event, std::vector<nlohmann::ordered_json>& chunks);
    ChatFinish finish_reason(bool length) const;
    void finish(std::vector<nlohmann::ordered_json>& chunks);
    // Sends the content no chunk has carried yet that no stop string can claim (all of it at the `end`), with its
    // tokens' log-probabilities.
    void send_content(bool end, std::vector<nlohmann::ordered_json>& chunks);
    // Whether the message being read is the reply (the final channel, or a commentary preamble).
    bool in_content() const;

    const Tokenizer& tokenizer_;
    HarmonyStreamParser parser_;
    std::vector<ParserEvent> pending_; // of the forced header, handled with the first token
    std::string id_;
    std::string model_;
    int64_t created_;
    int index_;
    bool exclude_reasoning_ = false;
    bool logprobs_ = false;
    bool role_sent_ = false;
    bool finished_ = false;
    int64_t completion_tokens_ = 0;
    int64_t cached_tokens_ = 0; // prompt tokens served by the prefix cache (TokenEvent::cached_prompt_tokens)
    TokenId last_token_ = -1;
    StreamedText content_;
    // Log-probability entries (and byte lengths) of the tokens whose text the parser has not placed yet.
    std::vector<std::pair<nlohmann::ordered_json, size_t>> pending_entries_;
    TokenId current_token_ = -1; // the sampled token whose events are being handled (-1: none)
    std::string reasoning_;
    nlohmann::ordered_json tool_calls_ = nlohmann::ordered_json::array();
    std::optional<std::string> channel_; // of the message being read
    std::optional<std::string> recipient_;
};

const char* chat_finish_name(ChatFinish finish);

} // namespace tllm::server
