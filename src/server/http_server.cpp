#include "server/http_server.h"

#include "core/log.h"
#include "server/reply.h"

#include <chrono>
#include <fmt/format.h>
#include <httplib.h>
#include <random>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

std::string event(const Json& data) { return "data: " + data.dump() + "\n\n"; }

// A chat completion's events: chat.completion.chunk deltas ending in `data: [DONE]`, or one chat.completion.
class ChatReply : public ReplyWriter {
  public:
    ChatReply(std::unique_ptr<ChatCompletionAssembler> assembler,
              int64_t prompt_tokens,
              bool streamed,
              bool include_usage)
        : assembler_(std::move(assembler)), prompt_tokens_(prompt_tokens), streamed_(streamed),
          include_usage_(include_usage) {}

    bool token(const TokenEvent& token, std::string& out) override {
        std::vector<Json> chunks;
        const bool stop = assembler_->on_token(token, chunks);
        for (const Json& chunk : chunks) {
            out += event(chunk);
        }
        return stop;
    }
    void finished(bool length, std::string& out) override {
        if (!streamed_) {
            out = assembler_->response(length, prompt_tokens_).dump();
            return;
        }
        std::vector<Json> chunks;
        const Json last = assembler_->finish_chunk(length, chunks);
        chunks.push_back(last);
        if (include_usage_) {
            chunks.push_back(assembler_->usage_chunk(prompt_tokens_));
        }
        for (const Json& chunk : chunks) {
            out += event(chunk);
        }
        out += "data: [DONE]\n\n";
    }
    void failed(const Error& error, std::string& out) override {
        out += event(error_body(error.message(), http_status(error.code()))) + "data: [DONE]\n\n";
    }

  private:
    std::unique_ptr<ChatCompletionAssembler> assembler_;
    int64_t prompt_tokens_;
    bool streamed_;
    bool include_usage_;
};

} // namespace

Result<std::unique_ptr<HttpServer>>
HttpServer::create(EngineLoop& engine, const Tokenizer& tokenizer, const ServerOptions& options, ResponseStore* store) {
    std::unique_ptr<HttpServer> server(new HttpServer(engine, tokenizer, options, store));
    server->routes();
    const int port = options.port == 0 ? server->http_->bind_to_any_port(options.host)
                                       : (server->http_->bind_to_port(options.host, options.port) ? options.port : -1);
    if (port <= 0) {
        return Error(ErrorCode::kIoError, fmt::format("cannot listen on {}:{}", options.host, options.port));
    }
    server->port_ = port;
    return server;
}

HttpServer::HttpServer(EngineLoop& engine, const Tokenizer& tokenizer, ServerOptions options, ResponseStore* store)
    : engine_(engine), tokenizer_(tokenizer), options_(std::move(options)),
      own_store_(store == nullptr ? std::make_unique<MemoryResponseStore>() : nullptr),
      store_(store == nullptr ? own_store_.get() : store), http_(std::make_unique<httplib::Server>()),
      seed_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())),
      id_salt_((uint64_t{std::random_device{}()} << 32) ^ std::random_device{}() ^
               static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count())) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::serve() {
    if (!http_->listen_after_bind()) {
        return Error(ErrorCode::kIoError, fmt::format("serving on {}:{} failed", options_.host, port_));
    }
    return {};
}

void HttpServer::stop() { http_->stop(); }

void HttpServer::routes() {
    const int threads = options_.threads;
    http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http_->set_payload_max_length(options_.max_body_bytes);
    http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (draining_ && req.method == "POST") {
            res.set_header("Connection", "close");
            send_error(res, 503, "the server is shutting down");
            return httplib::Server::HandlerResponse::Handled;
        }
        if (options_.api_key.empty() || req.path == "/health") {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        if (req.get_header_value("Authorization") != "Bearer " + options_.api_key) {
            send_error(res, 401, "a valid API key is needed (Authorization: Bearer KEY)");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    http_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) {
            return;
        }
        const std::string message = res.status == 404   ? fmt::format("no route for {} {}", req.method, req.path)
                                    : res.status == 413 ? "the request body is too large"
                                                        : fmt::format("HTTP {}", res.status);
        res.set_content(error_body(message, res.status).dump(), "application/json");
    });
    // Counted once the answer is written (a stream when it ends), with the status it went out with.
    http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        metrics_.count_request(req.path, req.method, res.status);
    });
    http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_.render(engine_.stats()), "text/plain; version=0.0.4; charset=utf-8");
    });
    http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
        const EngineLoopStats stats = engine_.stats();
        res.set_content(Json{{"status", "ok"}, {"running", stats.running}, {"waiting", stats.waiting}}.dump(),
                        "application/json");
    });
    http_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
        const Json model = {
            {"id", options_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "tritonllm"}};
        res.set_content(Json{{"object", "list"}, {"data", Json::array({model})}}.dump(), "application/json");
    });
    http_->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
        const Json body = Json::parse(req.body, nullptr, false);
        if (body.is_discarded()) {
            send_error(res, 400, "the request body is not valid JSON");
            return;
        }
        const uint64_t seed = seed_.fetch_add(0x9e3779b97f4a7c15ull);
        Result<ChatCompletionJob> job = parse_chat_completion(body, tokenizer_, options_.limits, seed);
        if (!job.ok()) {
            send_error(res, http_status(job.error().code()), job.error().message());
            return;
        }
        const int64_t prompt_tokens = static_cast<int64_t>(job->request.prompt.size());
        const bool streamed = job->stream;
        const bool include_usage = job->include_usage;
        ChatOutputOptions output = std::move(job->output);
        const std::string model = body.contains("model") ? job->model : options_.model_name;
        auto active = std::make_shared<ActiveRequest>(active_);
        std::shared_ptr<RequestStream> stream = engine_.submit(std::move(job->request), options_.max_open);
        if (stream == nullptr) {
            refuse_full(res);
            return;
        }
        auto writer = std::make_shared<ChatReply>(
            std::make_unique<ChatCompletionAssembler>(tokenizer_, fmt::format("chatcmpl-{:016x}", stream->id() ^ seed),
                                                      model, unix_seconds(), std::move(output)),
            prompt_tokens, streamed, include_usage);
        if (streamed) {
            reply_stream(engine_, stream, writer, active, res);
        } else {
            reply_whole(engine_, *stream, *writer, res);
        }
    });
    responses_routes();
}

void HttpServer::refuse_full(httplib::Response& res) const {
    res.set_header("Retry-After", "1");
    send_error(res, 429, fmt::format("the server has {} requests open; try again", options_.max_open));
}

} // namespace tllm::server
