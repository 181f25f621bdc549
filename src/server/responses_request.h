// OpenAI Responses requests over Harmony. A request's `input` (a string, or items: messages, reasoning,
// function_call, function_call_output, and the built-in calls of earlier responses) is normalised to items; the
// conversation to render is the previous response's conversation (previous_response_id) followed by these items. The
// items are turned into the Chat Completions messages they correspond to, so that chat/openai_request.h renders them
// exactly as the chat route does: `instructions` and system/developer messages become the developer message, function
// tools its TypeScript-like namespace, reasoning items the analysis channel, function calls and their outputs the
// commentary channel's calls and tool messages, built-in calls the messages the model read (responses_replay.h).
#pragma once

#include "chat/message.h"
#include "core/result.h"
#include "runtime/batch_engine.h"
#include "server/request_fields.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tllm::server {

struct ResponsesJob {
    BatchRequest request; // prompt (with the forced header, if any), token limit, sampling, stop tokens
    bool stream = false;
    bool store = true;
    std::string model; // as the request names it ("" when it names none)
    // This request's input as items, and the conversation a later request continues from (the previous
    // response's, then this input; the output items are added when the response is done).
    nlohmann::ordered_json input_items = nlohmann::ordered_json::array();
    nlohmann::ordered_json conversation = nlohmann::ordered_json::array();
    // What a Response object repeats of its request: instructions, tools, tool_choice, temperature, ...
    nlohmann::ordered_json echo = nlohmann::ordered_json::object();
    // tool_choice "required" or a named function: the start of a call's header, appended to the prompt so that
    // the model cannot answer in prose. The parser of the output reads these first.
    std::vector<TokenId> forced_header;
    // The Harmony conversation the prompt was rendered from: a built-in tool's answer continues it.
    std::vector<Message> harmony;
    // The built-in tools the request asked for (web_search*, code_interpreter), declared in the system message.
    bool browser = false;
    bool python = false;
};

// previous_response_id when the body has one (a 400 when it is not a string).
Result<std::optional<std::string>> previous_response_id(const nlohmann::ordered_json& body);

// `previous`: the conversation of the response named by previous_response_id (an empty array when none).
// kInvalidArgument (400) names the field a client got wrong; kUnsupported what we do not offer (non-text content,
// background responses); kContextOverflow when the prompt does not fit. `builtin`: the namespaces of the built-in
// tools the server runs ("browser" for web_search and web_search_preview, "python" for code_interpreter), declared in
// the system message of requests that ask for them; asking for one the server does not run is a 400, as at OpenAI.
Result<ResponsesJob> parse_responses_request(const nlohmann::ordered_json& body,
                                             const nlohmann::ordered_json& previous,
                                             const Tokenizer& tokenizer,
                                             const ChatLimits& limits,
                                             uint64_t default_seed,
                                             const ToolNamespaces& builtin = {});

} // namespace tllm::server
