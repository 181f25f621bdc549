#include "server/responses_tools.h"

#include "chat/chat_session.h"
#include "chat/render.h"
#include "core/log.h"
#include "tools/tool_declarations.h"
#include "tools/tool_loop.h"

#include <algorithm>
#include <fmt/format.h>

namespace tllm::server {

Result<BuiltinTools> BuiltinTools::create(std::optional<tools::BrowserSettings> browser,
                                          std::optional<tools::PythonSettings> python) {
    BuiltinTools out;
    out.browser = std::move(browser);
    out.python = std::move(python);
    tools::ToolboxOptions options;
    options.browser = out.browser;
    if (out.python) {
        tools::ToolboxOptions sandbox_only;
        sandbox_only.python = out.python;
        if (Result<std::unique_ptr<tools::Toolbox>> checked = tools::Toolbox::create(sandbox_only, nullptr);
            !checked.ok()) {
            out.python_unavailable = checked.error().message();
        }
        options.python = out.python_unavailable.empty() ? out.python : std::nullopt;
    }
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<tools::Toolbox> toolbox, tools::Toolbox::create(options, nullptr));
    ChatOptions declared;
    toolbox->declare(declared);
    out.namespaces = std::move(declared.builtin_tools);
    if (out.python && !out.namespaces.contains("python")) { // declared all the same; its calls get the error
        out.namespaces["python"] = tools::stateless_python_namespace();
    }
    return out;
}

ResponseTools::ResponseTools(const BuiltinTools& served,
                             const Tokenizer& tokenizer,
                             std::vector<Message> conversation,
                             const BatchRequest& first,
                             int64_t context,
                             bool browser,
                             bool python)
    : served_(served), tokenizer_(tokenizer), conversation_(std::move(conversation)), settings_(first),
      context_(context), browser_(browser), python_(python) {
    settings_.prompt.clear();
}

ResponseTools::~ResponseTools() = default;

Message ResponseTools::answer(const Message& call) {
    const bool python = tools::tool_kind(call) == tools::ToolKind::kPython;
    std::string error;
    if (python && !served_.python_unavailable.empty()) {
        error = "Error: the python sandbox cannot run on this server: " + served_.python_unavailable;
    } else if (toolbox_ == nullptr) {
        tools::ToolboxOptions options;
        if (browser_) {
            options.browser = served_.browser;
        }
        if (python_ && served_.python_unavailable.empty()) {
            options.python = served_.python;
        }
        Result<std::unique_ptr<tools::Toolbox>> toolbox = tools::Toolbox::create(options, &tokenizer_);
        if (toolbox.ok()) {
            toolbox_ = std::move(toolbox).value();
        } else {
            error = "Error: the tool cannot run: " + toolbox.error().message();
        }
    }
    if (error.empty()) {
        return toolbox_->answer(call);
    }
    // The shape of Toolbox::answer's messages, so the model reads the error where it reads answers.
    Message result = Message::text(Role::kTool, std::move(error));
    result.name = python ? std::string("python") : call.recipient.value_or("");
    result.recipient = "assistant";
    result.channel = call.channel;
    return result;
}

ResponseTools::Step ResponseTools::run(ResponseAssembler& assembler, std::vector<nlohmann::ordered_json>& events) {
    Step step;
    std::optional<Message> call = assembler.pending_call();
    if (!call || calls_ >= tools::kMaxToolCallsPerTurn) {
        return step; // a call left unrun ends as such when the assembler finishes
    }
    ++calls_;
    Message result = answer(*call);
    assembler.tool_result(result, events);
    if (toolbox_ != nullptr && toolbox_->has_browser()) {
        assembler.set_citations(toolbox_.get());
    }
    for (Message& message : assembler.written_messages()) {
        conversation_.push_back(std::move(message));
    }
    conversation_.push_back(std::move(result));
    Result<std::vector<TokenId>> prompt =
        HarmonyRenderer(tokenizer_).render_for_completion(conversation_, Role::kAssistant);
    if (!prompt.ok()) {
        TLLM_LOG_ERROR("cannot render the conversation after a tool's answer: {}", prompt.error().to_string());
        return step;
    }
    const int64_t left = int64_t{settings_.max_new_tokens} - assembler.output_tokens();
    const int64_t room = context_ - static_cast<int64_t>(prompt->size());
    const int64_t budget = std::min(left, room);
    if (budget < 1) {
        step.length = true;
        return step;
    }
    BatchRequest next = settings_;
    next.id = 0;
    next.prompt = std::move(prompt).value();
    next.max_new_tokens = static_cast<int32_t>(budget);
    next.sampling.seed += static_cast<uint64_t>(calls_); // not the first request's draws again
    assembler.continue_with(static_cast<int64_t>(next.prompt.size()));
    step.next = std::move(next);
    return step;
}

} // namespace tllm::server
