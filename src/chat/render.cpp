#include "chat/render.h"

#include "chat/tools_text.h"

#include <fmt/format.h>

namespace tllm {
namespace {

constexpr std::string_view kConstrain = "<|constrain|>";

bool has_function_tools(std::span<const Message> messages) {
    for (const Message& message : messages) {
        for (const Content& content : message.content) {
            if (const auto* developer = std::get_if<DeveloperContent>(&content)) {
                auto it = developer->tools.find("functions");
                if (it != developer->tools.end() && !it->second.tools.empty()) {
                    return true;
                }
            }
        }
    }
    return false;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    return fmt::format("{}", fmt::join(parts, separator));
}

} // namespace

Status HarmonyRenderer::append_text(std::string_view text, std::vector<TokenId>& out) const {
    return tokenizer_->append_ordinary(text, out);
}

std::string HarmonyRenderer::system_text(const SystemContent& system, bool conversation_has_function_tools) {
    std::vector<std::string> sections;
    std::vector<std::string> top;
    if (system.model_identity) {
        top.push_back(*system.model_identity);
    }
    if (system.knowledge_cutoff) {
        top.push_back(fmt::format("Knowledge cutoff: {}", *system.knowledge_cutoff));
    }
    if (system.conversation_start_date) {
        top.push_back(fmt::format("Current date: {}", *system.conversation_start_date));
    }
    if (!top.empty()) {
        sections.push_back(join(top, "\n"));
    }
    if (system.reasoning_effort) {
        sections.push_back(fmt::format("Reasoning: {}", reasoning_effort_name(*system.reasoning_effort)));
    }
    if (!system.tools.empty()) {
        sections.push_back(render_tools_section(system.tools));
    }
    if (!system.valid_channels.empty()) {
        std::string channels = fmt::format("# Valid channels: {}.", join(system.valid_channels, ", "));
        if (system.channel_required) {
            channels += " Channel must be included for every message.";
        }
        if (conversation_has_function_tools) {
            channels += "\nCalls to these tools must go to the commentary channel: 'functions'.";
        }
        sections.push_back(std::move(channels));
    }
    return join(sections, "\n\n");
}

std::string HarmonyRenderer::developer_text(const DeveloperContent& developer) {
    std::vector<std::string> sections;
    if (developer.instructions) {
        sections.push_back("# Instructions");
        sections.push_back(*developer.instructions);
    }
    if (!developer.tools.empty()) {
        sections.push_back(render_tools_section(developer.tools));
    }
    return join(sections, "\n\n");
}

Status HarmonyRenderer::render_message(const Message& message,
                                       bool conversation_has_function_tools,
                                       std::vector<TokenId>& out) const {
    out.push_back(kTokenStart);
    if (message.role == Role::kTool) {
        if (!message.name || message.name->empty()) {
            return make_error(ErrorCode::kInvalidArgument, "a tool message needs the tool's name as its author");
        }
        TLLM_RETURN_IF_ERROR(append_text(*message.name, out));
    } else {
        TLLM_RETURN_IF_ERROR(append_text(role_name(message.role), out));
        if (message.name) {
            TLLM_RETURN_IF_ERROR(append_text(fmt::format(":{}", *message.name), out));
        }
    }
    if (message.recipient && *message.recipient != "all") {
        TLLM_RETURN_IF_ERROR(append_text(fmt::format(" to={}", *message.recipient), out));
    }
    if (message.channel) {
        out.push_back(kTokenChannel);
        TLLM_RETURN_IF_ERROR(append_text(*message.channel, out));
    }
    if (message.content_type) {
        std::string_view type = *message.content_type;
        if (type.starts_with(kConstrain)) {
            TLLM_RETURN_IF_ERROR(append_text(" ", out));
            out.push_back(kTokenConstrain);
            if (type.size() > kConstrain.size()) {
                TLLM_RETURN_IF_ERROR(append_text(type.substr(kConstrain.size()), out));
            }
        } else {
            TLLM_RETURN_IF_ERROR(append_text(fmt::format(" {}", type), out));
        }
    }
    out.push_back(kTokenMessage);
    for (const Content& content : message.content) {
        if (const auto* text = std::get_if<std::string>(&content)) {
            TLLM_RETURN_IF_ERROR(append_text(*text, out));
        } else if (const auto* system = std::get_if<SystemContent>(&content)) {
            if (message.role != Role::kSystem) {
                return make_error(ErrorCode::kInvalidArgument, "system content in a {} message",
                                  role_name(message.role));
            }
            TLLM_RETURN_IF_ERROR(append_text(system_text(*system, conversation_has_function_tools), out));
        } else if (const auto* developer = std::get_if<DeveloperContent>(&content)) {
            if (message.role != Role::kDeveloper) {
                return make_error(ErrorCode::kInvalidArgument, "developer content in a {} message",
                                  role_name(message.role));
            }
            TLLM_RETURN_IF_ERROR(append_text(developer_text(*developer), out));
        }
    }
    out.push_back(message.role == Role::kAssistant && message.recipient ? kTokenCall : kTokenEnd);
    return {};
}

Result<std::vector<TokenId>> HarmonyRenderer::render_conversation(std::span<const Message> messages,
                                                                  const RenderConfig& config) const {
    const bool function_tools = has_function_tools(messages);
    bool last_assistant_is_final = false;
    for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
        if (it->role == Role::kAssistant) {
            last_assistant_is_final = it->channel == "final";
            break;
        }
    }
    size_t first_final = messages.size();
    for (size_t i = 0; i < messages.size(); ++i) {
        if (messages[i].channel == "final") {
            first_final = i;
            break;
        }
    }
    const bool drop = config.auto_drop_analysis && last_assistant_is_final;
    std::vector<TokenId> out;
    for (size_t i = 0; i < messages.size(); ++i) {
        if (drop && i < first_final && messages[i].channel == "analysis") {
            continue;
        }
        Status status = render_message(messages[i], function_tools, out);
        if (!status.ok()) {
            return status.error().with_context(fmt::format("message {}", i));
        }
    }
    return out;
}

Result<std::vector<TokenId>> HarmonyRenderer::render_for_completion(std::span<const Message> messages,
                                                                    Role next_role,
                                                                    const RenderConfig& config) const {
    TLLM_ASSIGN_OR_RETURN(std::vector<TokenId> out, render_conversation(messages, config));
    out.push_back(kTokenStart);
    TLLM_RETURN_IF_ERROR(append_text(role_name(next_role), out));
    return out;
}

Result<std::vector<TokenId>> HarmonyRenderer::render_for_training(std::span<const Message> messages,
                                                                  const RenderConfig& config) const {
    TLLM_ASSIGN_OR_RETURN(std::vector<TokenId> out, render_conversation(messages, config));
    if (!messages.empty() && messages.back().role == Role::kAssistant && messages.back().channel == "final" &&
        !out.empty()) {
        out.back() = kTokenReturn;
    }
    return out;
}

} // namespace tllm
