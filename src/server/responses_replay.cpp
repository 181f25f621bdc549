#include "server/responses_replay.h"

#include "server/request_fields.h"

#include <fmt/format.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

bool is_web_search(const Json& item) { return item.value("type", "") == "web_search_call"; }

bool present(const Json& object, const char* key) { return object.contains(key) && !object[key].is_null(); }

Status string_field(const Json& object, const char* key, const std::string& where, bool required) {
    if (!present(object, key)) {
        return required ? bad_request(fmt::format("{}.{} must be a string", where, key)) : Status{};
    }
    return object[key].is_string() ? Status{} : bad_request(fmt::format("{}.{} must be a string", where, key));
}

std::string string_or(const Json& object, const char* key, std::string fallback) {
    return present(object, key) ? object[key].get<std::string>() : std::move(fallback);
}

// The text of a code_interpreter_call's `logs` outputs (images are not something the model read).
std::string logs_text(const Json& item) {
    std::string text;
    if (present(item, "outputs")) {
        for (const Json& output : item["outputs"]) {
            if (output.value("type", "") == "logs") {
                text += output["logs"].get<std::string>();
            }
        }
    }
    return text;
}

} // namespace

Json replay_fields(const Message& call, const std::string& output, bool web_search) {
    Json out = {{"recipient", call.recipient.value_or("")}, {"channel", call.channel.value_or("analysis")}};
    if (call.content_type) {
        out["content_type"] = *call.content_type;
    }
    if (web_search) {
        const auto* arguments = call.content.empty() ? nullptr : std::get_if<std::string>(&call.content[0]);
        out["arguments"] = arguments != nullptr ? *arguments : std::string();
        out["output"] = output;
    }
    return out;
}

Json written_text_fields(const std::string& written) { return {{"text", written}}; }

Result<std::optional<std::string>> written_text(const Json& item, const std::string& where) {
    if (!present(item, "harmony")) {
        return std::optional<std::string>();
    }
    if (!item["harmony"].is_object()) {
        return bad_request(where + ".harmony must be an object");
    }
    TLLM_RETURN_IF_ERROR(string_field(item["harmony"], "text", where + ".harmony", true));
    return std::optional<std::string>(item["harmony"]["text"].get<std::string>());
}

Status check_builtin_item(const Json& item, const std::string& where) {
    const bool web = is_web_search(item);
    TLLM_RETURN_IF_ERROR(string_field(item, "status", where, false));
    if (!web) {
        TLLM_RETURN_IF_ERROR(string_field(item, "code", where, false));
        if (present(item, "outputs")) {
            if (!item["outputs"].is_array()) {
                return bad_request(where + ".outputs must be an array");
            }
            for (size_t i = 0; i < item["outputs"].size(); ++i) {
                const Json& output = item["outputs"][i];
                const std::string output_where = fmt::format("{}.outputs[{}]", where, i);
                if (!output.is_object()) {
                    return bad_request(output_where + " must be an object");
                }
                if (output.value("type", "") == "logs") {
                    TLLM_RETURN_IF_ERROR(string_field(output, "logs", output_where, true));
                }
            }
        }
    }
    if (!present(item, "harmony")) {
        return {};
    }
    const Json& harmony = item["harmony"];
    const std::string harmony_where = where + ".harmony";
    if (!harmony.is_object()) {
        return bad_request(harmony_where + " must be an object");
    }
    TLLM_RETURN_IF_ERROR(string_field(harmony, "recipient", harmony_where, true));
    // The tools these items stand for: chat.py routes browser.* and python* by prefix, as the server does.
    const std::string recipient = harmony["recipient"];
    if (!recipient.starts_with(web ? "browser." : "python")) {
        return bad_request(fmt::format("{}.recipient \"{}\" is not a call to {}", harmony_where, recipient,
                                       web ? "browser.* (web search)" : "python* (code interpreter)"));
    }
    if (harmony.value("channel", Json()) != "analysis" && harmony.value("channel", Json()) != "commentary") {
        return bad_request(harmony_where + ".channel must be \"analysis\" or \"commentary\"");
    }
    TLLM_RETURN_IF_ERROR(string_field(harmony, "content_type", harmony_where, false));
    if (web) {
        TLLM_RETURN_IF_ERROR(string_field(harmony, "arguments", harmony_where, true));
        TLLM_RETURN_IF_ERROR(string_field(harmony, "output", harmony_where, true));
    }
    return {};
}

std::optional<BuiltinExchange> builtin_exchange(const Json& item) {
    const bool web = is_web_search(item);
    const bool has_harmony = present(item, "harmony");
    if (string_or(item, "status", "completed") != "completed" || (web && !has_harmony)) {
        return std::nullopt;
    }
    const Json harmony = has_harmony ? item["harmony"] : Json::object();
    Message call =
        Message::text(Role::kAssistant, web ? harmony["arguments"].get<std::string>() : string_or(item, "code", ""))
            .with_channel(string_or(harmony, "channel", "analysis"))
            .with_recipient(string_or(harmony, "recipient", "python"));
    if (present(harmony, "content_type")) {
        call.content_type = harmony["content_type"].get<std::string>();
    }
    // The answer as tools::Toolbox::answer makes it: from the tool called (python by its namespace), to the
    // assistant, on the call's channel.
    Message answer = Message::text(Role::kTool, web ? harmony["output"].get<std::string>() : logs_text(item))
                         .with_channel(*call.channel);
    answer.name = web ? *call.recipient : std::string("python");
    answer.recipient = "assistant";
    return BuiltinExchange{std::move(call), std::move(answer)};
}

} // namespace tllm::server
