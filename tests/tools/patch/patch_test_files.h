// Files for the apply_patch tests: write and read them, and snapshot a whole tree to prove a failed patch
// changed nothing.
#pragma once

#include "../../common/files.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/stat.h>

namespace tllm::tools::testing {

namespace fs = std::filesystem;

using ::tllm::testing::read_file;
using ::tllm::testing::write_file;

inline unsigned permissions_of(const fs::path& path) {
    struct stat status {};
    ::lstat(path.c_str(), &status);
    return status.st_mode & 07777;
}

// Every entry under `root` (symlinks not followed): its kind, mode, inode and content or target. Equal
// snapshots mean nothing was created, removed, renamed, replaced or rewritten.
inline std::map<std::string, std::string> snapshot(const fs::path& root) {
    std::map<std::string, std::string> entries;
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(root)) {
        struct stat status {};
        ::lstat(entry.path().c_str(), &status);
        std::string description = std::to_string(status.st_mode) + " inode " + std::to_string(status.st_ino);
        if (S_ISREG(status.st_mode)) {
            description += " " + read_file(entry.path());
        } else if (S_ISLNK(status.st_mode)) {
            description += " -> " + fs::read_symlink(entry.path()).string();
        }
        entries[fs::relative(entry.path(), root).string()] = description;
    }
    return entries;
}

} // namespace tllm::tools::testing
