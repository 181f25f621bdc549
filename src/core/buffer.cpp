#include "core/buffer.h"

#include "core/check.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tllm {

HostBuffer::HostBuffer(size_t n_bytes) : size_(n_bytes) {
    if (n_bytes == 0) {
        return;
    }
    size_t rounded = (n_bytes + 63) / 64 * 64;
    data_ = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
    TLLM_CHECK(data_ != nullptr, "out of host memory allocating {} bytes", n_bytes);
}

HostBuffer::~HostBuffer() { std::free(data_); }

HostBuffer::HostBuffer(HostBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
    if (this != &other) {
        std::free(data_);
        data_ = other.data_;
        size_ = other.size_;
        other.data_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

Result<MappedFile> MappedFile::open(const std::string& path) {
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        return make_error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError, "{}: cannot open: {}", path,
                          std::strerror(errno));
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
        return make_error(ErrorCode::kIoError, "{}: cannot stat: {}", path, std::strerror(errno));
    }
    if (!S_ISREG(info.st_mode)) {
        return make_error(ErrorCode::kIoError, "{}: not a regular file", path);
    }
    MappedFile file;
    file.path_ = path;
    file.size_ = static_cast<size_t>(info.st_size);
    if (file.size_ == 0) {
        return file;
    }
    void* address = ::mmap(nullptr, file.size_, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (address == MAP_FAILED) {
        return make_error(ErrorCode::kIoError, "{}: cannot map {} bytes: {}", path, file.size_, std::strerror(errno));
    }
    file.data_ = static_cast<const uint8_t*>(address);
    return file;
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) {
        ::munmap(const_cast<uint8_t*>(data_), size_);
    }
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(other.data_), size_(other.size_), path_(std::move(other.path_)) {
    other.data_ = nullptr;
    other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        if (data_ != nullptr) {
            ::munmap(const_cast<uint8_t*>(data_), size_);
        }
        data_ = other.data_;
        size_ = other.size_;
        path_ = std::move(other.path_);
        other.data_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

FileDescriptor::~FileDescriptor() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = other.release();
    }
    return *this;
}

Result<std::string> read_text_file(const std::string& path) {
    TLLM_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
    return std::string(reinterpret_cast<const char*>(file.data()), file.size());
}

Status write_all(int fd, const void* data, size_t n_bytes, const std::string& path_for_errors) {
    const auto* cursor = static_cast<const uint8_t*>(data);
    while (n_bytes > 0) {
        ssize_t written = ::write(fd, cursor, n_bytes);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_error(ErrorCode::kIoError, "{}: write failed: {}", path_for_errors, std::strerror(errno));
        }
        cursor += written;
        n_bytes -= static_cast<size_t>(written);
    }
    return {};
}

Status write_file_atomically(const std::string& path, std::span<const uint8_t> bytes) {
    std::string temporary = path + ".tmp";
    {
        FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (fd.get() < 0) {
            return make_error(ErrorCode::kIoError, "{}: cannot create: {}", temporary, std::strerror(errno));
        }
        TLLM_RETURN_IF_ERROR(write_all(fd.get(), bytes.data(), bytes.size(), temporary));
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        return make_error(ErrorCode::kIoError, "{}: cannot rename into place: {}", path, std::strerror(errno));
    }
    return {};
}

} // namespace tllm
