// A Response object and its server-sent events from one request's sampled tokens, read by the streaming Harmony
// parser: the analysis channel (and calls to tools this server does not know) become `reasoning` items with
// reasoning_text, the final channel and commentary preambles `message` items with output_text, calls to
// functions.NAME `function_call` items, which end the response for the client to answer. Each event carries the
// next sequence_number; the whole response is the one response.completed (or .incomplete) carries.
#pragma once

#include "chat/parser.h"
#include "core/result.h"
#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace tllm::server {

struct ResponseInfo {
    std::string id; // "resp_<hex>"; item ids are made from its hex part
    std::string model;
    int64_t created_at = 0;
    nlohmann::ordered_json echo = nlohmann::ordered_json::object(); // the request's fields (ResponsesJob::echo)
    int64_t input_tokens = 0;
    int64_t cached_tokens = 0;
};

class ResponseAssembler {
  public:
    // `forced_header`: tokens the prompt ends with after "<|start|>assistant" (ResponsesJob::forced_header); the
    // parser reads them before the sampled tokens.
    ResponseAssembler(const Tokenizer& tokenizer, ResponseInfo info, std::span<const TokenId> forced_header = {});

    // response.created and response.in_progress.
    void start(std::vector<nlohmann::ordered_json>& events);
    // One sampled token: the events it causes (none while a header or a multi-byte character is incomplete).
    void on_token(TokenId token, std::vector<nlohmann::ordered_json>& events);
    // Prompt tokens the prefix cache served (TokenEvent::cached_prompt_tokens of the first token), for usage.
    void add_cached_tokens(int64_t tokens) { info_.cached_tokens += tokens; }
    // The end of generation (`length`: the token limit cut it): closes the open item and appends
    // response.completed, or response.incomplete with incomplete_details.reason "max_output_tokens".
    void finish(bool length, std::vector<nlohmann::ordered_json>& events);
    // The engine failed the request: response.failed, with the error.
    void fail(const Error& error, std::vector<nlohmann::ordered_json>& events);

    // The Response object as it stands (status "in_progress" until finish() or fail()).
    nlohmann::ordered_json response() const;
    const nlohmann::ordered_json& output() const { return output_; }

    // The server-sent event of `event`: "event: TYPE\ndata: JSON\n\n".
    static std::string sse(const nlohmann::ordered_json& event);

  private:
    enum class Item { kNone, kReasoning, kMessage, kFunctionCall };

    nlohmann::ordered_json event(const char* type, nlohmann::ordered_json fields);
    void handle(const ParserEvent& event, std::vector<nlohmann::ordered_json>& events);
    // The events of the forced header: after response.created in a stream, before the first token's.
    void handle_pending(std::vector<nlohmann::ordered_json>& events);
    void open_item(Item kind, const ParsedMessage& header, std::vector<nlohmann::ordered_json>& events);
    void add_text(const std::string& text, std::vector<nlohmann::ordered_json>& events);
    void close_item(std::vector<nlohmann::ordered_json>& events);
    // {"item_id", "output_index"} of the open item, and "content_index" for items with content parts.
    nlohmann::ordered_json where(bool content) const;
    nlohmann::ordered_json part() const; // the open item's content part, with its text so far

    HarmonyStreamParser parser_;
    std::vector<ParserEvent> pending_;
    ResponseInfo info_;
    std::string base_; // hex part of the id
    std::string status_ = "in_progress";
    nlohmann::ordered_json error_;
    nlohmann::ordered_json output_ = nlohmann::ordered_json::array();
    Item open_ = Item::kNone;
    std::string text_;   // of the open item
    bool cut_ = false;   // the token limit ended the output: the last item is incomplete
    bool ended_ = false; // finish() or fail() ran
    int64_t sequence_ = 0;
    int64_t output_tokens_ = 0;
    int64_t reasoning_tokens_ = 0;
};

} // namespace tllm::server
