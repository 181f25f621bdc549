// The local side of a download: file descriptors, the cross-process lock, atomic writes and SHA-256.
#pragma once

#include "core/result.h"

#include <functional>
#include <string>

namespace tllm::hub {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset(other.release());
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset(int fd = -1);

  private:
    int fd_ = -1;
};

// An exclusive flock(2) on a lock file, held until destruction. flock locks belong to the open file, so two
// holders in one process exclude each other as two processes do, and the kernel drops the lock when the
// holder dies: a crashed download never leaves a stale lock behind.
class FileLock {
  public:
    // Blocks until the lock is free; `on_wait` runs once first when another holder has it.
    static Result<FileLock> acquire(const std::string& path, const std::function<void()>& on_wait);

  private:
    explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

// Writes `contents` to a temporary sibling and renames it over `path`: readers see the old or the new file.
Status write_file_atomically(const std::string& path, const std::string& contents);
Result<std::string> read_small_file(const std::string& path);

// Lowercase hex SHA-256 of a file's contents.
Result<std::string> sha256_file(const std::string& path);

// mkdir -p.
Status make_directories(const std::string& path);

} // namespace tllm::hub
