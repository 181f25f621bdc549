// Logging to stderr (stdout is reserved for generated text and machine-readable output).
#pragma once

#include <fmt/format.h>
#include <string_view>

namespace tllm {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// The threshold is process-wide by nature (stderr is); the CLI sets it once at start-up.
void set_log_level(LogLevel level);
LogLevel log_level();
void log_write(LogLevel level, std::string_view message);

template <typename... Args> void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
    if (level >= log_level()) {
        log_write(level, fmt::format(format, std::forward<Args>(args)...));
    }
}

} // namespace tllm

#define TLLM_LOG_DEBUG(...) ::tllm::log(::tllm::LogLevel::kDebug, __VA_ARGS__)
#define TLLM_LOG_INFO(...) ::tllm::log(::tllm::LogLevel::kInfo, __VA_ARGS__)
#define TLLM_LOG_WARN(...) ::tllm::log(::tllm::LogLevel::kWarn, __VA_ARGS__)
#define TLLM_LOG_ERROR(...) ::tllm::log(::tllm::LogLevel::kError, __VA_ARGS__)
