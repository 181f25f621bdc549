// apply_patch: the function tool gpt-oss edits files with (functions.apply_patch, spec §E). The patch format is
// OpenAI's (gpt_oss/tools/apply_patch.md): an envelope "*** Begin Patch" ... "*** End Patch" around Add, Delete
// and Update (optionally Move) file operations, updates made of "@@"-introduced hunks matched against the file
// exactly, then ignoring trailing whitespace, then ignoring surrounding whitespace.
//
// The model is untrusted: every path stays inside the workspace (no absolute paths, no "..", no symlinks, no
// special files), and a patch applies completely or not at all.
#pragma once

#include "core/result.h"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tllm::tools {

// How loosely a hunk's lines had to be compared to find them in the file.
inline constexpr int kFuzzExact = 0;
inline constexpr int kFuzzIgnoreTrailingWhitespace = 1;    // lines compared after rstrip
inline constexpr int kFuzzIgnoreSurroundingWhitespace = 2; // lines compared after strip (indentation may differ)

// One run of removed and inserted lines inside a hunk, with no context line between them.
struct PatchChunk {
    size_t old_offset = 0; // index into the hunk's old_lines of the first removed line (or of the insertion point)
    std::vector<std::string> deleted_lines;
    std::vector<std::string> inserted_lines;
};

// The lines between one "@@" header and the next header: what must be in the file (old_lines, the context and
// removed lines in order) and what replaces parts of it (chunks).
struct PatchHunk {
    // The text after "@@ " when it is not blank: a line to find first (e.g. "def greet():"); the hunk's context
    // is searched after it.
    std::optional<std::string> anchor;
    std::vector<std::string> old_lines;
    std::vector<PatchChunk> chunks;
    bool end_of_file = false; // "*** End of File" followed: the context should match at the end of the file
    size_t line_number = 0;   // 1-based line of the hunk's first line in the patch text
};

enum class PatchOperationKind { kAdd, kDelete, kUpdate };

struct PatchOperation {
    PatchOperationKind kind = PatchOperationKind::kAdd;
    std::string path;                   // relative to the workspace, normalised ("a/./b" -> "a/b")
    std::optional<std::string> move_to; // Update only: the new path ("*** Move to:")
    std::string new_content;            // Add only: the file's whole text
    std::vector<PatchHunk> hunks;       // Update only
    size_t line_number = 0;             // 1-based line of the operation's header in the patch text
};

struct Patch {
    std::vector<PatchOperation> operations;
};

struct PatchSummary {
    struct Move {
        std::string from;
        std::string to;
    };
    std::vector<std::string> added;
    std::vector<std::string> updated; // updated in place
    std::vector<Move> moved;          // updated (or not) and renamed
    std::vector<std::string> deleted;
    int fuzz_level = kFuzzExact; // the loosest comparison any hunk needed
};

struct ApplyPatchOptions {
    size_t max_patch_bytes = size_t{16} << 20;
    size_t max_file_bytes = size_t{64} << 20;        // each file read or written
    size_t max_total_file_bytes = size_t{256} << 20; // all files read, together
    size_t max_operations = 256;
    // Called before each change to the file system with the step ("mkdir", "write", "backup", "rename",
    // "remove") and the path it concerns; an error makes that step fail, except kUnsupported at "backup", which
    // acts as a file system without hard links. Tests use it to fail a patch midway.
    std::function<Status(std::string_view step, const std::string& path)> before_filesystem_step;
};

// Parses a patch without looking at any file. Checks the syntax and each path (relative, no "..", no control
// characters) and that no file appears in two operations. Errors name the patch line ("patch line 7: ...").
Result<Patch> parse_patch(std::string_view text);

struct UpdatedText {
    std::string text;
    int fuzz_level = kFuzzExact;
};
// The text of a file after an Update's hunks. Lines are split on "\n"; a file whose every line ends in "\r\n"
// is matched without the "\r" and keeps its CRLF endings. A trailing newline stays as it was.
Result<UpdatedText> apply_hunks(std::string_view original, std::span<const PatchHunk> hunks);

// Applies `patch_text` to the files under `workspace`, all of it or (on any error) none of it.
Result<PatchSummary>
apply_patch(const std::filesystem::path& workspace, std::string_view patch_text, const ApplyPatchOptions& options = {});

// The patch inside a function call's arguments: the model sends {"patch": "..."}, {"input": "..."}, another
// object with one string field, a bare JSON string, or the patch text itself (returned unchanged).
std::string unwrap_patch_argument(std::string_view argument);

// What the model reads back from a call: "Done!" when the patch applied (as gpt-oss's chat.py), else
// "Error applying patch: <why>". Never throws.
std::string run_apply_patch_tool(const std::filesystem::path& workspace, std::string_view argument);

} // namespace tllm::tools
