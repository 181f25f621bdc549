#include "cli/tool_command.h"

#include "cli/report.h"
#include "core/environment.h"
#include "tokenizer/tokenizer.h"
#include "tools/toolbox.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

namespace tllm {
namespace {

struct ToolFlags {
    std::string workspace = ".";
    double timeout_seconds = 120.0;
    std::string browser_backend; // "" : $BROWSER_BACKEND, else exa
    std::string script;          // browser: a file of JSON lines {"function", "arguments"}; "-" for stdin
    // One browser action from the command line.
    std::string query;
    int topn = 10;
    std::string id;
    int loc = -1;
    int num_lines = -1;
    bool view_source = false;
    std::string pattern;
    std::string url; // find: the page to search
};

// What a tool is given when the model calls it: a message to `recipient` with `text`.
Message call_message(std::string recipient, std::string text, std::string channel) {
    Message call = Message::text(Role::kAssistant, std::move(text));
    call.recipient = std::move(recipient);
    call.channel = std::move(channel);
    return call;
}

std::string read_stream(std::istream& in) { return std::string(std::istreambuf_iterator<char>(in), {}); }

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (!text.empty() && text.back() != '\n') {
        std::fputc('\n', stdout);
    }
    std::fflush(stdout);
}

Status run_apply_patch(const ToolFlags& flags) {
    tools::ToolboxOptions options;
    options.patch_workspace = flags.workspace;
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<tools::Toolbox> toolbox, tools::Toolbox::create(options, nullptr));
    const Message answer = toolbox->answer(call_message("functions.apply_patch", read_stream(std::cin), "commentary"));
    const std::string& text = std::get<std::string>(answer.content.at(0));
    print(text);
    if (text != "Done!") {
        return make_error(ErrorCode::kInvalidArgument, "the patch was not applied (nothing changed)");
    }
    return {};
}

Status run_python(const ToolFlags& flags) {
    tools::ToolboxOptions options;
    options.python = tools::PythonSettings{};
    options.python->wall_seconds = flags.timeout_seconds;
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<tools::Toolbox> toolbox, tools::Toolbox::create(options, nullptr));
    const Message answer = toolbox->answer(call_message("python", read_stream(std::cin), "analysis"));
    print(std::get<std::string>(answer.content.at(0)));
    return {};
}

// The browser keeps its pages (cursors) between the calls of one run.
Status run_browser(const ToolFlags& flags, const std::string& action) {
    const Environment environment = Environment::from_process();
    tools::ToolboxOptions options;
    options.browser = tools::BrowserSettings::from_environment(environment, flags.browser_backend);
    TLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::o200k_harmony());
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<tools::Toolbox> toolbox, tools::Toolbox::create(options, &tokenizer));

    // (function, arguments, whether its answer is printed)
    std::vector<std::tuple<std::string, nlohmann::json, bool>> calls;
    if (action == "search") {
        calls.emplace_back("search", nlohmann::json{{"query", flags.query}, {"topn", flags.topn}}, true);
    } else if (action == "open") {
        nlohmann::json arguments{
            {"loc", flags.loc}, {"num_lines", flags.num_lines}, {"view_source", flags.view_source}};
        // A number is a link id on the current page; anything else a URL.
        if (!flags.id.empty()) {
            const bool numeric = flags.id.find_first_not_of("-0123456789") == std::string::npos;
            arguments["id"] = numeric ? nlohmann::json(std::stoi(flags.id)) : nlohmann::json(flags.id);
        }
        calls.emplace_back("open", arguments, true);
    } else if (action == "find") {
        calls.emplace_back("open", nlohmann::json{{"id", flags.url}}, false);
        calls.emplace_back("find", nlohmann::json{{"pattern", flags.pattern}}, true);
    } else {
        std::ifstream file;
        std::istream* in = &std::cin;
        if (flags.script != "-") {
            file.open(flags.script);
            if (!file) {
                return make_error(ErrorCode::kNotFound, "cannot open the browser script {}", flags.script);
            }
            in = &file;
        }
        std::string line;
        for (int number = 1; std::getline(*in, line); ++number) {
            if (line.find_first_not_of(" \t\r") == std::string::npos) {
                continue;
            }
            nlohmann::json call = nlohmann::json::parse(line, nullptr, false);
            if (call.is_discarded() || !call.is_object() || !call.contains("function") ||
                !call["function"].is_string()) {
                return make_error(ErrorCode::kInvalidArgument,
                                  "{} line {}: expected {{\"function\": \"search|open|find\", \"arguments\": {{...}}}}",
                                  flags.script, number);
            }
            calls.emplace_back(call["function"].get<std::string>(), call.value("arguments", nlohmann::json::object()),
                               true);
        }
    }
    for (const auto& [function, arguments, shown] : calls) {
        const Message answer = toolbox->answer(call_message("browser." + function, arguments.dump(), "analysis"));
        if (shown) {
            print(std::get<std::string>(answer.content.at(0)));
        }
    }
    return {};
}

} // namespace

void register_tool_command(CLI::App& app) {
    auto flags = std::make_shared<ToolFlags>();
    CLI::App* tool = app.add_subcommand("tool", "Run one of the model's tools alone, as the chat runs it");
    tool->require_subcommand(1);

    CLI::App* patch = tool->add_subcommand(
        "apply_patch", "Apply a patch (gpt-oss's format, on standard input) inside --workspace; all or nothing");
    patch->add_option("--workspace", flags->workspace, "The only directory the patch may change")
        ->capture_default_str();
    patch->callback([flags] { throw CLI::RuntimeError(report(run_apply_patch(*flags))); });

    CLI::App* python = tool->add_subcommand(
        "python", "Run Python code (standard input) in the sandbox; prints what the model would be told");
    python->add_option("--timeout", flags->timeout_seconds, "Wall-clock limit in seconds")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    python->callback([flags] { throw CLI::RuntimeError(report(run_python(*flags))); });

    CLI::App* browser = tool->add_subcommand("browser", "Search, open and find as the model does");
    browser->add_option("--backend", flags->browser_backend,
                        "exa (EXA_API_KEY), youcom (YDC_API_KEY) or local:DIR; default: $BROWSER_BACKEND, else exa");
    browser->add_option("--script", flags->script,
                        "Run several calls on one browser: JSON lines {\"function\": \"search|open|find\", "
                        "\"arguments\": {...}} from a file, or - for standard input");
    browser->require_subcommand(0, 1);
    CLI::App* search = browser->add_subcommand("search", "Search and show the results page");
    search->add_option("query", flags->query, "What to search for")->required();
    search->add_option("--topn", flags->topn, "Results to ask for")->capture_default_str();
    CLI::App* open = browser->add_subcommand("open", "Open a URL");
    open->add_option("id", flags->id, "A URL (or a link id, with --script)");
    open->add_option("--loc", flags->loc, "First line to show");
    open->add_option("--num-lines", flags->num_lines, "Lines to show");
    open->add_flag("--view-source", flags->view_source, "Show the page's source");
    CLI::App* find = browser->add_subcommand("find", "Open a URL and show where a text occurs in it");
    find->add_option("pattern", flags->pattern, "Text to find")->required();
    find->add_option("--url", flags->url, "The page to search")->required();
    for (CLI::App* action : {search, open, find}) {
        action->callback([flags, action] { throw CLI::RuntimeError(report(run_browser(*flags, action->get_name()))); });
    }
    browser->callback([flags, browser] {
        if (browser->get_subcommands().empty()) {
            if (flags->script.empty()) {
                throw CLI::RuntimeError(
                    report(make_error(ErrorCode::kInvalidArgument, "give an action (search, open, find) or --script")));
            }
            throw CLI::RuntimeError(report(run_browser(*flags, "script")));
        }
    });
}

} // namespace tllm
