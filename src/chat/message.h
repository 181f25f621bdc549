// Harmony's data model: roles, system/developer contents, tool namespaces and messages, with the
// library's defaults (openai/harmony src/chat.rs, v0.0.8).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tllm {

enum class Role { kSystem, kDeveloper, kUser, kAssistant, kTool };

std::string_view role_name(Role role); // "system", "developer", "user", "assistant", "tool"
std::optional<Role> role_from_name(std::string_view name);

enum class ReasoningEffort { kLow, kMedium, kHigh };
std::string_view reasoning_effort_name(ReasoningEffort effort); // "low", "medium", "high"
std::optional<ReasoningEffort> reasoning_effort_from_name(std::string_view name);

// A function tool. Parameters are a JSON schema; ordered_json keeps the property order, which the
// TypeScript-like rendering follows.
struct ToolDescription {
    std::string name;
    std::string description;
    std::optional<nlohmann::ordered_json> parameters;
};

struct ToolNamespace {
    std::string name;
    std::optional<std::string> description;
    std::vector<ToolDescription> tools;
};

// Namespaces render in name order (harmony keeps them in a BTreeMap).
using ToolNamespaces = std::map<std::string, ToolNamespace>;

// The built-in tools, with the texts harmony's ToolNamespaceConfig::browser()/python() use.
ToolNamespace browser_tool_namespace();
ToolNamespace python_tool_namespace();

inline constexpr std::string_view kDefaultModelIdentity = "You are ChatGPT, a large language model trained by OpenAI.";

struct SystemContent {
    std::optional<std::string> model_identity = std::string(kDefaultModelIdentity);
    std::optional<ReasoningEffort> reasoning_effort = ReasoningEffort::kMedium;
    std::optional<std::string> knowledge_cutoff = "2024-06";
    std::optional<std::string> conversation_start_date; // "YYYY-MM-DD"
    std::vector<std::string> valid_channels = {"analysis", "commentary", "final"};
    bool channel_required = true;
    ToolNamespaces tools; // built-in tools (browser, python)
};

struct DeveloperContent {
    std::optional<std::string> instructions;
    ToolNamespaces tools; // function tools live in the "functions" namespace
    // Sets tools["functions"] (no namespace description), as harmony's with_function_tools does.
    DeveloperContent& with_function_tools(std::vector<ToolDescription> functions);
};

using Content = std::variant<std::string, SystemContent, DeveloperContent>;

struct Message {
    Role role = Role::kUser;
    std::optional<std::string> name; // author name; required for Role::kTool (e.g. "functions.get_weather")
    std::optional<std::string> recipient;
    std::optional<std::string> channel;
    std::optional<std::string> content_type; // e.g. "<|constrain|>json", "code"
    std::vector<Content> content;

    static Message text(Role role, std::string text) {
        Message message;
        message.role = role;
        message.content.emplace_back(std::move(text));
        return message;
    }
    Message& with_channel(std::string value) {
        channel = std::move(value);
        return *this;
    }
    Message& with_recipient(std::string value) {
        recipient = std::move(value);
        return *this;
    }
    Message& with_content_type(std::string value) {
        content_type = std::move(value);
        return *this;
    }
};

} // namespace tllm
