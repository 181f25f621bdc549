// A Response object and its server-sent events from one request's sampled tokens, read by the streaming Harmony
// parser: the analysis channel (and calls to tools this server does not know) become `reasoning` items with
// reasoning_text, the final channel and commentary preambles `message` items with output_text, calls to
// functions.NAME `function_call` items, which end the response for the client to answer. Calls to the built-in tools a
// response runs become `web_search_call` (browser.*) and `code_interpreter_call` (python) items, which wait for the
// tool's result (ResponseTools runs it) before the output goes on. Each event carries the next sequence_number; the
// whole response is the one response.completed (or .incomplete) carries.
#pragma once

#include "chat/parser.h"
#include "core/result.h"
#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tllm::tools {
class Toolbox;
}

namespace tllm::server {

struct ResponseInfo {
    std::string id; // "resp_<hex>"; item ids are made from its hex part
    std::string model;
    int64_t created_at = 0;
    nlohmann::ordered_json echo = nlohmann::ordered_json::object(); // the request's fields (ResponsesJob::echo)
    int64_t input_tokens = 0;
    int64_t cached_tokens = 0;
    // The built-in tools this response runs; calls to others read as reasoning.
    bool browser_tool = false;
    bool python_tool = false;
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

    // A call to a built-in tool that ended with <|call|> and waits for its result, as the conversation holds it.
    std::optional<Message> pending_call() const;
    // What the model wrote since the start or the last tool result, as the conversation holds it.
    std::vector<Message> written_messages() const;
    // The pending call's result (the tool message): its item completes with its action or the code's output.
    void tool_result(const Message& result, std::vector<nlohmann::ordered_json>& events);
    // The output goes on with a new request whose prompt has `prompt_tokens` tokens (counted in usage's input).
    void continue_with(int64_t prompt_tokens);
    // From now on citations 【cursor†Lx-Ly】 in messages become url_citation annotations through `toolbox`'s browser
    // (which must outlive the assembler); text that may be the start of one is held back until it is complete.
    void set_citations(const tools::Toolbox* toolbox) { citations_ = toolbox; }
    int64_t output_tokens() const { return output_tokens_; }

    // The Response object as it stands (status "in_progress" until finish() or fail()).
    nlohmann::ordered_json response() const;
    const nlohmann::ordered_json& output() const { return output_; }

    // The server-sent event of `event`: "event: TYPE\ndata: JSON\n\n".
    static std::string sse(const nlohmann::ordered_json& event);

  private:
    enum class Item { kNone, kReasoning, kMessage, kFunctionCall, kWebSearch, kCodeInterpreter };

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
    // responses_tool_items.cpp: the built-in calls' items, and messages' citations.
    Item tool_item(const ParsedMessage& header) const;
    void open_tool_item(Item kind, const std::string& id, std::vector<nlohmann::ordered_json>& events);
    void add_tool_text(const std::string& text, std::vector<nlohmann::ordered_json>& events);
    void await_result(std::vector<nlohmann::ordered_json>& events);
    void close_tool_item(std::vector<nlohmann::ordered_json>& events);
    void add_cited_text(const std::string& text, bool last, std::vector<nlohmann::ordered_json>& events);

    const Tokenizer* tokenizer_;
    HarmonyStreamParser parser_;
    std::vector<ParserEvent> pending_;
    ResponseInfo info_;
    std::string base_; // hex part of the id
    std::string status_ = "in_progress";
    nlohmann::ordered_json error_;
    nlohmann::ordered_json output_ = nlohmann::ordered_json::array();
    Item open_ = Item::kNone;
    std::string text_; // of the open item
    std::string raw_;  // of the open message, before its citations became links
    nlohmann::ordered_json annotations_ = nlohmann::ordered_json::array(); // of the open message
    const tools::Toolbox* citations_ = nullptr;
    bool awaiting_result_ = false; // the open item is a built-in call that ended with <|call|>
    bool cut_ = false;             // the token limit ended the output: the last item is incomplete
    bool ended_ = false;           // finish() or fail() ran
    int64_t sequence_ = 0;
    int64_t output_tokens_ = 0;
    int64_t reasoning_tokens_ = 0;
};

} // namespace tllm::server
