// OpenAI Chat Completions request bodies (messages, tools, reasoning_effort) -> Harmony conversations,
// following the conventions of gpt-oss's chat template: system/developer messages become the developer
// message's instructions, function tools are declared there, assistant reasoning is the analysis channel,
// tool calls go to=functions.NAME on commentary with <|constrain|>json, tool results come from
// functions.NAME to=assistant on commentary.
#pragma once

#include "chat/message.h"
#include "core/result.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tllm {

struct ChatRequestOptions {
    std::optional<std::string> conversation_start_date; // "YYYY-MM-DD" for the system message
};

Result<std::vector<Message>> harmony_messages_from_chat_request(const nlohmann::ordered_json& request,
                                                                const ChatRequestOptions& options);

} // namespace tllm
