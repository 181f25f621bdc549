// The Responses API's built-in tools, run by the server inside one response: web search (the browser tool, Harmony's
// `browser` namespace with search/open/find) and the code interpreter (the python tool in its bubblewrap sandbox),
// through the chat's Toolbox. When the model's output ends with a call to one of them (<|call|>), the call runs, its
// answer is appended to the conversation as the Harmony tool message gpt-oss's chat.py appends, and a new engine
// request continues the same response over it (the prefix cache keeps what the two prompts share).
#pragma once

#include "chat/message.h"
#include "core/result.h"
#include "runtime/batch_engine.h"
#include "server/responses_output.h"
#include "tokenizer/tokenizer.h"
#include "tools/toolbox.h"

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tllm::server {

// What `tritonllm serve` offers: checked once at start.
struct BuiltinTools {
    std::optional<tools::BrowserSettings> browser; // web_search, web_search_preview
    std::optional<tools::PythonSettings> python;   // code_interpreter
    // Why the sandbox cannot run here ("" when it can). The tool is still declared, and each call is answered with
    // this error for the model to read: code never runs outside the sandbox.
    std::string python_unavailable;
    // The system message's declarations: "browser" (its description naming the backend's source), "python".
    ToolNamespaces namespaces;

    // A browser backend that cannot work (no key, no folder) is an error.
    static Result<BuiltinTools> create(std::optional<tools::BrowserSettings> browser,
                                       std::optional<tools::PythonSettings> python);
};

// One response's runs of built-in tools, between its engine requests.
class ResponseTools {
  public:
    // `conversation`: the Harmony messages the first request's prompt was rendered from; `first`: that request (its
    // token limit, sampling and stop tokens carry over); `browser`/`python`: the tools the request asked for.
    ResponseTools(const BuiltinTools& served,
                  const Tokenizer& tokenizer,
                  std::vector<Message> conversation,
                  const BatchRequest& first,
                  int64_t context,
                  bool browser,
                  bool python);
    ~ResponseTools();
    ResponseTools(const ResponseTools&) = delete;
    ResponseTools& operator=(const ResponseTools&) = delete;

    struct Step {
        std::optional<BatchRequest> next; // the request that continues the response
        bool length = false;              // none, for want of output tokens or context
    };
    // When `assembler` holds a call (ResponseAssembler::pending_call), runs it and hands its result over, and gives
    // the request that continues the response; no request when there is no call, after tools::kMaxToolCallsPerTurn
    // calls, or when no token is left.
    Step run(ResponseAssembler& assembler, std::vector<nlohmann::ordered_json>& events);
    int calls() const { return calls_; }

  private:
    Message answer(const Message& call);

    const BuiltinTools& served_;
    const Tokenizer& tokenizer_;
    std::vector<Message> conversation_;
    BatchRequest settings_; // without its prompt
    int64_t context_;
    bool browser_;
    bool python_;
    std::unique_ptr<tools::Toolbox> toolbox_; // made at the first call: the browser's pages are this response's
    int calls_ = 0;
};

} // namespace tllm::server
