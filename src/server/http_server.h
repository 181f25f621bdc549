// `tritonllm serve`'s HTTP side (cpp-httplib, a pool of handler threads): OpenAI's Chat Completions and Responses
// (whole or streamed as server-sent events; stored responses read and deleted by id), the model list, a health
// check, Prometheus metrics; a bearer key when one is set; request bodies capped in size. It knows the engine only
// through EngineLoop, and nothing of kernels.
#pragma once

#include "core/result.h"
#include "server/chat_completions.h"
#include "server/engine_loop.h"
#include "server/metrics.h"
#include "server/response_store.h"
#include "server/responses_tools.h"
#include "tokenizer/tokenizer.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace httplib {
class Server;
struct Response;
} // namespace httplib

namespace tllm::server {

class ReplyWriter;

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8000;     // 0: any free port (port() tells which)
    std::string api_key; // "": no key needed
    std::string model_name = "gpt-oss";
    std::vector<std::string> model_aliases; // other names a request may give the model (else 404)
    ChatLimits limits;
    size_t max_body_bytes = 8u << 20;
    int threads = 16;           // handler threads: requests served at once
    int64_t max_open = 1024;    // requests generating or waiting; more get 429 with Retry-After
    BuiltinTools builtin_tools; // the Responses API's web search and code interpreter (none by default)
};

class HttpServer {
  public:
    // `store` keeps stored responses (it must outlive the server); null: a bounded one in memory.
    static Result<std::unique_ptr<HttpServer>> create(EngineLoop& engine,
                                                      const Tokenizer& tokenizer,
                                                      const ServerOptions& options,
                                                      ResponseStore* store = nullptr);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    int port() const { return port_; }
    // Serves until stop(); kIoError when it cannot.
    Status serve();
    void stop();
    // Graceful shutdown: new requests get 503 while the ones in flight run on; active() counts those.
    void drain() { draining_ = true; }
    int active() const { return active_; }

  private:
    HttpServer(EngineLoop& engine, const Tokenizer& tokenizer, ServerOptions options, ResponseStore* store);
    void routes();
    void responses_routes(); // responses_route.cpp
    // POST `path` of a route whose Job (from `parse`) becomes Assembler's chunks (Chat Completions, Completions).
    template <typename Job, typename Assembler>
    void
    chunked_route(const char* path,
                  Result<Job> (*parse)(const nlohmann::ordered_json&, const Tokenizer&, const ChatLimits&, uint64_t),
                  const char* id_prefix);
    // Submits the requests of a reply's choices (429 when the server lacks a place for each) and answers with what
    // the writer `make` (given the first request's id) makes of their events, whole or as server-sent events.
    void answer(std::vector<BatchRequest> choices,
                bool streamed,
                const std::function<std::shared_ptr<ReplyWriter>(uint64_t id)>& make,
                httplib::Response& res);
    // A 404 model_not_found (true) when `body` names a model that is neither the served one (what /v1/models
    // lists) nor one of its aliases; a request that names none is served.
    bool refuse_unknown_model(const nlohmann::ordered_json& body, httplib::Response& res) const;
    void refuse_full(httplib::Response& res) const; // 429 with Retry-After

    EngineLoop& engine_;
    const Tokenizer& tokenizer_;
    ServerOptions options_;
    std::unique_ptr<ResponseStore> own_store_; // when none was given
    ResponseStore* store_;
    Metrics metrics_; // before http_, whose handlers count into it
    std::unique_ptr<httplib::Server> http_;
    int port_ = 0;
    std::atomic<uint64_t> seed_;
    uint64_t id_salt_; // differs between runs, so that response ids in a persistent store do not repeat
    std::atomic<bool> draining_ = false;
    std::atomic<int> active_ = 0; // completion requests whose responses are not yet done
};

} // namespace tllm::server
