#include "chat/message.h"

namespace tllm {

std::string_view role_name(Role role) {
    switch (role) {
    case Role::kSystem:
        return "system";
    case Role::kDeveloper:
        return "developer";
    case Role::kUser:
        return "user";
    case Role::kAssistant:
        return "assistant";
    case Role::kTool:
        return "tool";
    }
    return "unknown";
}

std::optional<Role> role_from_name(std::string_view name) {
    for (Role role : {Role::kSystem, Role::kDeveloper, Role::kUser, Role::kAssistant, Role::kTool}) {
        if (name == role_name(role)) {
            return role;
        }
    }
    return std::nullopt;
}

std::string_view reasoning_effort_name(ReasoningEffort effort) {
    switch (effort) {
    case ReasoningEffort::kLow:
        return "low";
    case ReasoningEffort::kMedium:
        return "medium";
    case ReasoningEffort::kHigh:
        return "high";
    }
    return "medium";
}

std::optional<ReasoningEffort> reasoning_effort_from_name(std::string_view name) {
    for (ReasoningEffort effort : {ReasoningEffort::kLow, ReasoningEffort::kMedium, ReasoningEffort::kHigh}) {
        if (name == reasoning_effort_name(effort)) {
            return effort;
        }
    }
    return std::nullopt;
}

DeveloperContent& DeveloperContent::with_function_tools(std::vector<ToolDescription> functions) {
    tools["functions"] = ToolNamespace{"functions", std::nullopt, std::move(functions)};
    return *this;
}

ToolNamespace browser_tool_namespace() {
    using Json = nlohmann::ordered_json;
    ToolNamespace ns;
    ns.name = "browser";
    ns.description = R"(Tool for browsing.
The `cursor` appears in brackets before each browsing display: `[{cursor}]`.
Cite information from the tool using the following format:
`【{cursor}†L{line_start}(-L{line_end})?】`, for example: `【6†L9-L11】` or `【8†L3】`.
Do not quote more than 10 words directly from the tool output.
sources=web (default: web))";
    ns.tools.push_back({"search", "Searches for information related to `query` and displays `topn` results.",
                        Json::parse(R"({"type": "object", "properties": {
                            "query": {"type": "string"},
                            "topn": {"type": "number", "default": 10},
                            "source": {"type": "string"}}, "required": ["query"]})")});
    ns.tools.push_back(
        {"open",
         "Opens the link `id` from the page indicated by `cursor` starting at line number `loc`, showing `num_lines` "
         "lines.\nValid link ids are displayed with the formatting: `【{id}†.*】`.\nIf `cursor` is not provided, the "
         "most recent page is implied.\nIf `id` is a string, it is treated as a fully qualified URL associated with "
         "`source`.\nIf `loc` is not provided, the viewport will be positioned at the beginning of the document or "
         "centered on the most relevant passage, if available.\nUse this function without `id` to scroll to a new "
         "location of an opened page.",
         Json::parse(R"({"type": "object", "properties": {
             "id": {"type": ["number", "string"], "default": -1},
             "cursor": {"type": "number", "default": -1},
             "loc": {"type": "number", "default": -1},
             "num_lines": {"type": "number", "default": -1},
             "view_source": {"type": "boolean", "default": false},
             "source": {"type": "string"}}})")});
    ns.tools.push_back({"find", "Finds exact matches of `pattern` in the current page, or the page given by `cursor`.",
                        Json::parse(R"({"type": "object", "properties": {
                            "pattern": {"type": "string"},
                            "cursor": {"type": "number", "default": -1}}, "required": ["pattern"]})")});
    return ns;
}

ToolNamespace python_tool_namespace() {
    ToolNamespace ns;
    ns.name = "python";
    ns.description =
        "Use this tool to execute Python code in your chain of thought. The code will not be shown to the user. This "
        "tool should be used for internal reasoning, but not for code that is intended to be visible to the user (e.g. "
        "when creating plots, tables, or files).\n\nWhen you send a message containing Python code to python, it will "
        "be executed in a stateful Jupyter notebook environment. python will respond with the output of the execution "
        "or time out after 120.0 seconds. The drive at '/mnt/data' can be used to save and persist user files. "
        "Internet "
        "access for this session is UNKNOWN. Depends on the cluster.";
    return ns;
}

} // namespace tllm
