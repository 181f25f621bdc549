#include "chat/openai_request.h"

#include <fmt/format.h>
#include <map>

namespace tllm {
namespace {

using Json = nlohmann::ordered_json;

// A message's content: a string, null, or an array of {"type": "text", "text": ...} parts.
Result<std::string> content_text(const Json& message, size_t index) {
    auto it = message.find("content");
    if (it == message.end() || it->is_null()) {
        return std::string();
    }
    if (it->is_string()) {
        return it->get<std::string>();
    }
    if (it->is_array()) {
        std::string text;
        for (const Json& part : *it) {
            if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
                !part["text"].is_string()) {
                return make_error(ErrorCode::kUnsupported, "messages[{}].content: only text parts are supported",
                                  index);
            }
            text += part["text"].get<std::string>();
        }
        return text;
    }
    return make_error(ErrorCode::kInvalidArgument, "messages[{}].content must be a string or an array of parts", index);
}

Result<std::string> string_field(const Json& object, const char* key, const std::string& where) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_string()) {
        return make_error(ErrorCode::kInvalidArgument, "{}.{} must be a string", where, key);
    }
    return it->get<std::string>();
}

Result<std::vector<ToolDescription>> function_tools(const Json& request) {
    std::vector<ToolDescription> tools;
    auto it = request.find("tools");
    if (it == request.end() || it->is_null()) {
        return tools;
    }
    if (!it->is_array()) {
        return make_error(ErrorCode::kInvalidArgument, "tools must be an array");
    }
    for (size_t i = 0; i < it->size(); ++i) {
        const Json& tool = (*it)[i];
        std::string where = fmt::format("tools[{}]", i);
        if (!tool.is_object() || tool.value("type", "") != "function" || !tool.contains("function") ||
            !tool["function"].is_object()) {
            return make_error(ErrorCode::kUnsupported,
                              "{}: only {{\"type\": \"function\", \"function\": {{...}}}} "
                              "tools are supported",
                              where);
        }
        const Json& function = tool["function"];
        ToolDescription description;
        TLLM_ASSIGN_OR_RETURN(description.name, string_field(function, "name", where + ".function"));
        if (function.contains("description") && function["description"].is_string()) {
            description.description = function["description"].get<std::string>();
        }
        if (function.contains("parameters") && !function["parameters"].is_null()) {
            description.parameters = function["parameters"];
        }
        tools.push_back(std::move(description));
    }
    return tools;
}

} // namespace

Result<std::vector<Message>> harmony_messages_from_chat_request(const Json& request,
                                                                const ChatRequestOptions& options) {
    if (!request.is_object()) {
        return make_error(ErrorCode::kInvalidArgument, "the request must be a JSON object");
    }
    auto messages_it = request.find("messages");
    if (messages_it == request.end() || !messages_it->is_array()) {
        return make_error(ErrorCode::kInvalidArgument, "the request needs a \"messages\" array");
    }
    SystemContent system;
    system.conversation_start_date = options.conversation_start_date;
    if (auto it = request.find("reasoning_effort"); it != request.end() && !it->is_null()) {
        auto effort = it->is_string() ? reasoning_effort_from_name(it->get<std::string>()) : std::nullopt;
        if (!effort) {
            return make_error(ErrorCode::kInvalidArgument, "reasoning_effort must be \"low\", \"medium\" or \"high\"");
        }
        system.reasoning_effort = effort;
    }
    TLLM_ASSIGN_OR_RETURN(std::vector<ToolDescription> tools, function_tools(request));

    std::vector<std::string> instructions;
    std::vector<Message> turns;
    std::map<std::string, std::string> call_names; // tool_call_id -> function name
    const Json& messages = *messages_it;
    for (size_t i = 0; i < messages.size(); ++i) {
        const Json& message = messages[i];
        std::string where = fmt::format("messages[{}]", i);
        if (!message.is_object()) {
            return make_error(ErrorCode::kInvalidArgument, "{} must be an object", where);
        }
        TLLM_ASSIGN_OR_RETURN(std::string role, string_field(message, "role", where));
        TLLM_ASSIGN_OR_RETURN(std::string text, content_text(message, i));
        if (role == "system" || role == "developer") {
            instructions.push_back(std::move(text));
        } else if (role == "user") {
            turns.push_back(Message::text(Role::kUser, std::move(text)));
        } else if (role == "assistant") {
            for (const char* key : {"reasoning_content", "reasoning"}) {
                if (auto it = message.find(key); it != message.end() && it->is_string() && !it->empty()) {
                    turns.push_back(Message::text(Role::kAssistant, it->get<std::string>()).with_channel("analysis"));
                    break;
                }
            }
            auto calls = message.find("tool_calls");
            bool has_calls = calls != message.end() && calls->is_array() && !calls->empty();
            if (!text.empty()) {
                // Text next to tool calls is a user-visible preamble (commentary); otherwise the answer.
                turns.push_back(
                    Message::text(Role::kAssistant, std::move(text)).with_channel(has_calls ? "commentary" : "final"));
            }
            if (has_calls) {
                for (size_t c = 0; c < calls->size(); ++c) {
                    const Json& call = (*calls)[c];
                    std::string call_where = fmt::format("{}.tool_calls[{}]", where, c);
                    if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
                        return make_error(ErrorCode::kInvalidArgument, "{} needs a \"function\" object", call_where);
                    }
                    TLLM_ASSIGN_OR_RETURN(std::string name, string_field(call["function"], "name", call_where));
                    std::string arguments = "{}";
                    if (auto args = call["function"].find("arguments"); args != call["function"].end()) {
                        arguments = args->is_string() ? args->get<std::string>() : args->dump();
                    }
                    if (auto id = call.find("id"); id != call.end() && id->is_string()) {
                        call_names[id->get<std::string>()] = name;
                    }
                    turns.push_back(Message::text(Role::kAssistant, std::move(arguments))
                                        .with_channel("commentary")
                                        .with_recipient("functions." + name)
                                        .with_content_type("<|constrain|>json"));
                }
            }
        } else if (role == "tool") {
            std::string name;
            if (auto it = message.find("name"); it != message.end() && it->is_string()) {
                name = it->get<std::string>();
            } else if (auto id = message.find("tool_call_id");
                       id != message.end() && id->is_string() && call_names.count(id->get<std::string>())) {
                name = call_names[id->get<std::string>()];
            } else {
                return make_error(ErrorCode::kInvalidArgument,
                                  "{}: a tool message needs \"name\" or the \"tool_call_id\" of an earlier tool call",
                                  where);
            }
            Message result = Message::text(Role::kTool, std::move(text)).with_channel("commentary");
            result.name = "functions." + name;
            result.recipient = "assistant";
            turns.push_back(std::move(result));
        } else {
            return make_error(ErrorCode::kInvalidArgument,
                              "{}.role \"{}\" is not system, developer, user, assistant "
                              "or tool",
                              where, role);
        }
    }

    std::vector<Message> conversation;
    Message system_message;
    system_message.role = Role::kSystem;
    system_message.content.emplace_back(std::move(system));
    conversation.push_back(std::move(system_message));
    if (!instructions.empty() || !tools.empty()) {
        DeveloperContent developer;
        if (!instructions.empty()) {
            developer.instructions = fmt::format("{}", fmt::join(instructions, "\n\n"));
        }
        if (!tools.empty()) {
            developer.with_function_tools(std::move(tools));
        }
        Message developer_message;
        developer_message.role = Role::kDeveloper;
        developer_message.content.emplace_back(std::move(developer));
        conversation.push_back(std::move(developer_message));
    }
    for (Message& turn : turns) {
        conversation.push_back(std::move(turn));
    }
    return conversation;
}

} // namespace tllm
