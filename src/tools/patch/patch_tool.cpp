// The function call as the chat loop sees it: arguments in, the text the model reads back out.
#include "core/log.h"
#include "tools/patch/apply_patch.h"
#include "tools/patch/patch_text.h"

#include <nlohmann/json.hpp>

namespace tllm::tools {
namespace {

using nlohmann::json;

// Models often put raw newlines and tabs inside JSON strings, which strict JSON forbids; escaping control
// characters inside string literals turns such arguments into the JSON they meant.
std::string escape_raw_control_characters(std::string_view text) {
    std::string escaped;
    escaped.reserve(text.size());
    bool in_string = false;
    bool after_backslash = false;
    for (char c : text) {
        if (in_string) {
            if (after_backslash) {
                after_backslash = false;
            } else if (c == '\\') {
                after_backslash = true;
            } else if (c == '"') {
                in_string = false;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                escaped += c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : fmt::format("\\u{:04x}", c);
                continue;
            }
        } else if (c == '"') {
            in_string = true;
        }
        escaped += c;
    }
    return escaped;
}

std::optional<json> parse_json_leniently(std::string_view text) {
    json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
        parsed = json::parse(escape_raw_control_characters(text), nullptr, /*allow_exceptions=*/false);
    }
    if (parsed.is_discarded()) {
        return std::nullopt;
    }
    return parsed;
}

std::optional<std::string> patch_in_object(const json& object) {
    for (const char* key : {"patch", "input"}) {
        auto field = object.find(key);
        if (field != object.end() && field->is_string()) {
            return field->get<std::string>();
        }
    }
    // Any other name: the field holding a patch, else the only string field (chat.py takes the only item).
    std::optional<std::string> only_string;
    size_t strings = 0;
    for (const auto& [key, value] : object.items()) {
        if (!value.is_string()) {
            continue;
        }
        const std::string& text = value.get_ref<const std::string&>();
        if (text.find("*** Begin Patch") != std::string::npos) {
            return text;
        }
        only_string = text;
        ++strings;
    }
    if (strings == 1) {
        return only_string;
    }
    return std::nullopt;
}

} // namespace

std::string unwrap_patch_argument(std::string_view argument) {
    const std::string_view trimmed = patch_detail::trim(argument);
    if (trimmed.empty() || (trimmed.front() != '{' && trimmed.front() != '"')) {
        return std::string(argument);
    }
    std::optional<json> parsed = parse_json_leniently(trimmed);
    if (!parsed) {
        return std::string(argument);
    }
    if (parsed->is_string()) {
        return parsed->get<std::string>();
    }
    if (parsed->is_object()) {
        if (std::optional<std::string> patch = patch_in_object(*parsed)) {
            return *patch;
        }
    }
    return std::string(argument);
}

std::string run_apply_patch_tool(const std::filesystem::path& workspace, std::string_view argument) {
    try {
        const std::string patch = unwrap_patch_argument(argument);
        if (patch_detail::trim(patch).starts_with('{')) {
            return "Error applying patch: the arguments are JSON without a patch in them; send "
                   "{\"patch\": \"*** Begin Patch\\n...\\n*** End Patch\\n\"}";
        }
        Result<PatchSummary> summary = apply_patch(workspace, patch);
        if (!summary.ok()) {
            TLLM_LOG_INFO("apply_patch failed: {}", summary.error().message());
            return "Error applying patch: " + summary.error().message();
        }
        TLLM_LOG_INFO("apply_patch: {} added, {} updated, {} moved, {} deleted{}", summary->added.size(),
                      summary->updated.size(), summary->moved.size(), summary->deleted.size(),
                      summary->fuzz_level == kFuzzExact ? "" : fmt::format(" (fuzz level {})", summary->fuzz_level));
        return "Done!"; // chat.py's answer, word for word
    } catch (const std::exception& error) {
        // Out of memory, mostly; the model must still get an answer.
        return fmt::format("Error applying patch: {}", error.what());
    }
}

} // namespace tllm::tools
