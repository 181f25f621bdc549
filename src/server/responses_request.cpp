#include "server/responses_request.h"

#include "chat/openai_request.h"
#include "chat/render.h"
#include "core/log.h"
#include "server/responses_replay.h"

#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

Error unsupported(const std::string& message) { return Error(ErrorCode::kUnsupported, message); }

const std::string* string_member(const Json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

Result<std::string> required_string(const Json& object, const char* key, const std::string& where) {
    const std::string* value = string_member(object, key);
    if (value == nullptr) {
        return bad_request(fmt::format("{}.{} must be a string", where, key));
    }
    return *value;
}

// The text of a content list: a string, or parts whose `text` is taken (input_text, output_text, reasoning_text,
// summary_text, text). Images, files and audio are not something gpt-oss reads.
Result<std::string> parts_text(const Json& content, const std::string& where) {
    if (content.is_string()) {
        return content.get<std::string>();
    }
    if (!content.is_array()) {
        return bad_request(fmt::format("{} must be a string or an array of content parts", where));
    }
    std::string text;
    for (size_t i = 0; i < content.size(); ++i) {
        const Json& part = content[i];
        const std::string part_where = fmt::format("{}[{}]", where, i);
        if (!part.is_object()) {
            return bad_request(part_where + " must be an object");
        }
        const std::string* type = string_member(part, "type");
        if (type == nullptr) {
            return bad_request(part_where + ".type must be a string");
        }
        if (*type == "refusal") {
            TLLM_ASSIGN_OR_RETURN(std::string refusal, required_string(part, "refusal", part_where));
            text += refusal;
            continue;
        }
        if (*type != "input_text" && *type != "output_text" && *type != "reasoning_text" && *type != "summary_text" &&
            *type != "text") {
            return unsupported(
                fmt::format("{}: content of type \"{}\" is not supported (text only)", part_where, *type));
        }
        TLLM_ASSIGN_OR_RETURN(std::string piece, required_string(part, "text", part_where));
        text += piece;
    }
    return text;
}

// One input item, checked and with its type made explicit (an EasyInputMessage may leave it out).
Result<Json> normalized_item(const Json& item, const std::string& where) {
    if (!item.is_object()) {
        return bad_request(where + " must be an object");
    }
    Json out = item;
    if (!out.contains("type") && out.contains("role")) {
        out["type"] = "message";
    }
    const std::string* type = string_member(out, "type");
    if (type == nullptr) {
        return bad_request(where + ".type must be a string");
    }
    if (*type == "message") {
        TLLM_ASSIGN_OR_RETURN(std::string role, required_string(out, "role", where));
        if (role != "user" && role != "assistant" && role != "system" && role != "developer") {
            return bad_request(fmt::format("{}.role \"{}\" is not user, assistant, system or developer", where, role));
        }
        if (!out.contains("content")) {
            return bad_request(where + ".content is missing");
        }
        TLLM_RETURN_IF_ERROR(parts_text(out["content"], where + ".content"));
        TLLM_RETURN_IF_ERROR(written_text(out, where));
    } else if (*type == "reasoning") {
        const bool has_content = out.contains("content") && !out["content"].is_null();
        if (has_content) {
            TLLM_RETURN_IF_ERROR(parts_text(out["content"], where + ".content"));
        }
        if (out.contains("summary") && !out["summary"].is_null()) {
            TLLM_RETURN_IF_ERROR(parts_text(out["summary"], where + ".summary"));
        }
    } else if (*type == "function_call") {
        TLLM_RETURN_IF_ERROR(required_string(out, "call_id", where));
        TLLM_RETURN_IF_ERROR(required_string(out, "name", where));
        auto arguments = out.find("arguments");
        if (arguments == out.end() || arguments->is_null()) {
            out["arguments"] = "{}";
        } else if (!arguments->is_string()) {
            out["arguments"] = arguments->dump(); // an object where OpenAI wants its JSON text
        }
    } else if (*type == "function_call_output") {
        TLLM_RETURN_IF_ERROR(required_string(out, "call_id", where));
        if (!out.contains("output")) {
            return bad_request(where + ".output is missing");
        }
        TLLM_RETURN_IF_ERROR(parts_text(out["output"], where + ".output"));
    } else if (*type == "web_search_call" || *type == "code_interpreter_call") {
        TLLM_RETURN_IF_ERROR(check_builtin_item(out, where)); // built-in calls of an earlier response
    } else {
        return unsupported(fmt::format("{}: items of type \"{}\" are not supported (message, reasoning, "
                                       "function_call, function_call_output and built-in calls are)",
                                       where, *type));
    }
    return out;
}

Result<Json> input_items(const Json& body) {
    auto input = body.find("input");
    if (input == body.end() || input->is_null()) {
        return bad_request("input is missing: a string, or an array of items");
    }
    if (input->is_string()) {
        return Json::array({{{"type", "message"},
                             {"role", "user"},
                             {"content", Json::array({{{"type", "input_text"}, {"text", *input}}})}}});
    }
    if (!input->is_array()) {
        return bad_request("input must be a string or an array of items");
    }
    Json items = Json::array();
    for (size_t i = 0; i < input->size(); ++i) {
        TLLM_ASSIGN_OR_RETURN(Json item, normalized_item((*input)[i], fmt::format("input[{}]", i)));
        items.push_back(std::move(item));
    }
    return items;
}

// The conversation's items as Chat Completions messages, but for the built-in calls, which that API cannot express:
// a message {"role": "builtin", "call": k} stands for calls[k] (no client message has that role).
struct ChatConversation {
    Json messages = Json::array();
    std::vector<BuiltinExchange> calls;
};

// An assistant turn is one chat message: reasoning, then text, then calls, as the items come; text next to calls is
// thus a preamble on the commentary channel, as the chat route renders it. `first_input`: where this request's items
// begin (for the messages naming an item).
Result<ChatConversation> chat_messages(const Json& conversation, size_t first_input) {
    auto where = [&](size_t i) {
        return i >= first_input ? fmt::format("input[{}]", i - first_input)
                                : fmt::format("item {} of the previous response's conversation", i);
    };
    std::map<std::string, std::string> call_names; // call_id -> function name
    ChatConversation out;
    Json& messages = out.messages;
    Json assistant; // the assistant turn being gathered, null when none
    auto flush = [&] {
        if (!assistant.is_null()) {
            messages.push_back(std::move(assistant));
            assistant = Json();
        }
    };
    auto open_assistant = [&](bool text) {
        // A new turn when this part cannot follow what the turn holds (text after text or calls, reasoning after
        // either).
        if (!assistant.is_null() && (assistant.contains("tool_calls") || (text && assistant.contains("content")))) {
            flush();
        }
        if (assistant.is_null()) {
            assistant = Json{{"role", "assistant"}};
        }
    };
    for (size_t i = 0; i < conversation.size(); ++i) {
        const Json& item = conversation[i];
        const std::string type = item.value("type", "message");
        if (type == "message") {
            TLLM_ASSIGN_OR_RETURN(std::string text, parts_text(item["content"], where(i) + ".content"));
            const std::string role = item["role"].get<std::string>();
            if (role == "assistant") {
                TLLM_ASSIGN_OR_RETURN(std::optional<std::string> written, written_text(item, where(i)));
                text = written.value_or(std::move(text)); // what the model wrote, its citations unmade
                open_assistant(true);
                assistant["content"] = std::move(text);
                continue;
            }
            flush();
            messages.push_back({{"role", role}, {"content", std::move(text)}});
        } else if (type == "reasoning") {
            const bool has_content = item.contains("content") && !item["content"].is_null() &&
                                     !(item["content"].is_array() && item["content"].empty());
            TLLM_ASSIGN_OR_RETURN(std::string text, has_content ? parts_text(item["content"], where(i) + ".content")
                                                    : item.contains("summary") && !item["summary"].is_null()
                                                        ? parts_text(item["summary"], where(i) + ".summary")
                                                        : Result<std::string>(std::string()));
            if (!assistant.is_null() && (assistant.contains("content") || assistant.contains("tool_calls") ||
                                         assistant.contains("reasoning_content"))) {
                flush();
            }
            open_assistant(false);
            assistant["reasoning_content"] = std::move(text);
        } else if (type == "function_call") {
            open_assistant(false);
            const std::string call_id = item["call_id"].get<std::string>();
            call_names[call_id] = item["name"].get<std::string>();
            assistant["tool_calls"].push_back(
                {{"id", call_id},
                 {"type", "function"},
                 {"function", {{"name", item["name"]}, {"arguments", item["arguments"]}}}});
        } else if (type == "function_call_output") {
            flush();
            const std::string call_id = item["call_id"].get<std::string>();
            auto name = call_names.find(call_id);
            if (name == call_names.end()) {
                return bad_request(
                    fmt::format("{}.call_id \"{}\" answers no function_call of the conversation", where(i), call_id));
            }
            TLLM_ASSIGN_OR_RETURN(std::string output, parts_text(item["output"], where(i) + ".output"));
            messages.push_back(
                {{"role", "tool"}, {"tool_call_id", call_id}, {"name", name->second}, {"content", std::move(output)}});
        } else if (std::optional<BuiltinExchange> call = builtin_exchange(item)) { // web_search_call, ...
            flush();
            messages.push_back({{"role", "builtin"}, {"call", out.calls.size()}});
            out.calls.push_back(std::move(*call));
        }
    }
    flush();
    return out;
}

// The Harmony conversation of `conversation` as one Chat Completions request with `request`'s other fields (tools,
// reasoning_effort) renders it, with the built-in calls in their places: the system and developer messages come of
// the instructions (system and developer messages) and tools, then each other message makes its turns in order,
// as it would in one request.
Result<std::vector<Message>>
harmony_conversation(const ChatConversation& conversation, Json request, const ChatRequestOptions& options) {
    request["messages"] = Json::array();
    for (const Json& message : conversation.messages) {
        if (message["role"] == "system" || message["role"] == "developer") {
            request["messages"].push_back(message);
        }
    }
    TLLM_ASSIGN_OR_RETURN(std::vector<Message> out, harmony_messages_from_chat_request(request, options));
    for (const Json& message : conversation.messages) {
        if (message["role"] == "system" || message["role"] == "developer") {
            continue;
        }
        if (message["role"] == "builtin") {
            // Text just before a call is the preamble the model wrote on the commentary channel: its final answer
            // would have ended its turn.
            if (!out.empty() && out.back().role == Role::kAssistant && out.back().channel == "final") {
                out.back().channel = "commentary";
            }
            const BuiltinExchange& call = conversation.calls.at(message["call"].get<size_t>());
            out.push_back(call.first);
            out.push_back(call.second);
            continue;
        }
        TLLM_ASSIGN_OR_RETURN(std::vector<Message> turn,
                              harmony_messages_from_chat_request({{"messages", Json::array({message})}}, options));
        out.insert(out.end(), std::make_move_iterator(turn.begin() + 1), std::make_move_iterator(turn.end()));
    }
    return out;
}

bool valid_function_name(const std::string& name) {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

// The built-in tool a `tools` entry of type `type` names: "browser" or "python" ("" for none of them).
std::string builtin_tool(const std::string& type) {
    if (type == "web_search" || type == "web_search_preview" || type.starts_with("web_search_preview_") ||
        type.starts_with("web_search_20")) {
        return "browser";
    }
    return type == "code_interpreter" ? "python" : "";
}

// The function tools and the built-in ones the server runs, checked, as the Response repeats them (`builtin_names`
// gets "browser" and "python" for those asked for); tools of other types (file search, MCP, ...) are left out.
Result<Json> function_tools(const Json& body, const ToolNamespaces& builtin, std::vector<std::string>& builtin_names) {
    Json tools = Json::array();
    auto it = body.find("tools");
    if (it == body.end() || it->is_null()) {
        return tools;
    }
    if (!it->is_array()) {
        return bad_request("tools must be an array");
    }
    for (size_t i = 0; i < it->size(); ++i) {
        const Json& tool = (*it)[i];
        const std::string where = fmt::format("tools[{}]", i);
        if (!tool.is_object() || string_member(tool, "type") == nullptr) {
            return bad_request(where + " must be an object with a \"type\"");
        }
        if (const std::string name = builtin_tool(tool["type"].get<std::string>()); !name.empty()) {
            if (!builtin.contains(name)) {
                return bad_request(fmt::format(
                    "{}: {} is not available on this server ({})", where, tool["type"].get<std::string>(),
                    name == "browser" ? "it was started without --browser-backend" : "its code interpreter is off"));
            }
            if (std::find(builtin_names.begin(), builtin_names.end(), name) == builtin_names.end()) {
                builtin_names.push_back(name);
            }
            tools.push_back(tool);
            continue;
        }
        if (tool["type"] != "function") {
            TLLM_LOG_INFO("responses: skipping a tool of type {} (not served)", tool["type"].get<std::string>());
            continue;
        }
        TLLM_ASSIGN_OR_RETURN(std::string name, required_string(tool, "name", where));
        if (!valid_function_name(name)) {
            return bad_request(fmt::format("{}.name \"{}\" must be 1 to 64 letters, digits, '_' or '-'", where, name));
        }
        Json function = {{"type", "function"}, {"name", name}, {"description", nullptr}, {"parameters", nullptr}};
        if (auto description = tool.find("description"); description != tool.end() && !description->is_null()) {
            if (!description->is_string()) {
                return bad_request(where + ".description must be a string");
            }
            function["description"] = *description;
        }
        if (auto parameters = tool.find("parameters"); parameters != tool.end() && !parameters->is_null()) {
            if (!parameters->is_object()) {
                return bad_request(where + ".parameters must be a JSON schema object");
            }
            if (auto type = parameters->find("type");
                type != parameters->end() && !type->is_string() && !type->is_array()) {
                return bad_request(where + ".parameters.type must be a string or an array of strings");
            }
            function["parameters"] = *parameters;
        }
        TLLM_ASSIGN_OR_RETURN(bool strict, bool_field(tool, "strict", false));
        function["strict"] = strict;
        tools.push_back(std::move(function));
    }
    return tools;
}

// reasoning.effort for the system message ("minimal" is served as low, gpt-oss's least).
Result<std::optional<std::string>> reasoning_effort(const Json& body) {
    auto reasoning = body.find("reasoning");
    if (reasoning == body.end() || reasoning->is_null()) {
        return std::optional<std::string>();
    }
    if (!reasoning->is_object()) {
        return bad_request("reasoning must be an object: {\"effort\": \"low\"|\"medium\"|\"high\"}");
    }
    auto effort = reasoning->find("effort");
    if (effort == reasoning->end() || effort->is_null()) {
        return std::optional<std::string>();
    }
    if (*effort == "minimal" || *effort == "low" || *effort == "medium" || *effort == "high") {
        return std::optional<std::string>(*effort == "minimal" ? "low" : effort->get<std::string>());
    }
    return bad_request("reasoning.effort must be \"low\", \"medium\" or \"high\"");
}

Result<Json> metadata(const Json& body) {
    auto it = body.find("metadata");
    if (it == body.end() || it->is_null()) {
        return Json::object();
    }
    if (!it->is_object() || it->size() > 16) {
        return bad_request("metadata must be an object of at most 16 string values");
    }
    for (const auto& [key, value] : it->items()) {
        if (!value.is_string() || key.size() > 64 || value.get<std::string>().size() > 512) {
            return bad_request(fmt::format("metadata.{} must be a string of at most 512 characters (keys at most 64)",
                                           key.substr(0, 64)));
        }
    }
    return *it;
}

} // namespace

Result<std::optional<std::string>> previous_response_id(const Json& body) {
    if (!body.is_object()) {
        return std::optional<std::string>();
    }
    auto it = body.find("previous_response_id");
    if (it == body.end() || it->is_null()) {
        return std::optional<std::string>();
    }
    if (!it->is_string() || it->get<std::string>().empty()) {
        return bad_request("previous_response_id must be a non-empty string");
    }
    return std::optional<std::string>(it->get<std::string>());
}

Result<ResponsesJob> parse_responses_request(const Json& body,
                                             const Json& previous,
                                             const Tokenizer& tokenizer,
                                             const ChatLimits& limits,
                                             uint64_t seed,
                                             const ToolNamespaces& builtin) {
    if (!body.is_object()) {
        return bad_request("the request body must be a JSON object");
    }
    ResponsesJob job;
    if (auto model = body.find("model"); model != body.end() && !model->is_null()) {
        if (!model->is_string() || model->get<std::string>().empty()) {
            return bad_request("model must be a non-empty string");
        }
        job.model = model->get<std::string>();
    }
    TLLM_ASSIGN_OR_RETURN(bool background, bool_field(body, "background", false));
    if (background) {
        return unsupported("background: responses are served while the client waits");
    }
    TLLM_ASSIGN_OR_RETURN(job.stream, bool_field(body, "stream", false));
    TLLM_ASSIGN_OR_RETURN(job.store, bool_field(body, "store", true));
    TLLM_ASSIGN_OR_RETURN(std::optional<std::string> previous_id, previous_response_id(body));
    TLLM_ASSIGN_OR_RETURN(job.input_items, input_items(body));
    if (!previous.is_array()) {
        return Error(ErrorCode::kInternal, "a stored conversation is not an array");
    }
    job.conversation = previous;
    for (const Json& item : job.input_items) {
        job.conversation.push_back(item);
    }
    TLLM_ASSIGN_OR_RETURN(ChatConversation conversation, chat_messages(job.conversation, previous.size()));
    Json instructions;
    if (auto it = body.find("instructions"); it != body.end() && !it->is_null()) {
        if (!it->is_string()) {
            return bad_request("instructions must be a string");
        }
        instructions = *it;
        conversation.messages.insert(conversation.messages.begin(), Json{{"role", "developer"}, {"content", *it}});
    }
    std::vector<std::string> builtin_names;
    TLLM_ASSIGN_OR_RETURN(Json tools, function_tools(body, builtin, builtin_names));
    std::vector<std::string> function_names;
    for (const Json& tool : tools) {
        if (tool["type"] == "function") {
            function_names.push_back(tool["name"].get<std::string>());
        }
    }
    TLLM_ASSIGN_OR_RETURN(ToolChoice choice, tool_choice_field(body, function_names, tokenizer));
    job.forced_header = std::move(choice.forced_header);
    const bool declare_tools = choice.declare_tools;
    TLLM_ASSIGN_OR_RETURN(std::optional<std::string> effort, reasoning_effort(body));
    TLLM_ASSIGN_OR_RETURN(Json meta, metadata(body));
    TLLM_ASSIGN_OR_RETURN(bool parallel_tool_calls, bool_field(body, "parallel_tool_calls", true));

    Json chat = Json::object();
    if (declare_tools && !function_names.empty()) {
        chat["tools"] = Json::array();
        for (const Json& tool : tools) {
            if (tool["type"] != "function") {
                continue;
            }
            Json function = {{"name", tool["name"]}};
            if (!tool["description"].is_null()) {
                function["description"] = tool["description"];
            }
            if (!tool["parameters"].is_null()) {
                function["parameters"] = tool["parameters"];
            }
            chat["tools"].push_back({{"type", "function"}, {"function", std::move(function)}});
        }
    }
    if (effort) {
        chat["reasoning_effort"] = *effort;
    }
    ChatRequestOptions render_options;
    render_options.conversation_start_date = limits.conversation_date;
    TLLM_ASSIGN_OR_RETURN(job.harmony, harmony_conversation(conversation, std::move(chat), render_options));
    // Built-in tools are declared in the system message, as the chat's -b and -p do; tool_choice none leaves them
    // out too (at OpenAI it means no tool at all).
    if (declare_tools && !job.harmony.empty() && job.harmony[0].role == Role::kSystem) {
        auto& system = std::get<SystemContent>(job.harmony[0].content.at(0));
        for (const std::string& name : builtin_names) {
            system.tools[name] = builtin.at(name);
            (name == "browser" ? job.browser : job.python) = true;
        }
    }
    TLLM_ASSIGN_OR_RETURN(std::vector<TokenId> prompt,
                          HarmonyRenderer(tokenizer).render_for_completion(job.harmony, Role::kAssistant));
    prompt.insert(prompt.end(), job.forced_header.begin(), job.forced_header.end());
    TLLM_RETURN_IF_ERROR(fill_generation(body, {"max_output_tokens"}, prompt, limits, seed, job.request));

    job.echo = {{"instructions", instructions},
                {"max_output_tokens", body.value("max_output_tokens", Json())},
                {"metadata", std::move(meta)},
                {"parallel_tool_calls", parallel_tool_calls},
                {"previous_response_id", previous_id ? Json(*previous_id) : Json()},
                {"reasoning", {{"effort", effort ? Json(*effort) : Json("medium")}, {"summary", nullptr}}},
                {"store", job.store},
                {"temperature",
                 body.contains("temperature") && body["temperature"].is_number() ? body["temperature"] : Json(1.0)},
                {"text", {{"format", {{"type", "text"}}}}},
                {"tool_choice",
                 body.contains("tool_choice") && !body["tool_choice"].is_null() ? body["tool_choice"] : Json("auto")},
                {"tools", std::move(tools)},
                {"top_p", body.contains("top_p") && body["top_p"].is_number() ? body["top_p"] : Json(1.0)},
                {"truncation", "disabled"}};
    return job;
}

} // namespace tllm::server
