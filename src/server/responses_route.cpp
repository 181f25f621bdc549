// The Responses routes of HttpServer: POST /v1/responses (whole, or as server-sent events), and GET and DELETE
// /v1/responses/{id} for stored responses.
#include "core/log.h"
#include "server/http_server.h"
#include "server/reply.h"
#include "server/responses_output.h"
#include "server/responses_request.h"
#include "server/responses_tools.h"

#include <fmt/format.h>
#include <httplib.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;

// A response's events: every event of the stream, or the Response object at the end. A completed or incomplete
// response is stored (unless the request said store: false) before the client hears of its end, so that the
// client may continue from it at once.
class ResponsesReply : public ReplyWriter {
  public:
    ResponsesReply(std::unique_ptr<ResponseAssembler> assembler,
                   ResponseStore* store,
                   ResponsesJob job,
                   bool streamed,
                   std::unique_ptr<ResponseTools> tools)
        : assembler_(std::move(assembler)), store_(store), job_(std::move(job)), streamed_(streamed),
          tools_(std::move(tools)) {}

    void start(std::string& out) override { send(&ResponseAssembler::start, out); }
    bool token(size_t, const TokenEvent& token, std::string& out) override {
        std::vector<Json> events;
        assembler_->add_cached_tokens(token.cached_prompt_tokens);
        assembler_->on_token(token.token, events);
        append(events, out);
        return false;
    }
    void finished(size_t, bool length, std::string& out) override {
        std::vector<Json> events;
        assembler_->finish(length, events);
        response_ = assembler_->response();
        const Json& response = response_;
        if (store_ != nullptr) {
            StoredResponse stored{response["id"].get<std::string>(), response, job_.input_items, job_.conversation};
            for (const Json& item : assembler_->output()) {
                stored.conversation.push_back(item);
            }
            if (Status status = store_->put(stored); !status.ok()) {
                TLLM_LOG_ERROR("cannot store {}: {}", stored.id, status.error().to_string());
            }
        }
        append(events, out);
    }
    void done(std::string& out) override {
        if (!streamed_) {
            out = response_.dump();
        }
    }
    std::optional<BatchRequest> next_request(size_t, bool& length, std::string& out) override {
        if (tools_ == nullptr) {
            return std::nullopt;
        }
        std::vector<Json> events;
        ResponseTools::Step step = tools_->run(*assembler_, events);
        append(events, out);
        length = length || step.length;
        return std::move(step.next);
    }
    void failed(const Error& error, std::string& out) override {
        std::vector<Json> events;
        assembler_->fail(error, events);
        append(events, out);
    }

  private:
    void send(void (ResponseAssembler::*make)(std::vector<Json>&), std::string& out) {
        std::vector<Json> events;
        (assembler_.get()->*make)(events);
        append(events, out);
    }
    void append(const std::vector<Json>& events, std::string& out) const {
        if (streamed_) {
            for (const Json& event : events) {
                out += ResponseAssembler::sse(event);
            }
        }
    }

    std::unique_ptr<ResponseAssembler> assembler_;
    ResponseStore* store_; // null: not stored
    ResponsesJob job_;
    bool streamed_;
    std::unique_ptr<ResponseTools> tools_; // null: the request asked for no built-in tool
    Json response_;                        // once finished
};

// Whether a store operation found the response `id`; when not, the answer is sent: 500 when the store failed, 404
// (with `what` before the message, and OpenAI's `code`) when it has no such response.
template <typename T>
bool found(
    const Result<T>& result, const std::string& id, httplib::Response& res, const std::string& what, const char* code) {
    if (!result.ok()) {
        TLLM_LOG_ERROR("response store: {}", result.error().to_string());
        send_error(res, 500, "the response store failed");
        return false;
    }
    if (!*result) {
        send_error(res, 404, fmt::format("{}no stored response has the id '{}'", what, id), code);
        return false;
    }
    return true;
}

} // namespace

void HttpServer::responses_routes() {
    http_->Post("/v1/responses", [this](const httplib::Request& req, httplib::Response& res) {
        Json body;
        if (!parse_json_body(req.body, body, res)) {
            return;
        }
        if (refuse_unknown_model(body, res)) {
            return;
        }
        Result<std::optional<std::string>> previous_id = previous_response_id(body);
        if (!previous_id.ok()) {
            send_error(res, 400, previous_id.error().message());
            return;
        }
        Json previous = Json::array();
        if (*previous_id) {
            Result<std::optional<StoredResponse>> stored = store_->get(**previous_id);
            if (!found(stored, **previous_id, res, "previous_response_id: ", "previous_response_not_found")) {
                return;
            }
            previous = std::move((*stored)->conversation);
        }
        const uint64_t seed = seed_.fetch_add(0x9e3779b97f4a7c15ull);
        Result<ResponsesJob> job = parse_responses_request(body, previous, tokenizer_, options_.limits, seed,
                                                           options_.builtin_tools.namespaces);
        if (!job.ok()) {
            send_error(res, http_status(job.error().code()), job.error().message());
            return;
        }
        ResponseInfo info;
        info.model = job->model.empty() ? options_.model_name : job->model;
        info.created_at = unix_seconds();
        info.echo = job->echo;
        info.input_tokens = static_cast<int64_t>(job->request.prompt.size());
        info.browser_tool = job->browser;
        info.python_tool = job->python;
        std::unique_ptr<ResponseTools> tools;
        if (job->browser || job->python) {
            tools = std::make_unique<ResponseTools>(options_.builtin_tools, tokenizer_, job->harmony, job->request,
                                                    options_.limits.context, job->browser, job->python);
        }
        const bool streamed = job->stream;
        std::vector<BatchRequest> one;
        one.push_back(std::move(job->request));
        answer(
            std::move(one), streamed,
            [&](uint64_t id) {
                info.id = fmt::format("resp_{:016x}{:08x}", seed ^ id_salt_, id);
                auto assembler = std::make_unique<ResponseAssembler>(tokenizer_, std::move(info), job->forced_header);
                ResponseStore* store = job->store ? store_ : nullptr;
                return std::make_shared<ResponsesReply>(std::move(assembler), store, std::move(job).value(), streamed,
                                                        std::move(tools));
            },
            res);
    });
    http_->Get(R"(/v1/responses/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        Result<std::optional<StoredResponse>> stored = store_->get(id);
        if (found(stored, id, res, "", "not_found")) {
            res.set_content((*stored)->response.dump(), "application/json");
        }
    });
    http_->Delete(R"(/v1/responses/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        Result<bool> removed = store_->remove(id);
        if (found(removed, id, res, "", "not_found")) {
            res.set_content(Json{{"id", id}, {"object", "response"}, {"deleted", true}}.dump(), "application/json");
        }
    });
}

} // namespace tllm::server
