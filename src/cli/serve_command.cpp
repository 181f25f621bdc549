#include "cli/serve_command.h"

#include "cli/chat_command.h"
#include "cli/model_commands.h"
#include "cli/report.h"
#include "core/environment.h"
#include "core/log.h"
#include "model/config.h"
#include "server/http_server.h"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <pthread.h>
#include <thread>

namespace tllm {
namespace {

struct ServeFlags {
    std::string model = "20b";
    bool demo = false;
    std::string synthetic; // 20b or 120b: random weights made on the GPU (benchmarks of the HTTP layer)
    std::string host = "127.0.0.1";
    int port = 8000;
    std::string api_key;
    int max_concurrency = 16;
    int max_queue = 256;
    int shutdown_timeout = 30;
    int64_t max_output_tokens = 4096;
    int64_t context = 0;
    std::string backend;
    std::string source = "modelscope";
    int threads = 0;
    std::string store;           // SQLite file of stored responses; "": in memory
    std::string browser_backend; // "": no web search in the Responses API
    bool no_code_interpreter = false;
};

// Names a Responses request may give the model besides the one /v1/models lists: OpenAI's and Hugging Face's
// names of 20b and 120b, or a model directory's own name.
std::vector<std::string> model_aliases(const ServeFlags& flags) {
    if (flags.demo || !flags.synthetic.empty()) {
        return {};
    }
    if (flags.model == "20b" || flags.model == "120b") {
        return {"gpt-oss-" + flags.model, "openai/gpt-oss-" + flags.model, "gpt-oss:" + flags.model};
    }
    std::filesystem::path path = std::filesystem::path(flags.model).lexically_normal();
    if (!path.has_filename()) { // "dir/"
        path = path.parent_path();
    }
    const std::string name = path.filename().string();
    return name.empty() ? std::vector<std::string>() : std::vector<std::string>{name};
}

Status run_serve(const ServeFlags& flags) {
    // SIGINT and SIGTERM go to one waiting thread, never to the handler threads.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    TLLM_ASSIGN_OR_RETURN(EngineOptions options, engine_options(flags.backend, flags.threads, "bf16"));
    // One step takes a prefill chunk of 2048 tokens, or one decode token of every running request.
    constexpr int kStepTokens = 2048;
    options.max_step_tokens = std::max(kStepTokens, flags.max_concurrency);
    std::optional<Tokenizer> tokenizer_or;
    std::unique_ptr<Engine> engine;
    std::string model_dir = "synthetic weights of " + flags.synthetic;
    if (!flags.synthetic.empty()) {
        // No file: the shapes of the preset, random weights made on the card (as `bench --synthetic`), the embedded
        // vocabulary. Its text is random; what it measures is the server's cost beside `bench --concurrency`.
        TLLM_ASSIGN_OR_RETURN(const GptOssConfig config, config_preset(flags.synthetic));
        TLLM_ASSIGN_OR_RETURN(tokenizer_or, Tokenizer::o200k_harmony());
        TLLM_ASSIGN_OR_RETURN(engine, Engine::create_synthetic(config, options, /*seed=*/1, /*reserve_context=*/0));
    } else {
        TLLM_ASSIGN_OR_RETURN(model_dir, model_directory(flags.demo, flags.model, flags.source));
        TLLM_ASSIGN_OR_RETURN(tokenizer_or, Tokenizer::for_model_dir(model_dir));
        TLLM_ASSIGN_OR_RETURN(std::unique_ptr<ModelWeights> weights, ModelWeights::load(model_dir));
        TLLM_ASSIGN_OR_RETURN(engine, Engine::create(std::shared_ptr<const ModelWeights>(std::move(weights)), options));
    }
    Tokenizer& tokenizer = *tokenizer_or;
    // The KV memory: what fits now (the chat's rule), shared by all requests in blocks; one request may use it all.
    const int64_t kv_tokens = flags.context > 0 ? flags.context : default_context(*engine, /*one_sequence=*/false);
    BatchEngineOptions batch;
    batch.block_tokens = 16;
    batch.kv_blocks = static_cast<int32_t>(std::min<int64_t>(2 * (kv_tokens / batch.block_tokens + 1), 1 << 24));
    batch.step_tokens = kStepTokens;
    batch.max_running = flags.max_concurrency;
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<server::EngineLoop> loop, server::EngineLoop::create(*engine, batch));

    server::ServerOptions server_options;
    server_options.host = flags.host;
    server_options.port = flags.port;
    server_options.api_key = flags.api_key;
    server_options.model_name =
        flags.demo ? "gpt-oss-demo" : (flags.synthetic.empty() ? flags.model : "synthetic-" + flags.synthetic);
    server_options.model_aliases = model_aliases(flags);
    server_options.limits.max_output_tokens = flags.max_output_tokens;
    server_options.limits.context = std::min<int64_t>(kv_tokens, engine->config().max_context());
    server_options.limits.conversation_date = today();
    // A reply's choices run at once, each a sequence: more than run at once would wait for one another.
    server_options.limits.max_choices = std::min(16, flags.max_concurrency);
    server_options.max_open = int64_t{flags.max_concurrency} + flags.max_queue;
    // A streaming request holds a handler thread while it is open; four more keep health checks answered.
    server_options.threads = static_cast<int>(std::min<int64_t>(server_options.max_open + 4, 2048));
    std::optional<tools::BrowserSettings> browser;
    if (!flags.browser_backend.empty()) {
        browser = tools::BrowserSettings::from_environment(Environment::from_process(), flags.browser_backend);
    }
    std::optional<tools::PythonSettings> python;
    if (!flags.no_code_interpreter) {
        python = tools::PythonSettings{};
    }
    TLLM_ASSIGN_OR_RETURN(server_options.builtin_tools, server::BuiltinTools::create(browser, python));
    if (!server_options.builtin_tools.python_unavailable.empty()) {
        TLLM_LOG_WARN("code_interpreter calls will be answered with an error: {}",
                      server_options.builtin_tools.python_unavailable);
    }
    std::unique_ptr<server::ResponseStore> store;
    if (flags.store.empty()) {
        store = std::make_unique<server::MemoryResponseStore>();
    } else {
        TLLM_ASSIGN_OR_RETURN(store, server::SqliteResponseStore::open(flags.store));
    }
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<server::HttpServer> http,
                          server::HttpServer::create(*loop, tokenizer, server_options, store.get()));
    TLLM_LOG_INFO("serving {} on http://{}:{} ({} backend, context {} tokens, {} requests at once, responses stored "
                  "{}{})",
                  model_dir, flags.host, http->port(), backend_name(engine->options().backend),
                  server_options.limits.context, flags.max_concurrency, flags.store.empty() ? "in memory" : flags.store,
                  flags.api_key.empty() ? "" : ", API key required");
    // On SIGINT or SIGTERM: new requests get 503 while the ones in flight finish, for up to --shutdown-timeout
    // seconds; those still open then end with an error, and the server stops.
    std::thread waiter([&] {
        int signal = 0;
        sigwait(&signals, &signal);
        TLLM_LOG_INFO("signal {}: finishing {} open requests, then stopping", signal, http->active());
        http->drain();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(flags.shutdown_timeout);
        auto wait_until = [&](std::chrono::steady_clock::time_point until) {
            while (http->active() > 0 && std::chrono::steady_clock::now() < until) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        };
        wait_until(deadline);
        if (http->active() > 0) {
            TLLM_LOG_WARN("{} requests still open after {} s: ending them", http->active(), flags.shutdown_timeout);
            loop->fail_all(Error(ErrorCode::kInternal, "the server is shutting down"));
            wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(5));
        }
        http->stop();
    });
    const Status served = http->serve();
    if (!served.ok()) {
        ::kill(::getpid(), SIGTERM); // wakes the waiter
    }
    waiter.join();
    return served;
}

} // namespace

void register_serve_command(CLI::App& app) {
    auto flags = std::make_shared<ServeFlags>();
    CLI::App* serve =
        app.add_subcommand("serve", "Serve a model over OpenAI's Chat Completions and Responses APIs (HTTP)");
    serve->fallthrough();
    CLI::Option* model =
        serve
            ->add_option("model", flags->model, "A model directory, or 20b / 120b (downloaded with tritonllm download)")
            ->capture_default_str();
    CLI::Option* demo =
        serve
            ->add_flag("--demo", flags->demo, "Serve a small model of random weights (random text; no download needed)")
            ->excludes(model);
    serve
        ->add_option("--synthetic", flags->synthetic,
                     "Serve random weights of this shape (20b or 120b) made on the GPU: no file, random text (for "
                     "`bench --serve`)")
        ->excludes(model)
        ->excludes(demo);
    serve->add_option("--host", flags->host, "Address to listen on")->capture_default_str();
    serve->add_option("--port", flags->port, "Port to listen on (0: any free one)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    serve->add_option("--api-key", flags->api_key,
                      "Require this key (Authorization: Bearer KEY) on every route but /health");
    serve->add_option("--max-concurrency", flags->max_concurrency, "Requests generating at once")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    serve->add_option("--max-queue", flags->max_queue, "Requests waiting for a place; more get 429 with Retry-After")
        ->check(CLI::Range(0, 1 << 20))
        ->capture_default_str();
    serve
        ->add_option("--shutdown-timeout", flags->shutdown_timeout,
                     "Seconds open requests may run on after SIGINT or SIGTERM before they are ended")
        ->check(CLI::Range(0, 86400))
        ->capture_default_str();
    serve
        ->add_option("--max-output-tokens", flags->max_output_tokens,
                     "Tokens a reply may have, and the default for requests that name none")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
        ->capture_default_str();
    serve
        ->add_option("-c,--context", flags->context,
                     "KV cache in tokens, shared by all requests (0: what fits in memory, at most 131072)")
        ->check(CLI::NonNegativeNumber);
    serve->add_option("--backend", flags->backend, "Compute backend: cpu or cuda (default: cuda when a GPU is present)")
        ->check(CLI::IsMember({"cpu", "cuda"}));
    serve->add_option("--source", flags->source, "Where 20b / 120b are downloaded from")
        ->check(CLI::IsMember({"modelscope", "huggingface"}))
        ->capture_default_str();
    serve->add_option("--threads", flags->threads, "CPU threads (0: all)")->check(CLI::NonNegativeNumber);
    serve->add_option("--store", flags->store,
                      "SQLite file that keeps stored responses across restarts (default: the newest 1024 in memory)");
    serve->add_option("--browser-backend", flags->browser_backend,
                      "Web search for the Responses API's web_search tools: exa (EXA_API_KEY), youcom (YDC_API_KEY) or "
                      "local:DIR (a folder of documents); default: none (such requests get a 400)");
    serve->add_flag("--no-code-interpreter", flags->no_code_interpreter,
                    "Refuse the Responses API's code_interpreter tool (default: python in a bubblewrap sandbox)");
    serve->callback([flags] { throw CLI::RuntimeError(report(run_serve(*flags))); });
}

} // namespace tllm
