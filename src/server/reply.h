// What the routes of HttpServer share: OpenAI's error object, and the loop that carries one request's events from
// its queue (EngineLoop) to its client, whole or as server-sent events. A route says what its events become by a
// ReplyWriter; the loop does the waiting, the keep-alive comments that find vanished clients, and the cancelling.
#pragma once

#include "core/result.h"
#include "server/engine_loop.h"

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace httplib {
struct Response;
}

namespace tllm::server {

// The HTTP status of an error a request met (400 for a client's mistake, 404 for what is not there, ...).
int http_status(ErrorCode code);
// {"error": {"message", "type", "param", "code"}}; `code` is OpenAI's machine-readable name and `param` the field at
// fault, when there are such.
nlohmann::ordered_json
error_body(const std::string& message, int status, const char* code = nullptr, const char* param = nullptr);
void send_error(httplib::Response& res,
                int status,
                const std::string& message,
                const char* code = nullptr,
                const char* param = nullptr);
int64_t unix_seconds();
// Parses a request body; false (with the 400 sent) when it is not JSON.
bool parse_json_body(const std::string& text, nlohmann::ordered_json& body, httplib::Response& res);

// What a route makes of one request's events.
class ReplyWriter {
  public:
    virtual ~ReplyWriter() = default;
    // A stream's first events, before any token.
    virtual void start(std::string& out) { (void)out; }
    // A sampled token: appends what a stream sends now. True when the reply is complete although the engine would
    // go on (a stop string): the request is cancelled and finished() follows.
    virtual bool token(const TokenEvent& token, std::string& out) = 0;
    // The end (`length`: the token limit was reached): appends the rest of a stream, or the whole body.
    virtual void finished(bool length, std::string& out) = 0;
    // The request ended (`length`: at its token limit). A reply that goes on past it (the Responses API runs a
    // built-in tool the model called, and the model reads its answer) appends its events and returns the request
    // that continues it, to be submitted as it is; nullopt: finished() follows, with `length` as left here.
    virtual std::optional<BatchRequest> next_request(bool& length, std::string& out) {
        (void)length;
        (void)out;
        return std::nullopt;
    }
    // The engine refused or failed the request: appends a stream's last events (a whole reply gets the error
    // object instead).
    virtual void failed(const Error& error, std::string& out) = 0;
};

// "data: JSON\n\n": one server-sent event of the chunked routes (Chat Completions, Completions).
std::string data_event(const nlohmann::ordered_json& data);

// The writer of the routes whose Assembler makes OpenAI's chunks: deltas ending in `data: [DONE]` (with a usage
// chunk first when stream_options.include_usage asks), or one whole object. Assembler has on_token(),
// finish_chunk(), usage_chunk() and response() as ChatCompletionAssembler does.
template <typename Assembler> class ChunkedReply : public ReplyWriter {
  public:
    ChunkedReply(std::unique_ptr<Assembler> assembler, int64_t prompt_tokens, bool streamed, bool include_usage)
        : assembler_(std::move(assembler)), prompt_tokens_(prompt_tokens), streamed_(streamed),
          include_usage_(include_usage) {}

    bool token(const TokenEvent& token, std::string& out) override {
        std::vector<nlohmann::ordered_json> chunks;
        const bool stop = assembler_->on_token(token, chunks);
        for (const nlohmann::ordered_json& chunk : chunks) {
            out += data_event(chunk);
        }
        return stop;
    }
    void finished(bool length, std::string& out) override {
        if (!streamed_) {
            out = assembler_->response(length, prompt_tokens_).dump();
            return;
        }
        std::vector<nlohmann::ordered_json> chunks;
        const nlohmann::ordered_json last = assembler_->finish_chunk(length, chunks);
        chunks.push_back(last);
        if (include_usage_) {
            chunks.push_back(assembler_->usage_chunk(prompt_tokens_));
        }
        for (const nlohmann::ordered_json& chunk : chunks) {
            out += data_event(chunk);
        }
        out += "data: [DONE]\n\n";
    }
    void failed(const Error& error, std::string& out) override {
        out += data_event(error_body(error.message(), http_status(error.code()))) + "data: [DONE]\n\n";
    }

  private:
    std::unique_ptr<Assembler> assembler_;
    int64_t prompt_tokens_;
    bool streamed_;
    bool include_usage_;
};

// Counts a request from its submission until its response is complete (for HttpServer::drain()).
class ActiveRequest {
  public:
    explicit ActiveRequest(std::atomic<int>& count) : count_(count) { ++count_; }
    ~ActiveRequest() { --count_; }
    ActiveRequest(const ActiveRequest&) = delete;
    ActiveRequest& operator=(const ActiveRequest&) = delete;

  private:
    std::atomic<int>& count_;
};

// Waits for the request's end (and its continuations') and answers with the whole body (application/json), or with
// the error.
void reply_whole(EngineLoop& engine,
                 std::shared_ptr<RequestStream> stream,
                 ReplyWriter& writer,
                 httplib::Response& res);
// Answers with server-sent events as they come; a client that goes away has its request cancelled. `active` is
// held until the stream is done.
void reply_stream(EngineLoop& engine,
                  std::shared_ptr<RequestStream> stream,
                  std::shared_ptr<ReplyWriter> writer,
                  std::shared_ptr<ActiveRequest> active,
                  httplib::Response& res);

} // namespace tllm::server
