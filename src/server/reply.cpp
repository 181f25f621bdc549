#include "server/reply.h"

#include <chrono>
#include <httplib.h>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;
constexpr auto kPoll = std::chrono::milliseconds(100);      // how often a waiting handler checks for events
constexpr auto kKeepAlive = std::chrono::milliseconds(500); // silence after which a stream checks on its client

// What a streamed response's content provider keeps between its calls.
struct StreamState {
    std::shared_ptr<RequestStream> stream;
    std::shared_ptr<ReplyWriter> writer;
    bool started = false;
    bool ended = false; // the engine is done with the request
    std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

} // namespace

int http_status(ErrorCode code) {
    switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kUnsupported:
    case ErrorCode::kContextOverflow:
        return 400;
    case ErrorCode::kNotFound:
        return 404;
    case ErrorCode::kOutOfMemory:
        return 503;
    default:
        return 500;
    }
}

Json error_body(const std::string& message, int status, const char* code, const char* param) {
    const char* type = status == 401   ? "authentication_error"
                       : status == 429 ? "rate_limit_error"
                       : status < 500  ? "invalid_request_error"
                                       : "server_error";
    return Json{{"error",
                 {{"message", message},
                  {"type", type},
                  {"param", param ? Json(param) : Json()},
                  {"code", code ? Json(code) : Json()}}}};
}

void send_error(httplib::Response& res, int status, const std::string& message, const char* code, const char* param) {
    res.status = status;
    res.set_content(error_body(message, status, code, param).dump(), "application/json");
}

bool parse_json_body(const std::string& text, Json& body, httplib::Response& res) {
    body = Json::parse(text, nullptr, false);
    if (body.is_discarded()) {
        send_error(res, 400, "the request body is not valid JSON");
        return false;
    }
    return true;
}

std::string data_event(const Json& data) { return "data: " + data.dump() + "\n\n"; }

int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void reply_whole(EngineLoop& engine,
                 std::shared_ptr<RequestStream> stream,
                 ReplyWriter& writer,
                 httplib::Response& res) {
    std::string ignored;
    while (true) {
        RequestEvent e;
        if (!stream->next(e, kPoll)) {
            continue;
        }
        if (e.kind == RequestEvent::Kind::kError) {
            send_error(res, http_status(e.error.code()), e.error.message());
            return;
        }
        bool length = e.kind == RequestEvent::Kind::kFinished && e.finished.reason == FinishReason::kLength;
        if (e.kind == RequestEvent::Kind::kToken) {
            ignored.clear();
            if (!writer.token(e.token, ignored)) {
                continue;
            }
            engine.cancel(stream->id()); // a stop string: the reply is complete
        } else if (std::optional<BatchRequest> next = writer.next_request(length, ignored)) {
            // Already counted as open: the reply's first request has ended.
            if (std::shared_ptr<RequestStream> continued = engine.submit(std::move(*next))) {
                stream = std::move(continued);
                continue;
            }
        }
        std::string body;
        writer.finished(length, body);
        res.set_content(body, "application/json");
        return;
    }
}

void reply_stream(EngineLoop& engine,
                  std::shared_ptr<RequestStream> stream,
                  std::shared_ptr<ReplyWriter> writer,
                  std::shared_ptr<ActiveRequest> active,
                  httplib::Response& res) {
    auto state = std::make_shared<StreamState>();
    state->stream = std::move(stream);
    state->writer = std::move(writer);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [&engine, state](size_t, httplib::DataSink& sink) {
            std::string out;
            if (!state->started) {
                state->started = true;
                state->writer->start(out);
            }
            auto last = [&] {
                state->ended = true;
                const bool written = sink.write(out.data(), out.size());
                sink.done();
                return written;
            };
            RequestEvent e;
            if (!state->stream->next(e, kPoll)) {
                // Nothing to send (the request waits for a place, or its output is inside a Harmony header): a
                // comment line now and then, which clients ignore, finds out whether the client is still there. A
                // failed write ends the stream, and the releaser cancels the request.
                const auto now = std::chrono::steady_clock::now();
                if (out.empty() && now - state->last_write < kKeepAlive) {
                    return true;
                }
                state->last_write = now;
                if (out.empty()) {
                    out = ": keep-alive\n\n";
                }
                return sink.write(out.data(), out.size());
            }
            state->last_write = std::chrono::steady_clock::now();
            if (e.kind == RequestEvent::Kind::kError) {
                state->writer->failed(e.error, out);
                return last();
            }
            if (e.kind == RequestEvent::Kind::kFinished) {
                bool length = e.finished.reason == FinishReason::kLength;
                // A tool's run may take a while; the client learns of the call's end first.
                if (!out.empty() && !sink.write(out.data(), out.size())) {
                    return false;
                }
                out.clear();
                if (std::optional<BatchRequest> next = state->writer->next_request(length, out)) {
                    if (std::shared_ptr<RequestStream> continued = engine.submit(std::move(*next))) {
                        state->stream = std::move(continued); // the releaser cancels this one if the client goes
                        return out.empty() || sink.write(out.data(), out.size());
                    }
                }
                state->writer->finished(length, out);
                return last();
            }
            if (state->writer->token(e.token, out)) { // a stop string: the reply is complete
                engine.cancel(state->stream->id());
                state->writer->finished(false, out);
                return last();
            }
            return out.empty() || sink.write(out.data(), out.size());
        },
        [&engine, state, active](bool) {
            if (!state->ended) { // the client went away
                engine.cancel(state->stream->id());
            }
        });
}

} // namespace tllm::server
