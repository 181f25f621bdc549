// The tools a chat offers the model (browser, python, apply_patch): their declarations for the system and
// developer messages, and the answer to each call the model makes, as the Harmony tool message gpt-oss's
// chat.py appends (author = the tool, recipient = assistant, the call's channel).
#pragma once

#include "chat/chat_session.h"
#include "chat/message.h"
#include "core/environment.h"
#include "core/result.h"
#include "tokenizer/tokenizer.h"
#include "tools/browser/backend.h"
#include "tools/browser/browser.h"

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tllm::tools {

struct BrowserSettings {
    // "exa", "youcom" or "local:DIR" (a folder of .html/.md/.txt documents, for offline use).
    std::string backend = "exa";
    std::string exa_api_key;
    std::string ydc_api_key;
    // The services' addresses; tests point them at loopback stand-ins.
    std::string exa_base_url = "https://api.exa.ai";
    std::string youcom_base_url = "https://api.ydc-index.io";
    FetchLimits limits; // for the services and the pages the model opens

    // `backend` when given, else $BROWSER_BACKEND, else exa (gpt-oss's default); the keys and the CA bundle from the
    // environment.
    static BrowserSettings from_environment(const Environment& environment, const std::string& backend);
};

struct PythonSettings {
    std::string bwrap_path = "bwrap";
    std::string python_path = "/usr/bin/python3";
    double wall_seconds = 120.0;
};

struct ToolboxOptions {
    std::optional<BrowserSettings> browser;
    std::optional<PythonSettings> python;
    // apply_patch writes only inside this directory.
    std::optional<std::filesystem::path> patch_workspace;
};

enum class ToolKind { kBrowser, kPython, kApplyPatch, kUnknown };
// Which tool an assistant message is addressed to, by its recipient as chat.py routes it.
ToolKind tool_kind(const Message& call);

class Toolbox {
  public:
    // Checks each enabled tool can run here (a search key, a sandbox, a workspace) and fails naming what is
    // missing. `tokenizer` (may be null) measures the browser's viewport in tokens; it must outlive the toolbox.
    static Result<std::unique_ptr<Toolbox>> create(const ToolboxOptions& options, const Tokenizer* tokenizer);
    ~Toolbox();
    Toolbox(const Toolbox&) = delete;
    Toolbox& operator=(const Toolbox&) = delete;

    bool has_browser() const { return browser_ != nullptr; }
    bool has_python() const { return options_.python.has_value(); }
    bool has_apply_patch() const { return options_.patch_workspace.has_value(); }
    const ToolboxOptions& options() const { return options_; }

    // "Tools: browser (exa), python (sandboxed, no network), apply_patch (in /dir)" for the chat's banner.
    std::string describe() const;

    // Adds the enabled tools to the chat as chat.py does: browser and python namespaces to the system
    // message; with apply_patch, its instructions after the developer's and the function declaration.
    void declare(ChatOptions& options) const;

    // The tool's answer to `call` (an assistant message with a recipient). Whatever goes wrong (bad
    // arguments, a failed patch, a tool that is not enabled) is told to the model in the answer, so the
    // conversation can go on. `cancel` (may be null), polled by tools that can run long (python), stops them.
    Message answer(const Message& call, const std::atomic<bool>* cancel = nullptr);

    // Browser citations 【cursor†Lx-Ly】 in `text` turned into links for display; `partial` is set when the
    // text ends inside what may become a citation (hold it back until more text comes).
    std::string normalize_citations(std::string_view text, bool& partial) const;
    // The same with each citation's place and URL (the Responses API's url_citation annotations); with
    // `hide_partial`, a citation cut off at the end is left out. Without a browser, the text as it is.
    NormalizedCitations citations(std::string_view text, bool hide_partial) const;

  private:
    explicit Toolbox(ToolboxOptions options);
    std::string run(ToolKind kind, const Message& call, const std::atomic<bool>* cancel);

    ToolboxOptions options_;
    std::unique_ptr<Browser> browser_;
};

} // namespace tllm::tools
