// OpenAI Chat Completions over Harmony: a request body becomes a prompt (chat/openai_request.h renders the
// messages as gpt-oss's chat template does) and a BatchRequest; the sampled tokens, parsed as Harmony, become the
// response: the analysis channel as `reasoning` and `reasoning_content` (vLLM's name), the final channel as `content`,
// calls to functions.NAME as `tool_calls`, streamed as chat.completion.chunk deltas or returned whole.
#pragma once

#include "chat/parser.h"
#include "core/result.h"
#include "runtime/batch_engine.h"
#include "server/request_fields.h"
#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tllm::server {

struct ChatCompletionJob {
    BatchRequest request; // prompt, max_new_tokens, stop tokens, sampling, log-probabilities
    bool stream = false;
    bool include_usage = false;         // stream_options.include_usage
    std::vector<std::string> stop_text; // `stop`: the reply ends before the first of these
    bool exclude_reasoning = false;     // `reasoning.exclude`: the reasoning is generated but not returned
    std::string model;
};

// kInvalidArgument (HTTP 400) with a message naming the field for anything a client got wrong; kUnsupported for
// what we do not offer (n > 1, non-text content).
Result<ChatCompletionJob> parse_chat_completion(const nlohmann::ordered_json& body,
                                                const Tokenizer& tokenizer,
                                                const ChatLimits& limits,
                                                uint64_t default_seed);

enum class ChatFinish { kStop, kLength, kToolCalls };

// Turns one request's sampled tokens into OpenAI's objects.
class ChatCompletionAssembler {
  public:
    ChatCompletionAssembler(const Tokenizer& tokenizer,
                            std::string id,
                            std::string model,
                            int64_t created,
                            std::vector<std::string> stop_text,
                            bool exclude_reasoning = false);

    // One sampled token: appends the stream chunks it causes (none while a header or a multi-byte character is
    // incomplete). True when the reply has ended (a stop string was reached): the caller ends the request.
    bool on_token(const TokenEvent& token, std::vector<nlohmann::ordered_json>& chunks);
    // End of generation (`length`: the token limit was reached): appends the content still held back, and
    // returns the last chunk, with the finish reason.
    nlohmann::ordered_json finish_chunk(bool length, std::vector<nlohmann::ordered_json>& chunks);
    // The usage chunk of a stream (stream_options.include_usage), and the whole response of a non-stream request.
    nlohmann::ordered_json usage_chunk(int64_t prompt_tokens) const;
    nlohmann::ordered_json response(bool length, int64_t prompt_tokens);

  private:
    nlohmann::ordered_json chunk(nlohmann::ordered_json delta) const;
    void handle(const ParserEvent& event, std::vector<nlohmann::ordered_json>& chunks);
    ChatFinish finish_reason(bool length) const;
    void finish(std::vector<nlohmann::ordered_json>& chunks);
    // Sends content_ up to `end` (moved back to a UTF-8 boundary) that no chunk has carried yet.
    void send_content(size_t end, std::vector<nlohmann::ordered_json>& chunks);
    nlohmann::ordered_json usage(int64_t prompt_tokens) const;

    HarmonyStreamParser parser_;
    std::string id_;
    std::string model_;
    int64_t created_;
    std::vector<std::string> stop_text_;
    bool exclude_reasoning_ = false;
    bool role_sent_ = false;
    bool stopped_ = false; // a stop string ended the reply
    bool finished_ = false;
    size_t content_sent_ = 0; // bytes of content_ that chunks carried
    int64_t completion_tokens_ = 0;
    TokenId last_token_ = -1;
    std::string content_;
    std::string reasoning_;
    nlohmann::ordered_json tool_calls_ = nlohmann::ordered_json::array();
    std::optional<std::string> channel_; // of the message being read
    std::optional<std::string> recipient_;
};

const char* chat_finish_name(ChatFinish finish);

} // namespace tllm::server
