// Text helpers shared by the patch parser and the hunk matcher (internal to tllm_tool_patch).
#pragma once

#include "core/result.h"

#include <string>
#include <string_view>

namespace tllm::tools::patch_detail {

// ASCII whitespace, as the reference's str.strip() sees it in source files (we do not strip Unicode spaces).
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

inline std::string_view trim_right(std::string_view text) {
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

inline std::string_view trim_left(std::string_view text) {
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    return text;
}

inline std::string_view trim(std::string_view text) { return trim_left(trim_right(text)); }

// A path as the model wrote it, checked and normalised: relative, inside the workspace by construction (no ".."
// component), no NUL or control characters, "." and empty components dropped. Errors say what is wrong.
Result<std::string> normalize_patch_path(std::string_view raw);

// At most `max_lines` lines of `lines`, each cut to a readable length and marked with "  |", one per line.
template <typename Lines> std::string quote_lines(const Lines& lines, size_t max_lines = 12) {
    std::string quoted;
    size_t count = 0;
    for (const auto& line : lines) {
        if (!quoted.empty()) {
            quoted += '\n';
        }
        if (count == max_lines) {
            quoted += "  ...";
            break;
        }
        std::string_view view(line);
        quoted += "  |";
        quoted += view.substr(0, 200);
        quoted += view.size() > 200 ? "..." : "";
        ++count;
    }
    return quoted;
}

} // namespace tllm::tools::patch_detail
