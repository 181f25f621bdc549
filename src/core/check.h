// Always-on invariant checks for programming errors. They abort with file:line and the failed
// condition; expected failures (bad input) must use Result instead.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>

namespace tllm::detail {
[[noreturn]] inline void check_failed(const char* file, int line, const char* condition, const std::string& message) {
    std::fprintf(stderr, "%s:%d: check failed: %s %s\n", file, line, condition, message.c_str());
    std::fflush(stderr);
    std::abort();
}
} // namespace tllm::detail

#define TLLM_CHECK(cond, ...)                                                                                          \
    do {                                                                                                               \
        if (!(cond)) [[unlikely]] {                                                                                    \
            ::tllm::detail::check_failed(__FILE__, __LINE__, #cond, ::fmt::format("" __VA_ARGS__));                    \
        }                                                                                                              \
    } while (0)

// Marks code that valid programs never reach (e.g. after an exhaustive switch).
#define TLLM_UNREACHABLE(...)                                                                                          \
    ::tllm::detail::check_failed(__FILE__, __LINE__, "unreachable", ::fmt::format("" __VA_ARGS__))
