#include "tools/patch/workspace_files.h"

#include "core/check.h"
#include "core/log.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace tllm::tools::patch_detail {
namespace {

std::string join_path(const std::string& directory, std::string_view name) {
    return directory.empty() ? std::string(name) : directory + "/" + std::string(name);
}

std::string os_error(int error_number) { return std::strerror(error_number); }

// Why an entry that is not what we need cannot be used, from its lstat.
std::string describe_unusable(const struct stat& status) {
    switch (status.st_mode & S_IFMT) {
    case S_IFLNK:
        return "is a symbolic link (apply_patch does not follow or change symlinks)";
    case S_IFDIR:
        return "is a directory";
    case S_IFIFO:
        return "is a FIFO (named pipe), not a regular file";
    case S_IFSOCK:
        return "is a socket, not a regular file";
    case S_IFCHR:
    case S_IFBLK:
        return "is a device, not a regular file";
    default:
        return "is not a regular file";
    }
}

// The directory `name` inside `directory`, opened without following a symlink. O_PATH needs no read permission
// and opens no device; the fstat confirms what O_DIRECTORY | O_NOFOLLOW already demand.
Result<SharedFd> open_directory(const UniqueFd& directory, const std::string& name, const std::string& path) {
    UniqueFd fd(::openat(directory.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
        const int error_number = errno;
        struct stat status {};
        if (error_number != ENOENT && ::fstatat(directory.get(), name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 &&
            !S_ISDIR(status.st_mode)) {
            return make_error(ErrorCode::kInvalidArgument, "{} {}, so it cannot hold files", path,
                              S_ISREG(status.st_mode) ? "is a file" : describe_unusable(status));
        }
        return make_error(error_number == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError, "cannot open {}: {}",
                          path, os_error(error_number));
    }
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0 || !S_ISDIR(status.st_mode)) {
        return make_error(ErrorCode::kInvalidArgument, "{} is not a directory", path);
    }
    return std::make_shared<const UniqueFd>(std::move(fd));
}

// rename(2) that fails rather than replace an existing `to`; plain rename where the file system lacks the flag
// (the name was checked free while planning).
int rename_no_replace(int from_directory, const char* from, int to_directory, const char* to) {
    if (::renameat2(from_directory, from, to_directory, to, RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno == EINVAL || errno == ENOSYS) {
        return ::renameat(from_directory, from, to_directory, to);
    }
    return -1;
}

} // namespace

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

Result<Workspace> Workspace::open(const std::filesystem::path& root) {
    // The workspace itself is trusted (the user chose it), so a symlink to it is fine.
    UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) {
        return make_error(ErrorCode::kNotFound, "the workspace {} cannot be opened as a directory: {}", root.string(),
                          os_error(errno));
    }
    return Workspace(std::make_shared<const UniqueFd>(std::move(fd)));
}

Result<FileLocation> Workspace::locate(const std::string& path, bool may_create) const {
    std::vector<std::string> components;
    for (size_t start = 0; start <= path.size();) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos) {
            slash = path.size();
        }
        components.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    TLLM_CHECK(!components.empty() && !components.back().empty(), "unnormalised path {}", path);

    FileLocation location;
    location.directory = root_;
    location.name = components.back();
    location.path = path;
    for (size_t index = 0; index + 1 < components.size(); ++index) {
        const std::string& name = components[index];
        const std::string subpath = join_path(location.directory_path, name);
        if (auto known = directories_.find(subpath); known != directories_.end()) {
            location.directory = known->second;
            location.directory_path = subpath;
            continue;
        }
        Result<SharedFd> directory = open_directory(*location.directory, name, subpath);
        if (!directory.ok()) {
            if (directory.error().code() == ErrorCode::kNotFound) {
                if (!may_create) {
                    return make_error(ErrorCode::kNotFound, "{} does not exist (there is no directory {})", path,
                                      subpath);
                }
                location.missing.assign(components.begin() + static_cast<std::ptrdiff_t>(index), components.end() - 1);
                return location;
            }
            return directory.error();
        }
        location.directory = std::move(directory).value();
        location.directory_path = subpath;
        directories_.emplace(subpath, location.directory);
    }
    return location;
}

Status Workspace::check_absent(const FileLocation& location) const {
    if (!location.missing.empty()) {
        return {};
    }
    struct stat status {};
    if (::fstatat(location.directory->get(), location.name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0) {
        return make_error(ErrorCode::kInvalidArgument, "{} already exists{}", location.path,
                          S_ISREG(status.st_mode) ? "" : " and " + describe_unusable(status));
    }
    if (errno != ENOENT) {
        return make_error(ErrorCode::kIoError, "cannot check {}: {}", location.path, os_error(errno));
    }
    return {};
}

Result<struct stat> Workspace::check_regular_file(const FileLocation& location) const {
    TLLM_CHECK(location.missing.empty());
    struct stat status {};
    if (::fstatat(location.directory->get(), location.name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
            return make_error(ErrorCode::kNotFound, "{} does not exist", location.path);
        }
        return make_error(ErrorCode::kIoError, "cannot check {}: {}", location.path, os_error(errno));
    }
    if (!S_ISREG(status.st_mode)) {
        return make_error(ErrorCode::kInvalidArgument, "{} {}", location.path, describe_unusable(status));
    }
    return status;
}

Result<std::string>
Workspace::read_regular_file(const FileLocation& location, size_t max_bytes, struct stat& status) const {
    TLLM_ASSIGN_OR_RETURN(status, check_regular_file(location));
    // O_NONBLOCK: should a FIFO replace the file after the check, opening it must not wait for a writer.
    UniqueFd fd(::openat(location.directory->get(), location.name.c_str(),
                         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (fd.get() < 0) {
        return make_error(ErrorCode::kIoError, "cannot open {}: {}", location.path, os_error(errno));
    }
    if (::fstat(fd.get(), &status) != 0 || !S_ISREG(status.st_mode)) {
        return make_error(ErrorCode::kInvalidArgument, "{} is not a regular file", location.path);
    }
    const auto too_large = [&] {
        return make_error(ErrorCode::kInvalidArgument, "{} is larger than {} bytes, the most apply_patch edits",
                          location.path, max_bytes);
    };
    if (static_cast<uint64_t>(status.st_size) > max_bytes) {
        return too_large();
    }
    std::string content(static_cast<size_t>(status.st_size), '\0');
    size_t filled = 0;
    while (true) {
        if (filled == content.size()) {
            if (content.size() > max_bytes) {
                return too_large();
            }
            content.resize(content.size() + 4096); // the file may have grown since the fstat
        }
        const ssize_t count = ::read(fd.get(), content.data() + filled, content.size() - filled);
        if (count < 0 && errno == EINTR) {
            continue;
        }
        if (count < 0) {
            return make_error(ErrorCode::kIoError, "cannot read {}: {}", location.path, os_error(errno));
        }
        if (count == 0) {
            break;
        }
        filled += static_cast<size_t>(count);
    }
    content.resize(filled);
    if (content.size() > max_bytes) {
        return too_large();
    }
    return content;
}

struct FileTransaction::StagedWrite {
    enum class State { kStaged, kMovedAside, kCommitted };
    SharedFd directory;
    std::string name;
    std::string path;
    std::string temp_name;
    bool replaces_existing = false;
    std::string backup_name; // replaces_existing only: the replaced file, linked or (at commit) moved aside
    bool backup_linked = false;
    State state = State::kStaged;
};

struct FileTransaction::StagedRemoval {
    SharedFd directory;
    std::string name;
    std::string path;
    std::string backup_name; // where the file waits, once moved aside, until the commit completes
    bool moved_aside = false;
};

struct FileTransaction::CreatedDirectory {
    SharedFd parent;
    std::string name;
    std::string path;
};

FileTransaction::FileTransaction(FilesystemStepHook hook) : hook_(std::move(hook)), random_(std::random_device{}()) {}

FileTransaction::~FileTransaction() {
    if (!finished_) {
        const std::string failures = roll_back();
        if (!failures.empty()) {
            TLLM_LOG_ERROR("apply_patch could not undo all of a failed patch: {}", failures);
        }
    }
}

Status FileTransaction::run_hook(std::string_view step, const std::string& path) const {
    return hook_ ? hook_(step, path) : Status{};
}

std::string FileTransaction::unique_name(std::string_view suffix) {
    // Random, so names never collide with a file of the patch or of another apply_patch running here.
    return fmt::format(".tllm-patch-{:016x}.{}", random_(), suffix);
}

Result<SharedFd> FileTransaction::make_directories(const FileLocation& location) {
    SharedFd directory = location.directory;
    std::string directory_path = location.directory_path;
    for (const std::string& name : location.missing) {
        const std::string path = join_path(directory_path, name);
        TLLM_RETURN_IF_ERROR(run_hook("mkdir", path));
        if (::mkdirat(directory->get(), name.c_str(), 0777) == 0) {
            created_directories_.push_back({directory, name, path});
        } else if (errno != EEXIST) { // EEXIST: made for an earlier file of this patch
            return make_error(ErrorCode::kIoError, "cannot create the directory {}: {}", path, os_error(errno));
        }
        TLLM_ASSIGN_OR_RETURN(directory, open_directory(*directory, name, path));
        directory_path = path;
    }
    return directory;
}

Status FileTransaction::stage_write(const SharedFd& directory,
                                    const FileLocation& location,
                                    std::string_view content,
                                    const struct stat* replaced,
                                    bool replaces_existing) {
    StagedWrite write;
    write.directory = directory;
    write.name = location.name;
    write.path = location.path;
    write.replaces_existing = replaces_existing;
    TLLM_RETURN_IF_ERROR(run_hook("write", location.path));
    UniqueFd fd;
    for (int attempt = 0; attempt < 8 && fd.get() < 0; ++attempt) {
        write.temp_name = unique_name("tmp");
        fd = UniqueFd(::openat(directory->get(), write.temp_name.c_str(),
                               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
        if (fd.get() < 0 && errno != EEXIST) {
            break;
        }
    }
    if (fd.get() < 0) {
        return make_error(ErrorCode::kIoError, "cannot write {}: {}", location.path, os_error(errno));
    }
    writes_.push_back(write); // from here on, roll_back() removes the temporary file
    for (size_t written = 0; written < content.size();) {
        const ssize_t count = ::write(fd.get(), content.data() + written, content.size() - written);
        if (count < 0 && errno == EINTR) {
            continue;
        }
        if (count < 0) {
            return make_error(ErrorCode::kIoError, "cannot write {}: {}", location.path, os_error(errno));
        }
        written += static_cast<size_t>(count);
    }
    if (replaced != nullptr) {
        // Owner first: chown clears set-user-ID bits that the chmod then restores. Only root can give a file
        // away; anyone else keeps their own files, so a failed chown is expected and harmless.
        if (::fchown(fd.get(), replaced->st_uid, replaced->st_gid) != 0 && errno != EPERM) {
            TLLM_LOG_DEBUG("apply_patch: cannot keep the owner of {}: {}", location.path, os_error(errno));
        }
        if (::fchmod(fd.get(), replaced->st_mode & 07777) != 0) {
            return make_error(ErrorCode::kIoError, "cannot set the mode of {}: {}", location.path, os_error(errno));
        }
    }
    if (::close(fd.release()) != 0) { // some file systems (NFS) report a failed write only here
        return make_error(ErrorCode::kIoError, "cannot write {}: {}", location.path, os_error(errno));
    }
    if (replaces_existing) {
        // A hard link keeps the original reachable, so the commit can replace the file atomically and a roll
        // back can put it back with one rename. Where links are not supported the commit moves it aside.
        // The hook answering kUnsupported stands for such a file system.
        const Status hooked = run_hook("backup", location.path);
        if (!hooked.ok() && hooked.error().code() != ErrorCode::kUnsupported) {
            return hooked.error();
        }
        StagedWrite& staged = writes_.back();
        staged.backup_name = unique_name("orig");
        if (!hooked.ok()) {
            staged.backup_linked = false;
        } else if (::linkat(directory->get(), location.name.c_str(), directory->get(), staged.backup_name.c_str(), 0) ==
                   0) {
            staged.backup_linked = true;
        } else if (errno != EPERM && errno != EOPNOTSUPP && errno != EMLINK && errno != ENOSYS) {
            const int error_number = errno;
            staged.backup_name.clear();
            return make_error(ErrorCode::kIoError, "cannot back up {}: {}", location.path, os_error(error_number));
        }
    }
    return {};
}

void FileTransaction::stage_removal(const FileLocation& location) {
    removals_.push_back({location.directory, location.name, location.path, unique_name("orig"), false});
}

Status FileTransaction::commit() {
    TLLM_CHECK(!finished_);
    auto fail = [this](const Error& error) -> Status {
        const std::string failures = roll_back();
        if (failures.empty()) {
            return error;
        }
        return make_error(error.code(), "{}; undoing the patch also failed, the workspace is changed: {}",
                          error.message(), failures);
    };
    for (StagedWrite& write : writes_) {
        const int directory = write.directory->get();
        if (write.replaces_existing && !write.backup_linked) {
            if (Status hooked = run_hook("rename", write.path); !hooked.ok()) {
                return fail(hooked.error());
            }
            if (rename_no_replace(directory, write.name.c_str(), directory, write.backup_name.c_str()) != 0) {
                return fail(make_error(ErrorCode::kIoError, "cannot replace {}: {}", write.path, os_error(errno)));
            }
            write.state = StagedWrite::State::kMovedAside;
        }
        if (Status hooked = run_hook("rename", write.path); !hooked.ok()) {
            return fail(hooked.error());
        }
        const int renamed = write.replaces_existing && write.backup_linked
                                ? ::renameat(directory, write.temp_name.c_str(), directory, write.name.c_str())
                                : rename_no_replace(directory, write.temp_name.c_str(), directory, write.name.c_str());
        if (renamed != 0) {
            return fail(make_error(ErrorCode::kIoError, "cannot write {}: {}", write.path, os_error(errno)));
        }
        write.state = StagedWrite::State::kCommitted;
    }
    for (StagedRemoval& removal : removals_) {
        if (Status hooked = run_hook("remove", removal.path); !hooked.ok()) {
            return fail(hooked.error());
        }
        const int directory = removal.directory->get();
        if (rename_no_replace(directory, removal.name.c_str(), directory, removal.backup_name.c_str()) != 0) {
            return fail(make_error(ErrorCode::kIoError, "cannot remove {}: {}", removal.path, os_error(errno)));
        }
        removal.moved_aside = true;
    }
    discard_after_success();
    return {};
}

void FileTransaction::discard_after_success() {
    finished_ = true;
    // The patch is made; a backup left behind is litter, not a failure of the patch.
    auto remove_backup = [](const SharedFd& directory, const std::string& name, const std::string& path) {
        if (!name.empty() && ::unlinkat(directory->get(), name.c_str(), 0) != 0) {
            TLLM_LOG_WARN("apply_patch: cannot remove the backup {} of {}: {}", name, path, os_error(errno));
        }
    };
    for (const StagedWrite& write : writes_) {
        remove_backup(write.directory, write.backup_name, write.path);
    }
    for (const StagedRemoval& removal : removals_) {
        remove_backup(removal.directory, removal.backup_name, removal.path);
    }
}

std::string FileTransaction::roll_back() {
    finished_ = true;
    std::vector<std::string> failures;
    // A temporary file or backup that is already gone needs no cleaning up; a file that cannot be restored does.
    auto check = [&](int result, std::string_view what, const std::string& path, bool gone_is_fine = false) {
        if (result != 0 && !(gone_is_fine && errno == ENOENT)) {
            failures.push_back(fmt::format("cannot {} {}: {}", what, path, os_error(errno)));
        }
    };
    for (auto removal = removals_.rbegin(); removal != removals_.rend(); ++removal) {
        if (removal->moved_aside) {
            const int directory = removal->directory->get();
            check(rename_no_replace(directory, removal->backup_name.c_str(), directory, removal->name.c_str()),
                  "restore", removal->path);
        }
    }
    for (auto write = writes_.rbegin(); write != writes_.rend(); ++write) {
        const int directory = write->directory->get();
        const char* name = write->name.c_str();
        const char* backup = write->backup_name.c_str();
        switch (write->state) {
        case StagedWrite::State::kCommitted:
            if (write->replaces_existing) {
                check(::renameat(directory, backup, directory, name), "restore", write->path);
            } else {
                check(::unlinkat(directory, name, 0), "remove the new file", write->path, true);
            }
            break;
        case StagedWrite::State::kMovedAside:
            check(rename_no_replace(directory, backup, directory, name), "restore", write->path);
            check(::unlinkat(directory, write->temp_name.c_str(), 0), "remove a temporary file for", write->path, true);
            break;
        case StagedWrite::State::kStaged:
            check(::unlinkat(directory, write->temp_name.c_str(), 0), "remove a temporary file for", write->path, true);
            if (write->backup_linked) {
                check(::unlinkat(directory, backup, 0), "remove the backup of", write->path, true);
            }
            break;
        }
    }
    for (auto created = created_directories_.rbegin(); created != created_directories_.rend(); ++created) {
        check(::unlinkat(created->parent->get(), created->name.c_str(), AT_REMOVEDIR), "remove the new directory",
              created->path);
    }
    writes_.clear();
    removals_.clear();
    created_directories_.clear();
    std::string joined;
    for (const std::string& failure : failures) {
        joined += joined.empty() ? failure : "; " + failure;
    }
    return joined;
}

} // namespace tllm::tools::patch_detail
