#include "server/http_server.h"

#include "core/log.h"
#include "server/completions.h"
#include "server/reply.h"
#include "server/static_assets.h"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <httplib.h>
#include <random>
#include <sys/socket.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;
constexpr int kListenBacklog = 4096; // connections the kernel queues before accept (capped by net.core.somaxconn)

} // namespace

Result<std::unique_ptr<HttpServer>>
HttpServer::create(EngineLoop& engine, const Tokenizer& tokenizer, const ServerOptions& options, ResponseStore* store) {
    std::unique_ptr<HttpServer> server(new HttpServer(engine, tokenizer, options, store));
    server->routes();
    // cpp-httplib listens with a backlog of 5: a burst of clients overflows the accept queue, and Linux then drops
    // the handshake's last ACK, so a client believes it is connected to a server that never hears of it. The
    // listening socket is kept here and listened on again with a deep queue (Linux takes a new backlog so).
    int listening = -1;
    server->http_->set_socket_options([&listening](socket_t sock) {
        httplib::default_socket_options(sock);
        if (listening < 0) {
            listening = sock;
        }
    });
    const int port = options.port == 0 ? server->http_->bind_to_any_port(options.host)
                                       : (server->http_->bind_to_port(options.host, options.port) ? options.port : -1);
    if (port <= 0) {
        return Error(ErrorCode::kIoError, fmt::format("cannot listen on {}:{}", options.host, options.port));
    }
    server->http_->set_socket_options(httplib::default_socket_options); // the lambda holds a local
    if (listening < 0 || ::listen(listening, kListenBacklog) != 0) {
        TLLM_LOG_WARN("the listening socket keeps cpp-httplib's backlog of 5: bursts of connections may be dropped");
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
        if (options_.api_key.empty() || req.path == "/health" || is_page_path(req.path)) {
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
    serve_page(*http_, embedded_web_assets());
    chunked_route<ChatCompletionJob, ChatCompletionAssembler>("/v1/chat/completions", parse_chat_completion,
                                                              "chatcmpl");
    chunked_route<CompletionJob, CompletionAssembler>("/v1/completions", parse_completion, "cmpl");
    responses_routes();
}

template <typename Job, typename Assembler>
void HttpServer::chunked_route(const char* path,
                               Result<Job> (*parse)(const Json&, const Tokenizer&, const ChatLimits&, uint64_t),
                               const char* id_prefix) {
    http_->Post(path, [this, parse, id_prefix](const httplib::Request& req, httplib::Response& res) {
        Json body;
        if (!parse_json_body(req.body, body, res)) {
            return;
        }
        if (refuse_unknown_model(body, res)) {
            return;
        }
        const uint64_t seed = seed_.fetch_add(0x9e3779b97f4a7c15ull);
        Result<Job> job = parse(body, tokenizer_, options_.limits, seed);
        if (!job.ok()) {
            send_error(res, http_status(job.error().code()), job.error().message());
            return;
        }
        const int64_t prompt_tokens = static_cast<int64_t>(job->request.prompt.size());
        const bool streamed = job->stream;
        const bool include_usage = job->include_usage;
        const std::string model = job->model.empty() ? options_.model_name : job->model; // as the request names it
        const int n = job->n;
        answer(
            choice_requests(std::move(job->request), n), streamed,
            [&](uint64_t id) {
                const std::string reply_id = fmt::format("{}-{:016x}", id_prefix, id ^ seed);
                const int64_t created = unix_seconds();
                std::vector<std::unique_ptr<Assembler>> choices;
                for (int i = 0; i < n; ++i) {
                    choices.push_back(
                        std::make_unique<Assembler>(tokenizer_, reply_id, model, created, job->output, i));
                }
                return std::make_shared<ChunkedReply<Assembler>>(std::move(choices), prompt_tokens, streamed,
                                                                 include_usage);
            },
            res);
    });
}

void HttpServer::answer(std::vector<BatchRequest> choices,
                        bool streamed,
                        const std::function<std::shared_ptr<ReplyWriter>(uint64_t id)>& make,
                        httplib::Response& res) {
    auto active = std::make_shared<ActiveRequest>(active_);
    SubmittedReply reply;
    reply.stream = std::make_shared<RequestStream>();
    // The other choices are submitted when the first has its first token (reply.h), into places free now.
    const auto others = static_cast<int64_t>(choices.size()) - 1;
    std::optional<uint64_t> id = engine_.submit(std::move(choices[0]), reply.stream, options_.max_open - others);
    if (!id) {
        refuse_full(res);
        return;
    }
    reply.first_id = *id;
    reply.later.assign(std::make_move_iterator(choices.begin() + 1), std::make_move_iterator(choices.end()));
    std::shared_ptr<ReplyWriter> writer = make(*id);
    if (streamed) {
        reply_stream(engine_, std::move(reply), writer, active, res);
    } else {
        reply_whole(engine_, std::move(reply), *writer, res);
    }
}

bool HttpServer::refuse_unknown_model(const Json& body, httplib::Response& res) const {
    auto model = body.is_object() ? body.find("model") : body.end();
    if (model == body.end() || !model->is_string() || model->get<std::string>().empty()) {
        return false; // absent or null is served; other types are the parser's 400
    }
    const std::string& name = model->get<std::string>();
    const std::vector<std::string>& aliases = options_.model_aliases;
    if (name == options_.model_name || std::find(aliases.begin(), aliases.end(), name) != aliases.end()) {
        return false;
    }
    send_error(res, 404, fmt::format("the model '{}' is not served here; '{}' is", name, options_.model_name),
               "model_not_found", "model");
    return true;
}

void HttpServer::refuse_full(httplib::Response& res) const {
    res.set_header("Retry-After", "1");
    send_error(res, 429, fmt::format("the server has {} requests open; try again", options_.max_open));
}

} // namespace tllm::server
