// tritonllm: gpt-oss inference. Subcommands are registered by their modules' command files.
#include "cli/bench_command.h"
#include "cli/kernel_commands.h"
#include "cli/model_commands.h"
#include "cli/tokenizer_commands.h"
#include "core/log.h"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    CLI::App app{"tritonllm: fast, exact inference for OpenAI's gpt-oss models"};
    app.require_subcommand(1);
    std::string log_level = "info";
    app.add_option("--log-level", log_level, "Logging to stderr")
        ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}))
        ->capture_default_str();
    app.parse_complete_callback([&] {
        static constexpr std::pair<const char*, tllm::LogLevel> kLevels[] = {{"debug", tllm::LogLevel::kDebug},
                                                                             {"info", tllm::LogLevel::kInfo},
                                                                             {"warn", tllm::LogLevel::kWarn},
                                                                             {"error", tllm::LogLevel::kError},
                                                                             {"off", tllm::LogLevel::kOff}};
        for (const auto& [name, level] : kLevels) {
            if (log_level == name) {
                tllm::set_log_level(level);
            }
        }
    });
    tllm::register_model_commands(app);
    tllm::register_bench_command(app);
    tllm::register_kernel_commands(app);
    tllm::register_tokenizer_commands(app);
    CLI11_PARSE(app, argc, argv);
    return 0;
}
