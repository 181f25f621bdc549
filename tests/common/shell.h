// Runs shell commands from tests (the CLI is tested through the built binary) and collects their output.
#pragma once

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace tllm::testing {

struct CommandResult {
    int exit_code = -1; // -1: could not start, or killed by a signal
    std::string output; // stdout
    std::string errors; // stderr, where the caller redirected it to a file and read it back
};

// Reads a popen() pipe to its end and closes it.
inline CommandResult finish_command(FILE* pipe) {
    CommandResult result;
    if (pipe == nullptr) {
        return result;
    }
    std::array<char, 4096> buffer{};
    size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
        result.output.append(buffer.data(), n);
    }
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

inline CommandResult run_shell(const std::string& command) { return finish_command(::popen(command.c_str(), "r")); }

// `text` as one single-quoted shell word.
inline std::string shell_quote(const std::string& text) {
    std::string quoted = "'";
    for (char c : text) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return quoted + "'";
}

} // namespace tllm::testing
