// parse_patch: the patch text to operations and hunks, following gpt_oss/tools/apply_patch.py's grammar. The
// reference parses while it matches hunks against the files; here parsing looks at no file, so a patch's syntax
// errors are reported the same whatever the workspace holds.
#include "tools/patch/apply_patch.h"
#include "tools/patch/patch_text.h"

#include <map>

namespace tllm::tools {
namespace patch_detail {
namespace {

// Control characters and bytes outside printable ASCII as \xNN, so an error message shows what the path holds.
std::string escape_for_message(std::string_view text) {
    std::string escaped;
    for (char c : text.substr(0, 300)) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            escaped += fmt::format("\\x{:02x}", byte);
        } else {
            escaped += c;
        }
    }
    return escaped;
}

} // namespace

Result<std::string> normalize_patch_path(std::string_view raw) {
    // Surrounding spaces are the model's formatting, not part of a name (the reference would keep them).
    const std::string_view path = trim(raw);
    if (path.empty()) {
        return make_error(ErrorCode::kInvalidArgument, "the path is empty");
    }
    for (char c : path) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            return make_error(ErrorCode::kInvalidArgument, "the path \"{}\" contains a control character",
                              escape_for_message(path));
        }
    }
    if (path.front() == '/') {
        return make_error(ErrorCode::kInvalidArgument,
                          "the path \"{}\" is absolute; use a path relative to the workspace", path);
    }
    if (path.front() == '~') {
        return make_error(ErrorCode::kInvalidArgument,
                          "the path \"{}\" starts with '~'; use a path relative to the workspace", path);
    }
    if (path.back() == '/') {
        return make_error(ErrorCode::kInvalidArgument, "the path \"{}\" ends with '/'; name a file", path);
    }
    std::string normalized;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) {
            slash = path.size();
        }
        const std::string_view component = path.substr(start, slash - start);
        start = slash + 1;
        if (component.empty() || component == ".") {
            continue;
        }
        if (component == "..") {
            return make_error(ErrorCode::kInvalidArgument,
                              "the path \"{}\" contains '..'; paths must stay inside the workspace", path);
        }
        if (!normalized.empty()) {
            normalized += '/';
        }
        normalized += component;
    }
    if (normalized.empty()) {
        return make_error(ErrorCode::kInvalidArgument, "the path \"{}\" names the workspace itself; name a file", path);
    }
    return normalized;
}

} // namespace patch_detail

namespace {

using patch_detail::trim;
using patch_detail::trim_right;

constexpr std::string_view kBeginPatch = "*** Begin Patch";
constexpr std::string_view kEndPatch = "*** End Patch";
constexpr std::string_view kEndOfFile = "*** End of File";
constexpr std::string_view kAddFile = "*** Add File:";
constexpr std::string_view kDeleteFile = "*** Delete File:";
constexpr std::string_view kUpdateFile = "*** Update File:";
constexpr std::string_view kMoveTo = "*** Move to:";

// Lines split on "\n" with one trailing "\r" dropped, so CRLF patches parse like LF ones (the reference's
// splitlines() does the same for them). A final newline does not start another line.
std::vector<std::string_view> split_patch_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t newline = text.find('\n', start);
        if (newline == std::string_view::npos) {
            newline = text.size();
        }
        std::string_view line = text.substr(start, newline - start);
        if (line.ends_with('\r')) {
            line.remove_suffix(1);
        }
        lines.push_back(line);
        start = newline + 1;
    }
    return lines;
}

// Markers count only at the start of a line: " *** End Patch" inside a hunk is a context line.
bool is_end_patch(std::string_view line) { return trim_right(line) == kEndPatch; }
bool is_end_of_file(std::string_view line) { return trim_right(line) == kEndOfFile; }
bool is_operation_header(std::string_view line) {
    return line.starts_with(kAddFile) || line.starts_with(kDeleteFile) || line.starts_with(kUpdateFile);
}
bool ends_section(std::string_view line) { return is_end_patch(line) || is_operation_header(line); }

std::string quote(std::string_view line) {
    return line.size() > 200 ? std::string(line.substr(0, 200)) + "..." : std::string(line);
}

class PatchParser {
  public:
    explicit PatchParser(std::string_view text) : lines_(split_patch_lines(text)) {}

    Result<Patch> parse() {
        size_t first = 0;
        while (first < lines_.size() && trim(lines_[first]).empty()) {
            ++first;
        }
        if (first == lines_.size()) {
            return make_error(ErrorCode::kInvalidArgument,
                              "the patch is empty; it must start with '*** Begin Patch' and end with '*** End Patch'");
        }
        if (trim(lines_[first]) != kBeginPatch) {
            return line_error(first,
                              fmt::format("a patch must start with '*** Begin Patch', got '{}'", quote(lines_[first])));
        }
        Patch patch;
        next_ = first + 1;
        while (true) {
            if (next_ >= lines_.size()) {
                return line_error(lines_.size() - 1, "the patch does not end with '*** End Patch'");
            }
            const std::string_view line = lines_[next_];
            if (is_end_patch(line)) {
                break;
            }
            if (trim(line).empty()) {
                ++next_; // a blank line between operations separates them and means nothing
                continue;
            }
            TLLM_ASSIGN_OR_RETURN(PatchOperation operation, parse_operation());
            patch.operations.push_back(std::move(operation));
        }
        // The reference stops at the first "*** End Patch" and ignores the rest; text after it is more likely
        // a second patch pasted by mistake than something to drop silently.
        for (size_t index = next_ + 1; index < lines_.size(); ++index) {
            if (!trim(lines_[index]).empty()) {
                return line_error(index, "text after '*** End Patch'");
            }
        }
        if (patch.operations.empty()) {
            return line_error(next_, "the patch has no file operations ('*** Add File:', '*** Delete File:' or "
                                     "'*** Update File:')");
        }
        TLLM_RETURN_IF_ERROR(check_each_file_used_once(patch));
        return patch;
    }

  private:
    Error line_error(size_t index, const std::string& message) const {
        return make_error(ErrorCode::kInvalidArgument, "patch line {}: {}", index + 1, message);
    }

    Result<std::string> header_path(std::string_view marker) const {
        const std::string_view line = lines_[next_];
        Result<std::string> path = patch_detail::normalize_patch_path(line.substr(marker.size()));
        if (!path.ok()) {
            return line_error(next_, fmt::format("{} {}", marker.substr(4), path.error().message()));
        }
        return path;
    }

    Result<PatchOperation> parse_operation() {
        const std::string_view line = lines_[next_];
        PatchOperation operation;
        operation.line_number = next_ + 1;
        if (line.starts_with(kAddFile)) {
            operation.kind = PatchOperationKind::kAdd;
            TLLM_ASSIGN_OR_RETURN(operation.path, header_path(kAddFile));
            ++next_;
            TLLM_RETURN_IF_ERROR(parse_added_lines(operation));
        } else if (line.starts_with(kDeleteFile)) {
            operation.kind = PatchOperationKind::kDelete;
            TLLM_ASSIGN_OR_RETURN(operation.path, header_path(kDeleteFile));
            ++next_;
        } else if (line.starts_with(kUpdateFile)) {
            operation.kind = PatchOperationKind::kUpdate;
            TLLM_ASSIGN_OR_RETURN(operation.path, header_path(kUpdateFile));
            ++next_;
            if (next_ < lines_.size() && lines_[next_].starts_with(kMoveTo)) {
                TLLM_ASSIGN_OR_RETURN(std::string move_to, header_path(kMoveTo));
                // The reference would write the file and then delete it; moving a file onto itself means
                // updating it in place.
                if (move_to != operation.path) {
                    operation.move_to = std::move(move_to);
                }
                ++next_;
            }
            while (next_ < lines_.size() && !ends_section(lines_[next_])) {
                TLLM_ASSIGN_OR_RETURN(PatchHunk hunk, parse_hunk(operation.hunks.empty()));
                operation.hunks.push_back(std::move(hunk));
            }
        } else {
            return line_error(next_, fmt::format("expected '*** Add File: ', '*** Delete File: ', '*** Update File: ' "
                                                 "or '*** End Patch', got '{}'",
                                                 quote(line)));
        }
        return operation;
    }

    Status parse_added_lines(PatchOperation& operation) {
        while (next_ < lines_.size() && !ends_section(lines_[next_])) {
            const std::string_view line = lines_[next_];
            if (!line.starts_with('+')) {
                return line_error(next_, fmt::format("every line of an added file starts with '+' ('+' alone for "
                                                     "an empty line), got '{}'",
                                                     quote(line)));
            }
            // Each '+' line is a line of the file, newline included. The reference joins them with "\n" and so
            // drops the last newline, which leaves a text file without one; nobody writing "+last line" means that.
            operation.new_content += line.substr(1);
            operation.new_content += '\n';
            ++next_;
        }
        return {};
    }

    Result<PatchHunk> parse_hunk(bool first_hunk) {
        PatchHunk hunk;
        hunk.line_number = next_ + 1;
        const std::string_view header = lines_[next_];
        const bool has_header = header.starts_with("@@");
        if (has_header) {
            const std::string_view rest = header.substr(2);
            if (!trim_right(rest).empty()) {
                if (rest.front() != ' ') {
                    return line_error(next_, fmt::format("a hunk starts with '@@' or '@@ <a line of the file>', "
                                                         "got '{}'",
                                                         quote(header)));
                }
                if (!trim(rest.substr(1)).empty()) {
                    hunk.anchor = std::string(rest.substr(1));
                }
            }
            ++next_;
        } else if (!first_hunk) {
            // Only the first hunk may omit its "@@" (as in the reference); anything else here follows an
            // "*** End of File".
            return line_error(next_, fmt::format("expected '@@' to start a hunk, got '{}'", quote(header)));
        }

        const size_t body_start = next_;
        std::vector<std::string> deleted;
        std::vector<std::string> inserted;
        auto close_chunk = [&] {
            if (!deleted.empty() || !inserted.empty()) {
                hunk.chunks.push_back(
                    {hunk.old_lines.size() - deleted.size(), std::move(deleted), std::move(inserted)});
                deleted.clear();
                inserted.clear();
            }
        };
        while (next_ < lines_.size()) {
            const std::string_view line = lines_[next_];
            if (line.starts_with("@@") || ends_section(line) || is_end_of_file(line)) {
                break;
            }
            if (line.starts_with("***")) {
                return line_error(next_, fmt::format("unexpected line in a hunk: '{}'", quote(line)));
            }
            // An empty line is an empty context line whose leading space got lost, as the reference reads it.
            const char kind = line.empty() ? ' ' : line.front();
            const std::string_view text = line.empty() ? line : line.substr(1);
            if (kind == '+') {
                inserted.emplace_back(text);
            } else if (kind == '-') {
                deleted.emplace_back(text);
                hunk.old_lines.emplace_back(text);
            } else if (kind == ' ') {
                close_chunk();
                hunk.old_lines.emplace_back(text);
            } else {
                return line_error(next_, fmt::format("a hunk line starts with ' ' (context), '-' (remove) or '+' "
                                                     "(add), got '{}'",
                                                     quote(line)));
            }
            ++next_;
        }
        close_chunk();
        if (next_ < lines_.size() && is_end_of_file(lines_[next_])) {
            hunk.end_of_file = true;
            ++next_;
        } else if (next_ == body_start) {
            return line_error(has_header ? body_start - 1 : body_start, "the hunk has no lines");
        }
        if (!has_header && next_ == body_start + 1 && hunk.end_of_file) {
            return line_error(body_start, "'*** End of File' without a hunk before it");
        }
        return hunk;
    }

    // The reference refuses a path in two operations; this also refuses a move onto a path another operation
    // uses and a path used as a file by one operation and as a directory by another, which it would apply in
    // an order-dependent way or fail halfway through.
    Status check_each_file_used_once(const Patch& patch) const {
        std::map<std::string, size_t> line_of_path;
        auto claim = [&](const std::string& path, size_t line_number) -> Status {
            auto [it, inserted] = line_of_path.emplace(path, line_number);
            if (!inserted) {
                return line_error(line_number - 1, fmt::format("{} is already used by the operation at patch line "
                                                               "{}; a file can appear in one operation only",
                                                               path, it->second));
            }
            return {};
        };
        for (const PatchOperation& operation : patch.operations) {
            TLLM_RETURN_IF_ERROR(claim(operation.path, operation.line_number));
            if (operation.move_to) {
                TLLM_RETURN_IF_ERROR(claim(*operation.move_to, operation.line_number));
            }
        }
        for (const auto& [path, line_number] : line_of_path) {
            for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
                auto directory = line_of_path.find(path.substr(0, slash));
                if (directory != line_of_path.end()) {
                    return line_error(line_number - 1, fmt::format("{} needs {} to be a directory, but the operation "
                                                                   "at patch line {} uses it as a file",
                                                                   path, directory->first, directory->second));
                }
            }
        }
        return {};
    }

    std::vector<std::string_view> lines_;
    size_t next_ = 0; // index of the next line to read
};

} // namespace

Result<Patch> parse_patch(std::string_view text) { return PatchParser(text).parse(); }

} // namespace tllm::tools
