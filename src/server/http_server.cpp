#include "server/http_server.h"

#include "core/log.h"

#include <chrono>
#include <fmt/format.h>
#include <httplib.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;
constexpr auto kPoll = std::chrono::milliseconds(100);      // how often a waiting handler checks for events
constexpr auto kKeepAlive = std::chrono::milliseconds(500); // silence after which a stream checks on its client

int http_status(ErrorCode code) {
    switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnsupported:
    case ErrorCode::kContextOverflow:
        return 400;
    case ErrorCode::kOutOfMemory:
        return 503;
    default:
        return 500;
    }
}

Json error_body(const std::string& message, int status) {
    const char* type = status == 401   ? "authentication_error"
                       : status == 429 ? "rate_limit_error"
                       : status < 500  ? "invalid_request_error"
                                       : "server_error";
    return Json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}};
}

void send_error(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(error_body(message, status).dump(), "application/json");
}

std::string event(const Json& data) { return "data: " + data.dump() + "\n\n"; }

int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// What a streamed response's content provider keeps between its calls.
struct StreamState {
    std::shared_ptr<RequestStream> stream;
    std::unique_ptr<ChatCompletionAssembler> assembler;
    int64_t prompt_tokens = 0;
    bool include_usage = false;
    bool ended = false; // the engine is done with the request
    std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

} // namespace

Result<std::unique_ptr<HttpServer>>
HttpServer::create(EngineLoop& engine, const Tokenizer& tokenizer, const ServerOptions& options) {
    std::unique_ptr<HttpServer> server(new HttpServer(engine, tokenizer, options));
    server->routes();
    const int port = options.port == 0 ? server->http_->bind_to_any_port(options.host)
                                       : (server->http_->bind_to_port(options.host, options.port) ? options.port : -1);
    if (port <= 0) {
        return Error(ErrorCode::kIoError, fmt::format("cannot listen on {}:{}", options.host, options.port));
    }
    server->port_ = port;
    return server;
}

HttpServer::HttpServer(EngineLoop& engine, const Tokenizer& tokenizer, ServerOptions options)
    : engine_(engine), tokenizer_(tokenizer), options_(std::move(options)), http_(std::make_unique<httplib::Server>()),
      seed_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {}

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
        if (options_.api_key.empty() || !req.path.starts_with("/v1/")) {
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
        std::vector<std::string> stop_text = job->stop_text;
        const bool exclude_reasoning = job->exclude_reasoning;
        const std::string model = body.contains("model") ? job->model : options_.model_name;
        // Counted from here until the response is complete (a stream's releaser), for drain().
        struct Active {
            std::atomic<int>& count;
            explicit Active(std::atomic<int>& c) : count(c) { ++count; }
            ~Active() { --count; }
        };
        auto active = std::make_shared<Active>(active_);
        std::shared_ptr<RequestStream> stream = engine_.submit(std::move(job->request), options_.max_open);
        if (stream == nullptr) {
            res.set_header("Retry-After", "1");
            send_error(res, 429, fmt::format("the server has {} requests open; try again", options_.max_open));
            return;
        }
        auto assembler =
            std::make_unique<ChatCompletionAssembler>(tokenizer_, fmt::format("chatcmpl-{:016x}", stream->id() ^ seed),
                                                      model, unix_seconds(), stop_text, exclude_reasoning);
        if (!streamed) {
            std::vector<Json> unused;
            while (true) {
                RequestEvent e;
                if (!stream->next(e, kPoll)) {
                    continue;
                }
                if (e.kind == RequestEvent::Kind::kError) {
                    send_error(res, http_status(e.error.code()), e.error.message());
                    return;
                }
                if (e.kind == RequestEvent::Kind::kFinished) {
                    res.set_content(
                        assembler->response(e.finished.reason == FinishReason::kLength, prompt_tokens).dump(),
                        "application/json");
                    return;
                }
                unused.clear();
                if (assembler->on_token(e.token, unused)) { // a stop string: the reply is complete
                    engine_.cancel(stream->id());
                    res.set_content(assembler->response(false, prompt_tokens).dump(), "application/json");
                    return;
                }
            }
        }
        auto state = std::make_shared<StreamState>();
        state->stream = stream;
        state->assembler = std::move(assembler);
        state->prompt_tokens = prompt_tokens;
        state->include_usage = include_usage;
        res.set_header("Cache-Control", "no-cache");
        res.set_chunked_content_provider(
            "text/event-stream",
            [state](size_t, httplib::DataSink& sink) {
                auto finish = [&](bool length) {
                    std::vector<Json> chunks;
                    const Json last = state->assembler->finish_chunk(length, chunks);
                    chunks.push_back(last);
                    if (state->include_usage) {
                        chunks.push_back(state->assembler->usage_chunk(state->prompt_tokens));
                    }
                    std::string out;
                    for (const Json& chunk : chunks) {
                        out += event(chunk);
                    }
                    out += "data: [DONE]\n\n";
                    state->ended = true;
                    const bool written = sink.write(out.data(), out.size());
                    sink.done();
                    return written;
                };
                RequestEvent e;
                if (!state->stream->next(e, kPoll)) {
                    // Nothing to send (the request waits for a place, or its output is inside a Harmony header):
                    // a comment line now and then, which clients ignore, finds out whether the client is still
                    // there. A failed write ends the stream, and the releaser cancels the request.
                    const auto now = std::chrono::steady_clock::now();
                    if (now - state->last_write < kKeepAlive) {
                        return true;
                    }
                    state->last_write = now;
                    return sink.write(": keep-alive\n\n", 14);
                }
                state->last_write = std::chrono::steady_clock::now();
                if (e.kind == RequestEvent::Kind::kError) {
                    state->ended = true;
                    const std::string out =
                        event(error_body(e.error.message(), http_status(e.error.code()))) + "data: [DONE]\n\n";
                    const bool written = sink.write(out.data(), out.size());
                    sink.done();
                    return written;
                }
                if (e.kind == RequestEvent::Kind::kFinished) {
                    return finish(e.finished.reason == FinishReason::kLength);
                }
                std::vector<Json> chunks;
                const bool stop = state->assembler->on_token(e.token, chunks);
                std::string out;
                for (const Json& chunk : chunks) {
                    out += event(chunk);
                }
                if (!out.empty() && !sink.write(out.data(), out.size())) {
                    return false;
                }
                return stop ? finish(false) : true;
            },
            [this, state, active](bool) {
                if (!state->ended) { // the client went away, or a stop string ended the reply
                    engine_.cancel(state->stream->id());
                }
            });
    });
}

} // namespace tllm::server
