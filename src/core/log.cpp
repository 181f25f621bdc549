#include "core/log.h"

#include <atomic>
#include <cstdio>

namespace tllm {
namespace {
std::atomic<LogLevel>& level_storage() {
    static std::atomic<LogLevel> level{LogLevel::kInfo};
    return level;
}
} // namespace

void set_log_level(LogLevel level) { level_storage().store(level, std::memory_order_relaxed); }
LogLevel log_level() { return level_storage().load(std::memory_order_relaxed); }

void log_write(LogLevel level, std::string_view message) {
    static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
    std::string line = fmt::format("[tritonllm {}] {}\n", kNames[static_cast<int>(level)], message);
    std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace tllm
