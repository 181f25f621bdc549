#include "cli/chat_command.h"

#include "chat/chat_session.h"
#include "cli/chat_terminal.h"
#include "cli/model_commands.h"
#include "cli/report.h"
#include "core/environment.h"
#include "core/log.h"
#include "hub/hub.h"
#include "model/config.h"
#include "model/synth.h"
#include "model/weights.h"
#include "runtime/batch_engine.h"
#include "runtime/engine.h"
#include "tokenizer/tokenizer.h"
#include "tools/tool_loop.h"
#include "tools/toolbox.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <unistd.h>

namespace tllm {
namespace {

namespace fs = std::filesystem;

struct ChatFlags {
    std::string model = "20b";
    bool demo = false;
    std::string reasoning_effort = "high";
    bool apply_patch = false;
    bool browser = false;
    bool show_browser_results = false;
    bool python = false;
    std::string browser_backend; // "" : $BROWSER_BACKEND, else exa
    std::string workspace;       // "" : the current directory
    std::vector<std::string> scripted_replies;
    std::string developer_message;
    int64_t context = 0; // 0: what fits in memory, at most kMaxDefaultContext
    bool raw = false;
    float temperature = 1.0f;
    std::string backend;
    std::string source = "modelscope";
    int64_t max_tokens = 0;
    uint64_t seed = 0;
    bool seed_given = false;
    int threads = 0;
};

constexpr int64_t kMaxDefaultContext = 131072;

// The demo model: the real vocabulary (so every Harmony token is valid) around a tiny random network that
// runs fast on any CPU. Its context is as long as the real models'.
constexpr const char* kDemoConfig = R"({
  "num_hidden_layers": 2, "num_experts": 4, "experts_per_token": 2, "vocab_size": 201088,
  "hidden_size": 64, "intermediate_size": 64, "swiglu_limit": 7.0, "head_dim": 64,
  "num_attention_heads": 4, "num_key_value_heads": 1, "sliding_window": 128,
  "initial_context_length": 4096, "rope_theta": 150000.0, "rope_scaling_factor": 32.0,
  "rope_ntk_alpha": 1.0, "rope_ntk_beta": 32.0
})";
constexpr uint64_t kDemoSeed = 2025;

// The tools the flags enable, each checked to work here before the model loads; null when none is.
Result<std::unique_ptr<tools::Toolbox>>
make_toolbox(const ChatFlags& flags, const Environment& environment, const Tokenizer& tokenizer) {
    if (flags.show_browser_results && !flags.browser) {
        return make_error(ErrorCode::kInvalidArgument, "--show-browser-results needs the browser (-b)");
    }
    if (!flags.browser && !flags.python && !flags.apply_patch) {
        return std::unique_ptr<tools::Toolbox>();
    }
    tools::ToolboxOptions options;
    if (flags.browser) {
        tools::BrowserSettings browser;
        browser.backend = !flags.browser_backend.empty()         ? flags.browser_backend
                          : !environment.browser_backend.empty() ? environment.browser_backend
                                                                 : "exa";
        browser.exa_api_key = environment.exa_api_key;
        browser.ydc_api_key = environment.ydc_api_key;
        options.browser = std::move(browser);
    }
    if (flags.python) {
        options.python = tools::PythonSettings{};
    }
    if (flags.apply_patch) {
        options.patch_workspace = flags.workspace.empty() ? fs::current_path() : fs::path(flags.workspace);
    }
    return tools::Toolbox::create(options, &tokenizer);
}

// Notices and statistics go to stderr, dimmed on a terminal, so that stdout carries only the replies.
void notice(std::string_view text) {
    const TextStyle style = text_style(::isatty(STDERR_FILENO) != 0);
    std::fprintf(stderr, "%.*s%.*s%.*s\n", static_cast<int>(style.faint.size()), style.faint.data(),
                 static_cast<int>(text.size()), text.data(), static_cast<int>(style.reset.size()), style.reset.data());
    std::fflush(stderr);
}

void report_prompt(const PromptInfo& info, int64_t context) {
    if (info.trim.dropped_messages > 0) {
        notice(fmt::format("History trimmed to fit the context of {} tokens: dropped the {} oldest message{}.", context,
                           info.trim.dropped_messages, info.trim.dropped_messages == 1 ? "" : "s"));
    }
    if (info.trim.truncated_tokens > 0) {
        notice(fmt::format("History trimmed to fit the context of {} tokens: cut the first {} tokens of the prompt.",
                           context, info.trim.truncated_tokens));
    }
}

void report_reply(const ReplyStats& stats, const ChatSession& session) {
    switch (stats.stop) {
    case StopReason::kReturn:
    case StopReason::kCall: // the tool loop answers it
        break;
    case StopReason::kMaxTokens:
        notice(fmt::format("Stopped at --max-tokens ({} tokens).", session.options().max_tokens));
        break;
    case StopReason::kContextFull:
        notice(fmt::format("Stopped: the context of {} tokens is full.", session.context()));
        break;
    case StopReason::kLoop:
        notice(fmt::format("Stopped: the reply kept repeating a pattern of a few tokens ({} times in a row).",
                           kLoopRepeats));
        break;
    case StopReason::kInterrupted:
        notice("Interrupted.");
        break;
    }
    notice(fmt::format("Decode TPS: {:.2f} | E2E TPS: {:.2f} | Generated: {} tokens | Prompt: {} tokens ({} cached)",
                       stats.decode_tokens_per_second(), stats.end_to_end_tokens_per_second(), stats.generated_tokens,
                       stats.prompt.prompt_tokens, stats.prompt.reused_tokens));
}

// Streams a turn: each reply (after its trimming notice), its statistics, and each tool call's answer.
class TurnPrinter : public tools::ToolLoopObserver {
  public:
    TurnPrinter(const Tokenizer& tokenizer,
                const ChatFlags& flags,
                bool color,
                const ChatSession& session,
                const tools::Toolbox* toolbox)
        : tokenizer_(&tokenizer), flags_(&flags), color_(color), session_(&session), toolbox_(toolbox),
          renderer_(tokenizer) {}

    void on_prompt(const PromptInfo& info, std::span<const TokenId>) override {
        report_prompt(info, session_->context());
    }
    void on_token(TokenId token) override { printer().on_token(token); }
    void on_events(std::span<const ParserEvent> events) override { printer().on_events(events); }
    void on_reply(const ReplyStats& stats) override {
        printer().finish();
        printer_.reset();
        report_reply(stats, *session_);
    }
    void on_tool_result(const Message& call, const Message& result) override;
    void write(std::string_view text) { printer().write(text); }
    void finish() {
        if (printer_) {
            printer_->finish();
            printer_.reset();
        }
    }

  private:
    ReplyPrinter& printer() {
        if (!printer_) {
            printer_ = std::make_unique<ReplyPrinter>(*tokenizer_, flags_->raw, color_);
            if (toolbox_ != nullptr && toolbox_->has_browser()) {
                const tools::Toolbox* toolbox = toolbox_;
                printer_->set_text_filter([toolbox](std::string_view text, bool& partial) {
                    return toolbox->normalize_citations(text, partial);
                });
            }
        }
        return *printer_;
    }

    const Tokenizer* tokenizer_;
    const ChatFlags* flags_;
    bool color_;
    const ChatSession* session_;
    const tools::Toolbox* toolbox_;
    HarmonyRenderer renderer_;
    std::unique_ptr<ReplyPrinter> printer_;
};

void TurnPrinter::on_tool_result(const Message& call, const Message& result) {
    const std::string& text = std::get<std::string>(result.content.at(0));
    if (flags_->raw) {
        // The answer as the model reads it, then the start of its next message (chat.py --raw).
        std::vector<TokenId> tokens;
        Status rendered = renderer_.render_message(result, false, tokens);
        Result<std::string> decoded =
            rendered.ok() ? tokenizer_->decode(tokens) : Result<std::string>(rendered.error());
        write(decoded.ok() ? *decoded : text);
        write("<|start|>assistant");
        return;
    }
    const TextStyle style = text_style(color_);
    const tools::ToolKind kind = tools::tool_kind(call);
    const char* label = kind == tools::ToolKind::kBrowser      ? "Search output:"
                        : kind == tools::ToolKind::kPython     ? "Python output:"
                        : kind == tools::ToolKind::kApplyPatch ? "Apply Patch output:"
                                                               : "Tool output:";
    write(fmt::format("{}{}{}\n", style.bold, label, style.reset));
    if (kind == tools::ToolKind::kBrowser && !flags_->show_browser_results) {
        write("[Search results fed to the model]\n");
    } else {
        write(text);
        write(text.empty() || text.back() != '\n' ? "\n" : "");
    }
}

Status chat_loop(ChatSession& session, tools::Toolbox* toolbox, const Tokenizer& tokenizer, const ChatFlags& flags) {
    const bool interactive = ::isatty(STDIN_FILENO) != 0;
    const bool color = ::isatty(STDOUT_FILENO) != 0;
    const TextStyle style = text_style(color);
    std::unique_ptr<LineReader> reader;
    if (interactive) {
        const std::string cache_dir = Environment::from_process().cache_dir;
        std::string history_file;
        std::error_code error;
        if (!cache_dir.empty() && (fs::create_directories(cache_dir, error), fs::is_directory(cache_dir, error))) {
            history_file = (fs::path(cache_dir) / "chat_history").string();
        }
        reader = make_readline_reader(history_file);
    } else {
        reader = make_stream_reader();
    }
    // Readline wants invisible characters between \001 and \002 to place the cursor.
    const std::string prompt = !interactive ? ""
                               : flags.raw  ? "<|start|>user<|message|>"
                                            : fmt::format("\001{}\002User:\001{}\002 ", style.bold, style.reset);
    const std::string continuation = interactive ? "... " : "";

    if (flags.raw) {
        TLLM_ASSIGN_OR_RETURN(std::vector<TokenId> preamble, session.render_preamble());
        TLLM_ASSIGN_OR_RETURN(std::string text, tokenizer.decode(preamble));
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fputs("\n", stdout);
        std::fflush(stdout);
    }
    if (interactive) {
        notice("Enter sends. End a line with \\ to continue it, or put a message between lines of \"\"\". "
               "Ctrl-C stops a reply; Ctrl-D exits.");
    }

    bool exit_armed = false; // Ctrl-C at an empty prompt, once: a second one exits
    while (true) {
        clear_interrupt_request();
        InputResult input = read_message(*reader, prompt, continuation);
        if (input.status == InputStatus::kEnd) {
            if (interactive) {
                std::fputs("\n", stdout);
            }
            return {};
        }
        if (input.status == InputStatus::kInterrupted) {
            if (input.text.empty() && exit_armed) {
                return {};
            }
            exit_armed = input.text.empty();
            if (exit_armed) {
                notice("(To exit, press Ctrl-C again or Ctrl-D.)");
            }
            continue;
        }
        exit_armed = false;
        if (input.text.find_first_not_of(" \t\r\n") == std::string::npos) {
            continue;
        }
        reader->remember(input.text);
        TurnPrinter printer(tokenizer, flags, color, session, toolbox);
        if (flags.raw) {
            printer.write(interactive ? "<|end|><|start|>assistant" : "<|start|>assistant");
        }
        clear_interrupt_request();
        Result<tools::TurnStats> turn =
            tools::run_chat_turn(session, toolbox, input.text, printer, interrupt_requested());
        printer.finish();
        if (!turn.ok()) {
            return turn.error();
        }
        if (turn->call_limit_reached) {
            notice(fmt::format("Stopped after {} tool calls in a row; send a message to let the model go on.",
                               turn->tool_calls));
        }
    }
}

Status run_chat(const ChatFlags& flags) {
    const Environment environment = Environment::from_process();
    TLLM_ASSIGN_OR_RETURN(const std::string model_dir, model_directory(flags.demo, flags.model, flags.source));
    TLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::for_model_dir(model_dir));
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<tools::Toolbox> toolbox, make_toolbox(flags, environment, tokenizer));
    TLLM_ASSIGN_OR_RETURN(EngineOptions engine_options_value, engine_options(flags.backend, flags.threads, "bf16"));
    std::unique_ptr<Engine> engine;
    {
        SigintBlocker blocker; // the engine's threads must never take SIGINT from the main thread
        TLLM_ASSIGN_OR_RETURN(std::unique_ptr<ModelWeights> weights, ModelWeights::load(model_dir));
        TLLM_ASSIGN_OR_RETURN(
            engine, Engine::create(std::shared_ptr<const ModelWeights>(std::move(weights)), engine_options_value));
    }

    ChatOptions options;
    const std::optional<ReasoningEffort> effort = reasoning_effort_from_name(flags.reasoning_effort);
    if (!effort) {
        return make_error(ErrorCode::kInvalidArgument, "unknown reasoning effort \"{}\"", flags.reasoning_effort);
    }
    options.reasoning_effort = *effort;
    options.developer_message = flags.developer_message;
    options.conversation_date = today();
    options.context = flags.context > 0 ? flags.context : default_context(*engine, /*one_sequence=*/true);
    options.max_tokens = flags.max_tokens;
    options.sampling.temperature = flags.temperature;
    options.sampling.seed = flags.seed_given ? flags.seed : std::random_device{}();
    for (const std::string& reply : flags.scripted_replies) {
        TLLM_ASSIGN_OR_RETURN(std::vector<TokenId> tokens, tokenizer.encode_with_special(reply));
        options.scripted_replies.push_back(std::move(tokens));
    }
    if (toolbox) {
        toolbox->declare(options);
    }
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<ChatSession> session, ChatSession::create(*engine, tokenizer, options));

    if (flags.demo) {
        notice("Demo model: RANDOM WEIGHTS. Its replies are random tokens, not language, and never end by "
               "themselves (--max-tokens bounds them). For real answers: tritonllm download 20b.");
    }
    notice(fmt::format("Model {} | {} backend | context {} tokens | reasoning effort {} | temperature {}", model_dir,
                       backend_name(engine->options().backend), session->context(), flags.reasoning_effort,
                       flags.temperature));
    if (toolbox) {
        notice(toolbox->describe());
    }
    SigintCatcher catcher;
    return chat_loop(*session, toolbox.get(), tokenizer, flags);
}

} // namespace

// Written under a temporary name and renamed when complete, so a directory under the final name is
// always whole; one from another version of the demo config is replaced.
namespace {
Result<std::string> ensure_demo_model(const std::string& cache_dir) {
    if (cache_dir.empty()) {
        return make_error(ErrorCode::kNotFound,
                          "--demo needs a cache directory for its model: set TRITONLLM_CACHE_DIR or HOME");
    }
    TLLM_ASSIGN_OR_RETURN(GptOssConfig config, parse_config_json(kDemoConfig, "demo config"));
    const fs::path directory = fs::path(cache_dir) / "demo-model";
    std::error_code error;
    if (fs::exists(directory / "config.json", error)) {
        Result<GptOssConfig> existing = load_config_file((directory / "config.json").string());
        if (existing.ok() && existing->to_json(ConfigForm::kOriginal) == config.to_json(ConfigForm::kOriginal)) {
            return directory.string();
        }
        TLLM_LOG_INFO("replacing the demo model in {}: it was written for another configuration", directory.string());
        fs::remove_all(directory, error);
    }
    const fs::path partial = fs::path(cache_dir) / fmt::format("demo-model.partial-{}", ::getpid());
    fs::remove_all(partial, error);
    fs::create_directories(cache_dir, error);
    TLLM_LOG_INFO("writing the demo model (random weights) to {}", directory.string());
    SynthOptions options;
    options.seed = kDemoSeed;
    TLLM_RETURN_IF_ERROR(write_synthetic_checkpoint(config, options, partial.string()));
    fs::rename(partial, directory, error);
    if (error) {
        fs::remove_all(partial, error);
        if (!fs::exists(directory / "config.json", error)) {
            return make_error(ErrorCode::kIoError, "cannot move the demo model into {}", directory.string());
        }
        // Another chat finished writing it first.
    }
    return directory.string();
}
} // namespace

std::string today() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char text[16];
    std::strftime(text, sizeof(text), "%Y-%m-%d", &local);
    return text;
}

Result<std::string> model_directory(bool demo, const std::string& model, const std::string& source) {
    if (demo) {
        return ensure_demo_model(Environment::from_process().cache_dir);
    }
    return resolve_model(model, source);
}

int64_t default_context(const Engine& engine, bool one_sequence) {
    const GptOssConfig& config = engine.config();
    const uint64_t bytes_per_token = 2 * static_cast<uint64_t>(config.n_layers) *
                                     static_cast<uint64_t>(config.kv_width()) *
                                     dtype_size(kv_cache_dtype(engine.options().precision));
    uint64_t available = 0;
    if (engine.cuda_context() != nullptr) {
        Result<std::pair<size_t, size_t>> memory = engine.cuda_context()->memory_info();
        // Leave a tenth, and at least 512 MiB, for the decode graphs, the driver and other programs.
        const uint64_t free = memory.ok() ? memory->first : 0;
        const uint64_t headroom = std::max<uint64_t>(free / 10, uint64_t{512} << 20);
        available = free > headroom ? free - headroom : 0;
    } else {
        // The CPU cache grows as the chat does; plan on at most half of the memory free now.
        const long pages = ::sysconf(_SC_AVPHYS_PAGES);
        const long page_size = ::sysconf(_SC_PAGESIZE);
        available = pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / 2
                                               : static_cast<uint64_t>(kMaxDefaultContext) * bytes_per_token;
    }
    // The options of a batch of one do not depend on its length: the pool's size is what is sought.
    const int64_t fits =
        one_sequence ? BatchEngine::longest_sequence_in(config, BatchEngine::one_sequence_options(engine, 0).value(),
                                                        kv_cache_dtype(engine.options().precision), available)
                     : static_cast<int64_t>(std::min<uint64_t>(available / bytes_per_token, INT64_MAX));
    int64_t context = std::min({fits, kMaxDefaultContext, config.max_context()});
    constexpr int64_t kRounding = 1024;
    if (context > kRounding) {
        context -= context % kRounding;
    }
    return context;
}

Result<std::string> resolve_model(const std::string& model, const std::string& source) {
    std::error_code error;
    if (fs::is_directory(model, error)) {
        return model;
    }
    if (model != "20b" && model != "120b") {
        return make_error(ErrorCode::kNotFound, "\"{}\" is neither a model directory nor one of 20b, 120b", model);
    }
    // Downloaded on first use (only original/, as TritonLLM does); later runs find it in the cache offline.
    const Environment environment = Environment::from_process();
    hub::DownloadOptions options;
    options.source = source == "huggingface" ? hub::Source::kHuggingFace : hub::Source::kModelScope;
    options.cache_dir = environment.cache_dir;
    options.progress = ::isatty(STDERR_FILENO) != 0;
    if (options.cache_dir.empty()) {
        return make_error(ErrorCode::kNotFound,
                          "no cache directory to download gpt-oss-{} into (set TRITONLLM_CACHE_DIR or HOME), or pass "
                          "a model directory",
                          model);
    }
    if (std::optional<std::string> cached = hub::find_cached_model(model, options)) {
        return *cached;
    }
    TLLM_LOG_INFO("gpt-oss-{} is not in {} yet: downloading it from {}", model, options.cache_dir, source);
    Result<std::string> downloaded =
        hub::ensure_model(model, options, hub::HubEndpoints::from_environment(environment));
    if (!downloaded.ok()) {
        return downloaded.error().with_context(fmt::format(
            "the gpt-oss-{0} weights are not on this machine and could not be downloaded. Retry with `tritonllm "
            "download {0} --source {1}` (or the other --source), pass a model directory you already have, or try "
            "the chat with a small random-weights model: `tritonllm --demo`. The download said",
            model, source == "huggingface" ? "modelscope" : "huggingface"));
    }
    return downloaded;
}

std::vector<std::string> route_to_chat(const CLI::App& app, std::vector<std::string> args) {
    size_t first = 0;
    while (first < args.size() && args[first].size() > 1 && args[first][0] == '-' && args[first] != "--") {
        const std::string& arg = args[first];
        const std::string name = arg.substr(0, arg.find('='));
        const CLI::Option* option = app.get_option_no_throw(name);
        if (option == nullptr) {
            break; // not a global option: one of the chat's (e.g. --demo)
        }
        if (option == app.get_help_ptr() || option == app.get_help_all_ptr() || option == app.get_version_ptr()) {
            return args;
        }
        first += option->get_type_size() > 0 && name.size() == arg.size() ? 2 : 1; // skip the option's value
    }
    if (first < args.size()) {
        const auto named = app.get_subcommands([&](const CLI::App* sub) { return sub->check_name(args[first]); });
        if (!named.empty()) {
            return args;
        }
    }
    args.insert(args.begin() + static_cast<std::ptrdiff_t>(std::min(first, args.size())), "chat");
    return args;
}

void register_chat_command(CLI::App& app) {
    auto flags = std::make_shared<ChatFlags>();
    CLI::App* chat = app.add_subcommand("chat", "Chat with a gpt-oss model (the default command: `tritonllm [MODEL] "
                                                "[options]`)");
    chat->fallthrough(); // global options such as --log-level may follow the chat's
    CLI::Option* model =
        chat->add_option("model", flags->model, "A model directory, or 20b / 120b (downloaded with tritonllm download)")
            ->capture_default_str();
    chat->add_flag("--demo", flags->demo, "Chat with a small model of random weights (random text; no download needed)")
        ->excludes(model);
    chat->add_option("-r,--reasoning-effort", flags->reasoning_effort, "Reasoning effort")
        ->check(CLI::IsMember({"low", "medium", "high"}))
        ->capture_default_str();
    chat->add_flag("-a,--apply-patch", flags->apply_patch,
                   "Make the apply_patch function available to the model (it edits files in --workspace only)");
    chat->add_option("--workspace", flags->workspace,
                     "The directory apply_patch may change (default: the current directory)");
    chat->add_flag("-b,--browser", flags->browser, "Use the browser tool (web search and pages)");
    chat->add_option("--browser-backend", flags->browser_backend,
                     "Search service: exa (EXA_API_KEY), youcom (YDC_API_KEY) or local:DIR (offline, a folder of "
                     "documents); default: $BROWSER_BACKEND, else exa");
    chat->add_flag("--show-browser-results", flags->show_browser_results, "Show the browser's results");
    chat->add_flag("-p,--python", flags->python,
                   "Use the python tool (the model's code runs in a bubblewrap sandbox without network)");
    // For tests of the tool loop and the terminal with a random-weights model: replies (Harmony text) taken
    // instead of sampled, one per reply, in order.
    chat->add_option("--scripted-reply", flags->scripted_replies)->group("");
    chat->add_option("--developer-message", flags->developer_message, "Developer message (instructions)");
    chat->add_option("-c,--context", flags->context,
                     "Context length in tokens (0: what fits in memory, at most 131072)")
        ->check(CLI::NonNegativeNumber);
    chat->add_flag("--raw", flags->raw, "Print the raw Harmony tokens");
    chat->add_option("--temperature", flags->temperature, "Sampling temperature (0: greedy)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    chat->add_option("--backend", flags->backend, "Compute backend: cpu or cuda (default: cuda when a GPU is present)")
        ->check(CLI::IsMember({"cpu", "cuda"}));
    chat->add_option("--source", flags->source, "Where 20b / 120b are downloaded from")
        ->check(CLI::IsMember({"modelscope", "huggingface"}))
        ->capture_default_str();
    chat->add_option("--max-tokens", flags->max_tokens, "Tokens per reply at most (0: until the context is full)")
        ->check(CLI::NonNegativeNumber);
    CLI::Option* seed = chat->add_option("--seed", flags->seed, "Sampling seed (default: random)");
    chat->add_option("--threads", flags->threads, "CPU threads (0: all)")->check(CLI::NonNegativeNumber);
    chat->callback([flags, seed] {
        flags->seed_given = seed->count() > 0;
        throw CLI::RuntimeError(report(run_chat(*flags)));
    });
}

} // namespace tllm
