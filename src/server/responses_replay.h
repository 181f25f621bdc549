// The built-in tool calls of earlier responses (web_search_call, code_interpreter_call), as clients send them back
// in `input` and as the response store keeps them: rendered again as the Harmony messages the model read, the call
// as it wrote it and the tool's answer, so that a conversation replayed from its items gets the prompt it gets
// through previous_response_id, and both the one its model saw.
//
// OpenAI's web_search_call holds neither the call's arguments nor the page the model read, and neither item holds
// the call's Harmony header, so the items this server writes carry them in a field of their own:
//   "harmony": {"recipient": "browser.search" | "python"..., "channel": "analysis" | "commentary",
//               "content_type": "code" (only when the header had one),
//               "arguments": the call's text, "output": the tool's answer (web_search_call only: a
//               code_interpreter_call has them as `code` and its `logs` outputs)}
// A message whose citations became links (url_citation) keeps the text the model wrote, 【cursor†Lx-Ly】 and all:
//   "harmony": {"text": "..."}
// A code_interpreter_call without it (OpenAI's own shape) is rendered as a call to `python` on the analysis
// channel; a web_search_call without it, or a call that never ran (its status not `completed`), is not rendered:
// the model read no answer to it.
#pragma once

#include "chat/message.h"
#include "core/result.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

namespace tllm::server {

// A built-in call's two messages: the assistant's call, and the tool's answer to it.
using BuiltinExchange = std::pair<Message, Message>;

// `harmony` of the item of a built-in call that ran: `call` as the model wrote it, `output` the tool's answer.
nlohmann::ordered_json replay_fields(const Message& call, const std::string& output, bool web_search);

// `harmony` of a message whose text is not what the model wrote: `written`.
nlohmann::ordered_json written_text_fields(const std::string& written);
// Checks a message item's `harmony` (a 400 names what is wrong after `where`); the text the model wrote, when the
// item has it.
Result<std::optional<std::string>> written_text(const nlohmann::ordered_json& item, const std::string& where);

// Checks an input item of type web_search_call or code_interpreter_call; a 400 names what is wrong after `where`.
Status check_builtin_item(const nlohmann::ordered_json& item, const std::string& where);

// The messages a checked built-in item stands for; nullopt when it has none to render (above).
std::optional<BuiltinExchange> builtin_exchange(const nlohmann::ordered_json& item);

} // namespace tllm::server
