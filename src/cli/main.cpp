// tritonllm: gpt-oss inference. Subcommands are registered by their modules' command files.
#include "cli/bench_command.h"
#include "cli/build_info.h"
#include "cli/chat_command.h"
#include "cli/download_command.h"
#include "cli/kernel_commands.h"
#include "cli/model_commands.h"
#include "cli/serve_command.h"
#include "cli/tokenizer_commands.h"
#include "cli/tool_command.h"
#include "core/log.h"

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    CLI::App app{"tritonllm: fast, exact inference for OpenAI's gpt-oss models"};
    app.require_subcommand(1);
    app.set_version_flag(
        "-V,--version", [] { return tllm::build_info_text(tllm::build_info()); },
        "Version, git commit, toolchain and CUBIN archs of this build");
    app.footer("Without a subcommand, `tritonllm [MODEL] [options]` chats: see `tritonllm chat --help`.");
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
    tllm::register_download_command(app);
    tllm::register_chat_command(app);
    tllm::register_serve_command(app);
    tllm::register_tool_command(app);
    // `tritonllm [MODEL] [options]` is the chat, as in TritonLLM.
    std::vector<std::string> args = tllm::route_to_chat(app, std::vector<std::string>(argv + 1, argv + argc));
    std::vector<char*> routed = {argv[0]};
    for (std::string& arg : args) {
        routed.push_back(arg.data());
    }
    CLI11_PARSE(app, static_cast<int>(routed.size()), routed.data());
    return 0;
}
