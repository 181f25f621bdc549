// Result<T>: the return type of every operation that can fail for reasons outside the program
// (bad files, bad requests, exhausted resources). Bugs use TLLM_CHECK (check.h) instead.
#pragma once

#include <fmt/format.h>
#include <string>
#include <utility>
#include <variant>

namespace tllm {

enum class ErrorCode {
    kInvalidArgument, // a caller-supplied value is out of range or malformed
    kNotFound,        // a file, tensor or key that must exist does not
    kIoError,         // the OS refused a read, write, map or open
    kCorruptFile,     // a file's bytes contradict its own format
    kShapeMismatch,   // a tensor's shape differs from what the config implies
    kDtypeMismatch,   // a tensor's dtype differs from what the layout requires
    kUnsupported,     // valid input we do not handle (e.g. a dtype we never read)
    kOutOfMemory,
    kContextOverflow, // a sequence would exceed the context it was given
    kDevice,          // the GPU driver reported a failure (CUDA error other than out-of-memory)
    kNetwork,         // a remote server was unreachable, refused us or failed (HTTP 4xx/5xx, reset, timeout)
    kInternal,
};

const char* error_code_name(ErrorCode code);

class Error {
  public:
    Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
    ErrorCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "corrupt_file: model.safetensors: ..." for logs and CLI output.
    std::string to_string() const { return fmt::format("{}: {}", error_code_name(code_), message_); }
    // Prefix context ("while loading X: ") without losing the code.
    Error with_context(const std::string& context) const { return Error(code_, context + ": " + message_); }

  private:
    ErrorCode code_;
    std::string message_;
};

template <typename... Args> Error make_error(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
    return Error(code, fmt::format(format, std::forward<Args>(args)...));
}

template <typename T> class [[nodiscard]] Result {
  public:
    Result(T value) : storage_(std::move(value)) {}
    Result(Error error) : storage_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(storage_); }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<T>(storage_); }
    const T& value() const& { return std::get<T>(storage_); }
    T&& value() && { return std::get<T>(std::move(storage_)); }
    const Error& error() const { return std::get<Error>(storage_); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

  private:
    std::variant<T, Error> storage_;
};

template <> class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), has_error_(true) {}
    bool ok() const { return !has_error_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return error_; }

  private:
    Error error_{ErrorCode::kInternal, ""};
    bool has_error_ = false;
};

using Status = Result<void>;

} // namespace tllm

#define TLLM_CONCAT_INNER(a, b) a##b
#define TLLM_CONCAT(a, b) TLLM_CONCAT_INNER(a, b)

// Propagates a failed Status/Result to the caller.
#define TLLM_RETURN_IF_ERROR(expr)                                                                                     \
    do {                                                                                                               \
        auto&& tllm_status_ = (expr);                                                                                  \
        if (!tllm_status_.ok()) {                                                                                      \
            return tllm_status_.error();                                                                               \
        }                                                                                                              \
    } while (0)

// TLLM_ASSIGN_OR_RETURN(auto x, make_x()); declares x from a successful Result or returns its error.
#define TLLM_ASSIGN_OR_RETURN(lhs, expr) TLLM_ASSIGN_OR_RETURN_IMPL(TLLM_CONCAT(tllm_result_, __LINE__), lhs, expr)
#define TLLM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                                                                     \
    auto tmp = (expr);                                                                                                 \
    if (!tmp.ok()) {                                                                                                   \
        return tmp.error();                                                                                            \
    }                                                                                                                  \
    lhs = std::move(tmp).value()
