// Owned memory: aligned host buffers and read-only file mappings (RAII).
#pragma once

#include "core/result.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace tllm {

// 64-byte aligned heap memory, so vector loads never straddle cache lines at the start.
class HostBuffer {
  public:
    HostBuffer() = default;
    explicit HostBuffer(size_t n_bytes);
    ~HostBuffer();
    HostBuffer(HostBuffer&& other) noexcept;
    HostBuffer& operator=(HostBuffer&& other) noexcept;
    HostBuffer(const HostBuffer&) = delete;
    HostBuffer& operator=(const HostBuffer&) = delete;

    uint8_t* data() { return data_; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    template <typename T> T* as() { return reinterpret_cast<T*>(data_); }
    template <typename T> const T* as() const { return reinterpret_cast<const T*>(data_); }

  private:
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// A whole file mapped read-only. Weights are used in place, never copied.
class MappedFile {
  public:
    static Result<MappedFile> open(const std::string& path);
    MappedFile() = default;
    ~MappedFile();
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    const std::string& path() const { return path_; }

  private:
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string path_;
};

// An open file descriptor (RAII), for writers.
class FileDescriptor {
  public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor();
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept;
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

  private:
    int fd_ = -1;
};

Result<std::string> read_text_file(const std::string& path);
// Writes via a temporary file and rename, so a crash never leaves a half-written file under `path`.
Status write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);
// Writes all bytes at the current offset, retrying short writes.
Status write_all(int fd, const void* data, size_t n_bytes, const std::string& path_for_errors);

} // namespace tllm
