// `tritonllm serve`'s HTTP side (cpp-httplib, a pool of handler threads): OpenAI's Chat Completions (whole or
// streamed as server-sent events), the model list, a health check; a bearer key when one is set; request bodies
// capped in size. It knows the engine only through EngineLoop, and nothing of kernels.
#pragma once

#include "core/result.h"
#include "server/chat_completions.h"
#include "server/engine_loop.h"
#include "tokenizer/tokenizer.h"

#include <atomic>
#include <memory>
#include <string>

namespace httplib {
class Server;
}

namespace tllm::server {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8000;     // 0: any free port (port() tells which)
    std::string api_key; // "": no key needed
    std::string model_name = "gpt-oss";
    ChatLimits limits;
    size_t max_body_bytes = 8u << 20;
    int threads = 16;        // handler threads: requests served at once
    int64_t max_open = 1024; // requests generating or waiting; more get 429 with Retry-After
};

class HttpServer {
  public:
    static Result<std::unique_ptr<HttpServer>>
    create(EngineLoop& engine, const Tokenizer& tokenizer, const ServerOptions& options);
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
    HttpServer(EngineLoop& engine, const Tokenizer& tokenizer, ServerOptions options);
    void routes();

    EngineLoop& engine_;
    const Tokenizer& tokenizer_;
    ServerOptions options_;
    std::unique_ptr<httplib::Server> http_;
    int port_ = 0;
    std::atomic<uint64_t> seed_;
    std::atomic<bool> draining_ = false;
    std::atomic<int> active_ = 0; // completion requests whose responses are not yet done
};

} // namespace tllm::server
