// libFuzzer target: apply_patch on untrusted text. parse_patch must never crash and every path it accepts must
// stay relative and free of ".."; the hunks of any parsed update are matched against a fixed text; and the
// patch is applied to a scratch workspace that holds a symlink to a directory beside it, a symlink to a file
// there and a FIFO. Nothing beside the workspace may change, and a patch that fails must leave the workspace
// exactly as it was.
#include "../tests/tools/patch/patch_test_files.h"
#include "core/check.h"
#include "tools/patch/apply_patch.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>

namespace {

namespace fs = std::filesystem;
using tllm::tools::Patch;
using tllm::tools::PatchChunk;
using tllm::tools::PatchHunk;
using tllm::tools::PatchOperation;

using tllm::tools::testing::read_file;
using tllm::tools::testing::snapshot;
using tllm::tools::testing::write_file;

// A directory under $TMPDIR for the whole run: "workspace" (rebuilt for every input) and "outside" beside it.
class Scratch {
  public:
    Scratch() {
        std::string pattern = (fs::temp_directory_path() / "apply-patch-fuzz-XXXXXX").string();
        TLLM_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp failed");
        base_ = pattern;
        fs::create_directories(outside());
        write_file(outside() / "secret.txt", "secret\n");
        outside_before_ = snapshot(outside());
    }
    ~Scratch() {
        std::error_code error;
        fs::remove_all(base_, error);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

    fs::path workspace() const { return base_ / "workspace"; }
    fs::path outside() const { return base_ / "outside"; }

    void reset_workspace() const {
        fs::remove_all(workspace()); // does not follow the symlinks inside
        fs::create_directories(workspace() / "dir");
        write_file(workspace() / "a.txt", "alpha\nbeta\n    gamma\n\tdelta\nbeta\n");
        write_file(workspace() / "dir" / "b.txt", "one\r\ntwo\r\nthree");
        fs::create_directory_symlink(outside(), workspace() / "link");
        fs::create_symlink(outside() / "secret.txt", workspace() / "secret.txt");
        TLLM_CHECK(::mkfifo((workspace() / "pipe").c_str(), 0644) == 0, "mkfifo failed");
    }

    void check_outside_untouched() const {
        TLLM_CHECK(snapshot(outside()) == outside_before_, "the patch changed a file outside the workspace");
    }

  private:
    fs::path base_;
    std::map<std::string, std::string> outside_before_;
};

// ".tllm-patch-<16 hex digits>.tmp" or ".orig": a transaction's temporary file or backup.
bool is_transaction_file(const std::string& name) {
    const std::string prefix = ".tllm-patch-";
    if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + 17) {
        return false;
    }
    const std::string digits = name.substr(prefix.size(), 16);
    const std::string suffix = name.substr(prefix.size() + 16);
    return digits.find_first_not_of("0123456789abcdef") == std::string::npos && (suffix == ".tmp" || suffix == ".orig");
}

void check_path(const std::string& path) {
    TLLM_CHECK(!path.empty() && path.front() != '/' && path.front() != '~', "accepted path {}", path);
    const std::string wrapped = "/" + path + "/";
    TLLM_CHECK(wrapped.find("/../") == std::string::npos && wrapped.find("/./") == std::string::npos &&
                   wrapped.find("//") == std::string::npos,
               "accepted unnormalised path {}", path);
    for (char c : path) {
        TLLM_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "accepted a control character in {}", path);
    }
}

void check_parsed(const Patch& patch) {
    TLLM_CHECK(!patch.operations.empty());
    for (const PatchOperation& operation : patch.operations) {
        check_path(operation.path);
        if (operation.move_to) {
            check_path(*operation.move_to);
            TLLM_CHECK(*operation.move_to != operation.path);
        }
        for (const PatchHunk& hunk : operation.hunks) {
            // Each chunk's removed lines are the hunk's old lines at its offset, in order.
            size_t end_of_previous = 0;
            for (const PatchChunk& chunk : hunk.chunks) {
                TLLM_CHECK(chunk.old_offset >= end_of_previous);
                TLLM_CHECK(chunk.old_offset + chunk.deleted_lines.size() <= hunk.old_lines.size());
                for (size_t line = 0; line < chunk.deleted_lines.size(); ++line) {
                    TLLM_CHECK(hunk.old_lines[chunk.old_offset + line] == chunk.deleted_lines[line]);
                }
                end_of_previous = chunk.old_offset + chunk.deleted_lines.size();
            }
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    tllm::Result<Patch> parsed = tllm::tools::parse_patch(text);
    if (!parsed.ok()) {
        return 0; // apply_patch would stop at the same error
    }
    check_parsed(*parsed);
    for (const PatchOperation& operation : parsed->operations) {
        (void)tllm::tools::apply_hunks("alpha\n  beta\r\n\tgamma \n\nbeta\n", operation.hunks);
    }

    static const Scratch scratch;
    scratch.reset_workspace();
    const auto before = snapshot(scratch.workspace());
    tllm::tools::ApplyPatchOptions options;
    options.max_file_bytes = 1 << 20;
    tllm::Result<tllm::tools::PatchSummary> summary = tllm::tools::apply_patch(scratch.workspace(), text, options);
    scratch.check_outside_untouched();
    if (!summary.ok()) {
        TLLM_CHECK(snapshot(scratch.workspace()) == before, "a failed patch changed the workspace: {}",
                   summary.error().message());
    } else {
        // No temporary file or backup may remain (unless the patch itself made a file of that name).
        std::set<std::string> named;
        for (const PatchOperation& operation : parsed->operations) {
            named.insert(operation.path);
            named.insert(operation.move_to.value_or(""));
        }
        for (const auto& [path, description] : snapshot(scratch.workspace())) {
            TLLM_CHECK(!is_transaction_file(fs::path(path).filename().string()) || named.contains(path),
                       "left behind {}", path);
        }
    }
    return 0;
}
