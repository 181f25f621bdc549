#include "server/request_fields.h"

#include "chat/render.h"

#include <algorithm>
#include <fmt/format.h>

namespace tllm::server {

using Json = nlohmann::ordered_json;

Error bad_request(const std::string& message) { return Error(ErrorCode::kInvalidArgument, message); }

Result<double> number_field(const Json& body, const char* key, double low, double high, double fallback) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) {
        return fallback;
    }
    if (!it->is_number()) {
        return bad_request(fmt::format("{} must be a number", key));
    }
    const double value = it->get<double>();
    if (!(value >= low && value <= high)) {
        return bad_request(fmt::format("{} must be within [{}, {}], got {}", key, low, high, value));
    }
    return value;
}

Result<std::optional<int64_t>> integer_field(const Json& body, const char* key, int64_t low, int64_t high) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) {
        return std::optional<int64_t>();
    }
    if (!it->is_number_integer()) {
        return bad_request(fmt::format("{} must be an integer", key));
    }
    const int64_t value = it->get<int64_t>();
    if (value < low || value > high) {
        return bad_request(fmt::format("{} must be within [{}, {}], got {}", key, low, high, value));
    }
    return std::optional<int64_t>(value);
}

Result<bool> bool_field(const Json& body, const char* key, bool fallback) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) {
        return fallback;
    }
    if (!it->is_boolean()) {
        return bad_request(fmt::format("{} must be true or false", key));
    }
    return it->get<bool>();
}

Result<bool> reasoning_field(const Json& body, Json& chat_request) {
    auto reasoning = body.find("reasoning");
    if (reasoning == body.end() || reasoning->is_null()) {
        return false;
    }
    if (!reasoning->is_object()) {
        return bad_request("reasoning must be an object: {\"effort\": \"low\"|\"medium\"|\"high\", \"exclude\": bool}");
    }
    if (auto effort = reasoning->find("effort"); effort != reasoning->end() && !effort->is_null()) {
        chat_request["reasoning_effort"] = *effort;
    }
    return bool_field(*reasoning, "exclude", false);
}

Result<std::vector<std::string>> stop_field(const Json& body) {
    std::vector<std::string> out;
    auto stop = body.find("stop");
    if (stop == body.end() || stop->is_null()) {
        return out;
    }
    const Json list = stop->is_string() ? Json::array({*stop}) : *stop;
    if (!list.is_array() || list.size() > 4) {
        return bad_request("stop must be a string or an array of at most 4 strings");
    }
    for (const Json& text : list) {
        if (!text.is_string() || text.get<std::string>().empty()) {
            return bad_request("stop must hold non-empty strings");
        }
        out.push_back(text.get<std::string>());
    }
    return out;
}

Result<bool> include_usage_field(const Json& body) {
    auto options = body.find("stream_options");
    if (options == body.end() || options->is_null()) {
        return false;
    }
    if (!options->is_object()) {
        return bad_request("stream_options must be an object");
    }
    return bool_field(*options, "include_usage", false);
}

Result<ToolChoice>
tool_choice_field(const Json& body, const std::vector<std::string>& function_names, const Tokenizer& tokenizer) {
    ToolChoice choice;
    auto it = body.find("tool_choice");
    if (it == body.end() || it->is_null() || *it == "auto") {
        return choice;
    }
    if (*it == "none") {
        choice.declare_tools = false;
        return choice;
    }
    std::string name;
    if (it->is_object() && it->value("type", Json()) == "function") {
        const Json* named = it->contains("function") ? &(*it)["function"] : &*it;
        if (!named->is_object() || !named->contains("name") || !(*named)["name"].is_string()) {
            return bad_request("tool_choice names no function: {\"type\": \"function\", \"function\": {\"name\": "
                               "...}} (Chat Completions) or {\"type\": \"function\", \"name\": ...} (Responses)");
        }
        name = (*named)["name"].get<std::string>();
        if (std::find(function_names.begin(), function_names.end(), name) == function_names.end()) {
            return bad_request(fmt::format("tool_choice names the function \"{}\", which tools do not declare", name));
        }
    } else if (*it != "required") {
        return bad_request("tool_choice must be \"auto\", \"none\", \"required\" or a named function");
    }
    if (function_names.empty()) {
        return bad_request("tool_choice asks for a function call, but tools declare no function");
    }
    // The header of a call as gpt-oss writes it, up to the function's name (required) or to <|message|> (named).
    choice.forced_header = {kTokenChannel};
    TLLM_RETURN_IF_ERROR(tokenizer.append_ordinary(name.empty() ? std::string("commentary to=functions.")
                                                                : "commentary to=functions." + name + " ",
                                                   choice.forced_header));
    if (!name.empty()) {
        choice.forced_header.push_back(kTokenConstrain);
        TLLM_RETURN_IF_ERROR(tokenizer.append_ordinary("json", choice.forced_header));
        choice.forced_header.push_back(kTokenMessage);
    }
    return choice;
}

Result<int> choices_field(const Json& body, const ChatLimits& limits) {
    auto it = body.find("n");
    if (it == body.end() || it->is_null()) {
        return 1;
    }
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > limits.max_choices) {
        return bad_request(fmt::format("n must be an integer from 1 to {} (the choices one request may ask for "
                                       "here), got {}",
                                       limits.max_choices, it->dump()));
    }
    return static_cast<int>(it->get<int64_t>());
}

std::vector<BatchRequest> choice_requests(BatchRequest first, int n) {
    std::vector<BatchRequest> out;
    out.reserve(static_cast<size_t>(std::max(n, 1)));
    out.push_back(std::move(first));
    for (int i = 1; i < n; ++i) {
        BatchRequest choice = out[0];
        choice.sampling.seed += static_cast<uint64_t>(i);
        out.push_back(std::move(choice));
    }
    return out;
}

Status fill_generation(const Json& body,
                       std::initializer_list<const char*> max_keys,
                       const std::vector<TokenId>& prompt,
                       const ChatLimits& limits,
                       uint64_t default_seed,
                       BatchRequest& request) {
    const int64_t room = limits.context - static_cast<int64_t>(prompt.size());
    if (room <= 0) {
        return Error(ErrorCode::kContextOverflow,
                     fmt::format("the prompt is {} tokens, the context {}", prompt.size(), limits.context));
    }
    std::optional<int64_t> max_tokens;
    for (const char* key : max_keys) {
        TLLM_ASSIGN_OR_RETURN(std::optional<int64_t> value, integer_field(body, key, 1, limits.max_output_tokens));
        if (value) {
            max_tokens = value;
            break;
        }
    }
    if (max_tokens && *max_tokens > room) {
        return Error(ErrorCode::kContextOverflow,
                     fmt::format("{} prompt tokens and {} to generate exceed the context of {}", prompt.size(),
                                 *max_tokens, limits.context));
    }
    request.max_new_tokens = static_cast<int32_t>(max_tokens.value_or(std::min(room, limits.max_output_tokens)));
    TLLM_ASSIGN_OR_RETURN(double temperature, number_field(body, "temperature", 0.0, 2.0, 1.0));
    TLLM_ASSIGN_OR_RETURN(double top_p, number_field(body, "top_p", 0.0, 1.0, 1.0));
    if (top_p <= 0.0) {
        return bad_request("top_p must be above 0");
    }
    request.sampling.temperature = static_cast<float>(temperature);
    request.sampling.top_p = static_cast<float>(top_p);
    auto seed = body.find("seed");
    if (seed != body.end() && !seed->is_null()) {
        if (!seed->is_number_integer()) {
            return bad_request("seed must be an integer");
        }
        request.sampling.seed = static_cast<uint64_t>(seed->get<int64_t>());
    } else {
        request.sampling.seed = default_seed;
    }
    request.prompt.assign(prompt.begin(), prompt.end());
    request.stop_tokens.assign(std::begin(kHarmonyAssistantStopTokens), std::end(kHarmonyAssistantStopTokens));
    return {};
}

} // namespace tllm::server
