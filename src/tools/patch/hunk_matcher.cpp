// apply_hunks: where each hunk of an Update goes in the file and what the file becomes, following
// gpt_oss/tools/apply_patch.py (_parse_update_file, find_context, _get_updated_file, _match_indentation).
#include "core/check.h"
#include "tools/patch/apply_patch.h"
#include "tools/patch/patch_text.h"

#include <algorithm>
#include <array>

namespace tllm::tools {
namespace {

using patch_detail::is_space;
using patch_detail::trim;
using patch_detail::trim_right;

// The file as lines. A file whose every line break is "\r\n" is split without the "\r"s and joined with them
// again: the reference reads in text mode and so writes such a file back with "\n", which turns a one-line
// edit into a whole-file diff.
struct FileLines {
    std::vector<std::string_view> lines;
    bool crlf = false;
};

FileLines split_file(std::string_view text) {
    FileLines file;
    size_t start = 0;
    while (true) {
        const size_t newline = text.find('\n', start);
        if (newline == std::string_view::npos) {
            file.lines.push_back(text.substr(start));
            break;
        }
        file.lines.push_back(text.substr(start, newline - start));
        start = newline + 1;
    }
    // Every line but the last one was followed by "\n".
    file.crlf = file.lines.size() > 1 && std::all_of(file.lines.begin(), file.lines.end() - 1,
                                                     [](std::string_view line) { return line.ends_with('\r'); });
    if (file.crlf) {
        for (size_t index = 0; index + 1 < file.lines.size(); ++index) {
            file.lines[index].remove_suffix(1);
        }
    }
    return file;
}

// The three ways lines are compared, loosest last: exactly, without trailing whitespace, without surrounding
// whitespace. views[level][i] is line i as that level sees it.
constexpr int kLevels = 3;

std::string_view normalize(std::string_view line, int level) {
    return level == kFuzzExact ? line : level == kFuzzIgnoreTrailingWhitespace ? trim_right(line) : trim(line);
}

struct NormalizedLines {
    std::array<std::vector<std::string_view>, kLevels> views;
    template <typename Lines> explicit NormalizedLines(const Lines& lines) {
        for (int level = 0; level < kLevels; ++level) {
            views[level].reserve(lines.size());
            for (const auto& line : lines) {
                views[level].push_back(normalize(line, level));
            }
        }
    }
};

struct Match {
    size_t position = 0;
    int fuzz_level = kFuzzExact;
};

// The first position at or after `start` where `context` is found, trying every position exactly before any
// loosely (the reference's find_context_core). An empty context matches at `start`.
std::optional<Match> find_context(const NormalizedLines& file, const NormalizedLines& context, size_t start) {
    const size_t file_size = file.views[0].size();
    const size_t context_size = context.views[0].size();
    if (context_size == 0) {
        return Match{start, kFuzzExact};
    }
    if (context_size > file_size) {
        return std::nullopt;
    }
    for (int level = 0; level < kLevels; ++level) {
        const std::vector<std::string_view>& lines = file.views[level];
        const std::vector<std::string_view>& wanted = context.views[level];
        for (size_t position = start; position + context_size <= file_size; ++position) {
            if (std::equal(wanted.begin(), wanted.end(), lines.begin() + static_cast<std::ptrdiff_t>(position))) {
                return Match{position, level};
            }
        }
    }
    return std::nullopt;
}

// Moves `index` past the hunk's "@@ <anchor>" line, as the reference does: the exact line first, then the line
// ignoring surrounding whitespace; a search is skipped when the anchor was already passed (a second hunk in the
// same function must not jump to a later function of the same name), and an anchor found nowhere is ignored.
void skip_past_anchor(const NormalizedLines& file, const std::string& anchor, size_t& index, int& fuzz_level) {
    const std::vector<std::string_view>& exact = file.views[kFuzzExact];
    const std::vector<std::string_view>& stripped = file.views[kFuzzIgnoreSurroundingWhitespace];
    const auto before = [&](const std::vector<std::string_view>& lines) {
        return std::span<const std::string_view>(lines.data(), index);
    };
    const auto contains = [](std::span<const std::string_view> lines, std::string_view wanted) {
        return std::find(lines.begin(), lines.end(), wanted) != lines.end();
    };
    if (!contains(before(exact), anchor)) {
        for (size_t position = index; position < exact.size(); ++position) {
            if (exact[position] == anchor) {
                index = position + 1;
                return;
            }
        }
    }
    const std::string_view stripped_anchor = trim(anchor);
    if (!contains(before(stripped), stripped_anchor)) {
        for (size_t position = index; position < stripped.size(); ++position) {
            if (stripped[position] == stripped_anchor) {
                index = position + 1;
                fuzz_level = std::max(fuzz_level, kFuzzIgnoreSurroundingWhitespace);
                return;
            }
        }
    }
}

std::string_view indentation_of(std::string_view line) {
    return line.substr(0, line.size() - patch_detail::trim_left(line).size());
}

// Whether `line` is `base` followed by `rest`.
bool is_concatenation(std::string_view line, std::string_view base, std::string_view rest) {
    return line.size() == base.size() + rest.size() && line.starts_with(base) && line.substr(base.size()) == rest;
}

// When a hunk matched only ignoring surrounding whitespace, its inserted lines carry the patch's indentation,
// not the file's. Where every differing line differs by the same change of base indentation, swap the patch's
// base for the file's in the inserted lines (strings, not columns, so tabs survive); otherwise insert them as
// written. The reference (_match_indentation) looks only at a chunk's removed lines, so it never re-indents a
// pure insertion; the hunk's context lines are evidence of the shift as well.
std::vector<std::string> reindent(std::span<const std::string_view> file_lines,
                                  const PatchHunk& hunk,
                                  const std::vector<std::string>& inserted) {
    std::optional<std::pair<std::string_view, std::string_view>> bases; // (file base, patch base)
    for (size_t index = 0; index < hunk.old_lines.size(); ++index) {
        const std::string_view file_line = file_lines[index];
        const std::string_view patch_line = hunk.old_lines[index];
        if (file_line == patch_line || trim(patch_line).empty()) {
            continue; // a blank line carries no indentation
        }
        if (!bases) {
            bases.emplace(indentation_of(file_line), indentation_of(patch_line));
        }
        const auto& [file_base, patch_base] = *bases;
        if (!patch_line.starts_with(patch_base) ||
            !is_concatenation(file_line, file_base, patch_line.substr(patch_base.size()))) {
            return inserted;
        }
    }
    if (!bases) {
        return inserted;
    }
    const auto& [file_base, patch_base] = *bases;
    std::vector<std::string> reindented;
    reindented.reserve(inserted.size());
    for (const std::string& line : inserted) {
        if (trim(line).empty()) {
            reindented.push_back(line);
        } else if (std::string_view(line).starts_with(patch_base)) {
            reindented.push_back(std::string(file_base) + line.substr(patch_base.size()));
        } else {
            return inserted;
        }
    }
    return reindented;
}

struct Replacement {
    size_t position = 0; // first file line replaced
    size_t deleted = 0;  // how many file lines it replaces
    std::vector<std::string> inserted;
};

} // namespace

Result<UpdatedText> apply_hunks(std::string_view original, std::span<const PatchHunk> hunks) {
    const FileLines file = split_file(original);
    const NormalizedLines normalized(file.lines);
    const size_t file_size = file.lines.size();
    // The last line is empty when the file ends with a newline (or is empty); "the end of the file" is just before
    // it, so an end-of-file insertion lands before the final newline, not after it.
    const size_t end_of_text = file.lines.back().empty() ? file_size - 1 : file_size;

    UpdatedText updated;
    std::vector<Replacement> replacements;
    size_t index = 0; // file lines before it are behind the hunks matched so far
    for (const PatchHunk& hunk : hunks) {
        if (hunk.anchor) {
            skip_past_anchor(normalized, *hunk.anchor, index, updated.fuzz_level);
        }
        const NormalizedLines context(hunk.old_lines);
        std::optional<Match> match;
        if (hunk.end_of_file) {
            // At the end first; like the reference, anywhere after `index` when the context is not there.
            const size_t at_end = end_of_text >= hunk.old_lines.size() ? end_of_text - hunk.old_lines.size() : 0;
            match = find_context(normalized, context, std::max(index, at_end));
        }
        if (!match) {
            match = find_context(normalized, context, index);
        }
        if (!match) {
            return make_error(ErrorCode::kInvalidArgument,
                              "the hunk at patch line {} does not match the file (searched from line {}{}); these "
                              "lines were not found:\n{}",
                              hunk.line_number, index + 1, hunk.end_of_file ? ", at the end of the file" : "",
                              patch_detail::quote_lines(hunk.old_lines));
        }
        updated.fuzz_level = std::max(updated.fuzz_level, match->fuzz_level);
        const std::span<const std::string_view> matched(file.lines.data() + match->position, hunk.old_lines.size());
        for (const PatchChunk& chunk : hunk.chunks) {
            Replacement replacement;
            replacement.position = match->position + chunk.old_offset;
            replacement.deleted = chunk.deleted_lines.size();
            replacement.inserted = match->fuzz_level == kFuzzIgnoreSurroundingWhitespace
                                       ? reindent(matched, hunk, chunk.inserted_lines)
                                       : chunk.inserted_lines;
            TLLM_CHECK(replacements.empty() ||
                       replacement.position >= replacements.back().position + replacements.back().deleted);
            TLLM_CHECK(replacement.position + replacement.deleted <= file_size);
            replacements.push_back(std::move(replacement));
        }
        index = match->position + hunk.old_lines.size();
    }

    std::vector<std::string_view> lines;
    lines.reserve(file_size);
    size_t next = 0;
    for (const Replacement& replacement : replacements) {
        lines.insert(lines.end(), file.lines.begin() + static_cast<std::ptrdiff_t>(next),
                     file.lines.begin() + static_cast<std::ptrdiff_t>(replacement.position));
        lines.insert(lines.end(), replacement.inserted.begin(), replacement.inserted.end());
        next = replacement.position + replacement.deleted;
    }
    lines.insert(lines.end(), file.lines.begin() + static_cast<std::ptrdiff_t>(next), file.lines.end());

    const std::string_view separator = file.crlf ? "\r\n" : "\n";
    for (size_t line = 0; line < lines.size(); ++line) {
        if (line > 0) {
            updated.text += separator;
        }
        updated.text += lines[line];
    }
    return updated;
}

} // namespace tllm::tools
