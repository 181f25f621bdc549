#include "tools/toolbox.h"

#include "core/ca_bundle.h"
#include "tools/browser/browser.h"
#include "tools/patch/apply_patch.h"
#include "tools/python/python_sandbox.h"
#include "tools/tool_declarations.h"

#include <fmt/format.h>

namespace tllm::tools {
namespace {

namespace fs = std::filesystem;

bool starts_with(const std::optional<std::string>& text, std::string_view prefix) {
    return text && text->starts_with(prefix);
}

Result<std::unique_ptr<BrowserBackend>> make_backend(const BrowserSettings& settings) {
    if (settings.backend == "exa") {
        if (settings.exa_api_key.empty()) {
            return make_error(ErrorCode::kInvalidArgument,
                              "the browser's exa backend needs an API key in EXA_API_KEY (or use --browser-backend "
                              "youcom with YDC_API_KEY, or local:DIR for a folder of documents)");
        }
        return make_exa_backend(settings.exa_api_key, settings.exa_base_url, settings.limits);
    }
    if (settings.backend == "youcom") {
        if (settings.ydc_api_key.empty()) {
            return make_error(ErrorCode::kInvalidArgument,
                              "the browser's youcom backend needs an API key in YDC_API_KEY (or use --browser-backend "
                              "exa with EXA_API_KEY, or local:DIR for a folder of documents)");
        }
        return make_youcom_backend(settings.ydc_api_key, settings.youcom_base_url, settings.limits);
    }
    if (settings.backend.starts_with("local:")) {
        return make_local_backend(settings.backend.substr(6), settings.limits);
    }
    return make_error(ErrorCode::kInvalidArgument, "unknown browser backend \"{}\": use exa, youcom or local:DIR",
                      settings.backend);
}

PythonSandboxOptions sandbox_options(const PythonSettings& settings) {
    PythonSandboxOptions options;
    options.bwrap_path = settings.bwrap_path;
    options.python_path = settings.python_path;
    options.limits.wall_seconds = settings.wall_seconds;
    return options;
}

} // namespace

BrowserSettings BrowserSettings::from_environment(const Environment& environment, const std::string& backend) {
    BrowserSettings settings;
    settings.backend = !backend.empty()                       ? backend
                       : !environment.browser_backend.empty() ? environment.browser_backend
                                                              : "exa";
    settings.exa_api_key = environment.exa_api_key;
    settings.ydc_api_key = environment.ydc_api_key;
    settings.limits.ca_bundle = find_ca_bundle(environment.ca_bundle);
    return settings;
}

ToolKind tool_kind(const Message& call) {
    // chat.py's routing: browser.* and python* by prefix, the function by its full name.
    if (starts_with(call.recipient, "browser.")) {
        return ToolKind::kBrowser;
    }
    if (starts_with(call.recipient, "python")) {
        return ToolKind::kPython;
    }
    if (call.recipient == "functions.apply_patch") {
        return ToolKind::kApplyPatch;
    }
    return ToolKind::kUnknown;
}

Toolbox::Toolbox(ToolboxOptions options) : options_(std::move(options)) {}
Toolbox::~Toolbox() = default;

Result<std::unique_ptr<Toolbox>> Toolbox::create(const ToolboxOptions& options, const Tokenizer* tokenizer) {
    std::unique_ptr<Toolbox> toolbox(new Toolbox(options));
    if (options.patch_workspace) {
        std::error_code error;
        const fs::path workspace = fs::canonical(*options.patch_workspace, error);
        if (error || !fs::is_directory(workspace, error)) {
            return make_error(ErrorCode::kNotFound, "the apply_patch workspace {} is not a directory",
                              options.patch_workspace->string());
        }
        toolbox->options_.patch_workspace = workspace;
    }
    if (options.python) {
        TLLM_RETURN_IF_ERROR(check_python_sandbox(sandbox_options(*options.python)));
    }
    if (options.browser) {
        TLLM_ASSIGN_OR_RETURN(std::unique_ptr<BrowserBackend> backend, make_backend(*options.browser));
        BrowserOptions browser_options;
        if (tokenizer != nullptr) {
            browser_options.count_tokens = [tokenizer](std::string_view text) -> size_t {
                Result<std::vector<TokenId>> tokens = tokenizer->encode_ordinary(text);
                return tokens.ok() ? tokens->size() : text.size() / 4;
            };
        }
        toolbox->browser_ = std::make_unique<Browser>(std::move(backend), std::move(browser_options));
    }
    return toolbox;
}

std::string Toolbox::describe() const {
    std::vector<std::string> parts;
    if (browser_) {
        parts.push_back(fmt::format("browser ({})", options_.browser->backend));
    }
    if (options_.python) {
        parts.push_back("python (bubblewrap sandbox, no network)");
    }
    if (options_.patch_workspace) {
        parts.push_back(fmt::format("apply_patch (in {})", options_.patch_workspace->string()));
    }
    return "Tools: " + fmt::format("{}", fmt::join(parts, ", "));
}

void Toolbox::declare(ChatOptions& options) const {
    if (browser_) {
        const std::string source_line = browser_->description_source_line(); // "sources=<backend>"
        options.builtin_tools["browser"] =
            browser_namespace_for_source(std::string_view(source_line).substr(source_line.find('=') + 1));
    }
    if (options_.python) {
        options.builtin_tools["python"] = stateless_python_namespace();
    }
    if (options_.patch_workspace) {
        options.developer_message = developer_instructions_with_apply_patch(options.developer_message);
        options.function_tools.push_back(apply_patch_function());
    }
}

std::string Toolbox::run(ToolKind kind, const Message& call, const std::atomic<bool>* cancel) {
    const std::string text = call.content.empty() || !std::holds_alternative<std::string>(call.content[0])
                                 ? std::string()
                                 : std::get<std::string>(call.content[0]);
    const std::string& recipient = call.recipient.value();
    switch (kind) {
    case ToolKind::kBrowser:
        if (!browser_) {
            return "Error: the browser tool is not enabled in this chat.";
        }
        return browser_->call(std::string_view(recipient).substr(std::string_view("browser.").size()), text);
    case ToolKind::kPython: {
        if (!options_.python) {
            return "Error: the python tool is not enabled in this chat.";
        }
        PythonSandboxOptions sandbox = sandbox_options(*options_.python);
        sandbox.cancel = cancel;
        Result<PythonRun> run = run_python_in_sandbox(sandbox, text);
        return run.ok() ? python_tool_output(*run) : "Error: the python sandbox failed: " + run.error().message();
    }
    case ToolKind::kApplyPatch:
        if (!options_.patch_workspace) {
            return "Error: the apply_patch function is not enabled in this chat.";
        }
        return run_apply_patch_tool(*options_.patch_workspace, text);
    case ToolKind::kUnknown:
        break;
    }
    return fmt::format("Error: there is no tool or function named {} in this chat.", recipient);
}

Message Toolbox::answer(const Message& call, const std::atomic<bool>* cancel) {
    Message answer = Message::text(Role::kTool, run(tool_kind(call), call, cancel));
    // chat.py: the author is the recipient called (browser.search, python, functions.apply_patch), the answer
    // goes to the assistant on the call's channel.
    answer.name = tool_kind(call) == ToolKind::kPython ? std::string("python") : call.recipient.value();
    answer.recipient = "assistant";
    answer.channel = call.channel;
    return answer;
}

std::string Toolbox::normalize_citations(std::string_view text, bool& partial) const {
    if (!browser_) {
        partial = false;
        return std::string(text);
    }
    NormalizedCitations normalized = browser_->normalize_citations_with_links(text);
    partial = normalized.has_partial_citation;
    return std::move(normalized.text);
}

NormalizedCitations Toolbox::citations(std::string_view text, bool hide_partial) const {
    if (!browser_) {
        NormalizedCitations plain;
        plain.text = std::string(text);
        return plain;
    }
    return browser_->normalize_citations_with_links(text, hide_partial);
}

} // namespace tllm::tools
