#include "hub/local_files.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>
#include <vector>

namespace tllm::hub {
namespace {

struct EvpContextDeleter {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

Error os_error(const char* what, const std::string& path) {
    return make_error(ErrorCode::kIoError, "{} {}: {}", what, path, std::strerror(errno));
}

} // namespace

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
}

Result<FileLock> FileLock::acquire(const std::string& path, const std::function<void()>& on_wait) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) {
        return os_error("cannot open lock file", path);
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
        return FileLock(std::move(fd));
    }
    if (errno != EWOULDBLOCK) {
        return os_error("cannot lock", path);
    }
    if (on_wait) {
        on_wait();
    }
    while (::flock(fd.get(), LOCK_EX) != 0) {
        if (errno != EINTR) {
            return os_error("cannot lock", path);
        }
    }
    return FileLock(std::move(fd));
}

Status write_file_atomically(const std::string& path, const std::string& contents) {
    std::string temporary = path + ".tmp";
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) {
        return os_error("cannot create", temporary);
    }
    size_t written = 0;
    while (written < contents.size()) {
        ssize_t n = ::write(fd.get(), contents.data() + written, contents.size() - written);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return os_error("cannot write", temporary);
        }
        written += static_cast<size_t>(n);
    }
    if (::close(fd.release()) != 0) {
        return os_error("cannot write", temporary);
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        return os_error("cannot rename onto", path);
    }
    return {};
}

Result<std::string> read_small_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        return errno == ENOENT ? make_error(ErrorCode::kNotFound, "{} does not exist", path)
                               : os_error("cannot open", path);
    }
    std::string contents;
    char buffer[16384];
    while (true) {
        ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return os_error("cannot read", path);
        }
        if (n == 0) {
            return contents;
        }
        contents.append(buffer, static_cast<size_t>(n));
        if (contents.size() > (64u << 20)) {
            return make_error(ErrorCode::kCorruptFile, "{} is unexpectedly large", path);
        }
    }
}

Result<std::string> sha256_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        return os_error("cannot open", path);
    }
    std::unique_ptr<EVP_MD_CTX, EvpContextDeleter> context(EVP_MD_CTX_new());
    if (context == nullptr || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
        return make_error(ErrorCode::kInternal, "OpenSSL could not start a SHA-256 digest");
    }
    std::vector<char> buffer(1 << 20);
    while (true) {
        ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return os_error("cannot read", path);
        }
        if (n == 0) {
            break;
        }
        if (EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(n)) != 1) {
            return make_error(ErrorCode::kInternal, "OpenSSL SHA-256 update failed");
        }
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1) {
        return make_error(ErrorCode::kInternal, "OpenSSL SHA-256 final failed");
    }
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        hex += fmt::format("{:02x}", digest[i]);
    }
    return hex;
}

Status make_directories(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) {
        return make_error(ErrorCode::kIoError, "cannot create directory {}: {}", path, ec.message());
    }
    return {};
}

} // namespace tllm::hub
