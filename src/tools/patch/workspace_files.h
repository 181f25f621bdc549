// The file system side of apply_patch (internal to tllm_tool_patch): every access walks from a descriptor of the
// workspace with O_NOFOLLOW, one component at a time, so no symlink is followed and a directory swapped for a
// symlink midway cannot redirect a write; and a transaction that stages every change invisibly before making
// any of them, and undoes the ones made when a later one fails.
#pragma once

#include "core/result.h"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

namespace tllm::tools::patch_detail {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd();
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

  private:
    int fd_ = -1;
};

// Directory descriptors are shared by every operation in the same directory.
using SharedFd = std::shared_ptr<const UniqueFd>;

// Where a file of the patch lives: the deepest directory of its path that exists (open, reached without
// following symlinks) and the directories below it that do not exist yet.
struct FileLocation {
    SharedFd directory;
    std::string directory_path;       // relative to the workspace, "" for the workspace itself
    std::vector<std::string> missing; // directories to create below `directory`, outermost first
    std::string name;                 // the file's name in the last of them
    std::string path;                 // the file's whole relative path, for messages
};

class Workspace {
  public:
    static Result<Workspace> open(const std::filesystem::path& root);

    // Walks the directories of `path` (a normalised relative path). Missing ones are an error unless
    // `may_create`; symlinks and non-directories are always refused.
    Result<FileLocation> locate(const std::string& path, bool may_create) const;
    // Refuses when something (a file, a directory, a dangling symlink...) already has the location's name.
    Status check_absent(const FileLocation& location) const;
    // The status of the regular file at `location`; refuses a missing file, symlinks and special files
    // (FIFOs, sockets, devices, directories) without opening them.
    Result<struct stat> check_regular_file(const FileLocation& location) const;
    // Reads a regular file of at most `max_bytes` bytes.
    Result<std::string> read_regular_file(const FileLocation& location, size_t max_bytes, struct stat& status) const;

  private:
    explicit Workspace(SharedFd root) : root_(std::move(root)) {}
    SharedFd root_;
    // Directories already reached, by relative path: a patch of many files in one folder holds one descriptor.
    mutable std::map<std::string, SharedFd> directories_;
};

using FilesystemStepHook = std::function<Status(std::string_view step, const std::string& path)>;

// Changes to the workspace, all made or none. Staging (make_directories, stage_write, stage_removal) creates
// only new directories, temporary files and backup links that nobody looks for; commit() then renames them into
// place and moves removed files aside, and undoes every step made when one fails. Destroying an uncommitted
// transaction undoes it as well.
class FileTransaction {
  public:
    explicit FileTransaction(FilesystemStepHook hook);
    ~FileTransaction();
    FileTransaction(const FileTransaction&) = delete;
    FileTransaction& operator=(const FileTransaction&) = delete;

    // Creates the location's missing directories and returns the file's directory.
    Result<SharedFd> make_directories(const FileLocation& location);
    // Writes `content` to a temporary file in `directory`, renamed to the location's name on commit. With
    // `replaced` (the file it replaces, or the file it is moved from) the new file gets its mode and owner.
    // `replaces_existing`: the name exists and is replaced (else it must still be free at commit).
    Status stage_write(const SharedFd& directory,
                       const FileLocation& location,
                       std::string_view content,
                       const struct stat* replaced,
                       bool replaces_existing);
    // Removes the file at `location` on commit (it is moved aside until the commit completes).
    void stage_removal(const FileLocation& location);

    // Makes the staged changes: writes first, removals last. On failure, undoes what it did.
    Status commit();
    // Undoes everything staged or made; returns what could not be undone ("" when all was).
    std::string roll_back();

  private:
    struct StagedWrite;
    struct StagedRemoval;
    struct CreatedDirectory;

    Status run_hook(std::string_view step, const std::string& path) const;
    std::string unique_name(std::string_view suffix);
    void discard_after_success();

    FilesystemStepHook hook_;
    std::mt19937_64 random_;
    std::vector<StagedWrite> writes_;
    std::vector<StagedRemoval> removals_;
    std::vector<CreatedDirectory> created_directories_;
    bool finished_ = false;
};

} // namespace tllm::tools::patch_detail
