#include "server/reply.h"

#include <chrono>
#include <functional>
#include <httplib.h>
#include <map>

namespace tllm::server {
namespace {

using Json = nlohmann::ordered_json;
constexpr auto kPoll = std::chrono::milliseconds(100);      // how often a waiting handler checks for events
constexpr auto kKeepAlive = std::chrono::milliseconds(500); // silence after which a stream checks on its client

// One reply's requests in flight: which choice each is, which are still open, and the choices not yet submitted. It
// carries each event of the reply's stream to the writer.
class OpenReply {
  public:
    enum class Progress { kOpen, kDone, kClientGone };

    OpenReply(EngineLoop& engine, SubmittedReply reply, ReplyWriter& writer)
        : engine_(engine), stream_(std::move(reply.stream)), first_id_(reply.first_id), later_(std::move(reply.later)),
          writer_(writer) {
        choice_of_[first_id_] = 0;
    }

    bool next(RequestEvent& event) { return stream_->next(event, kPoll); }
    const std::optional<Error>& error() const { return error_; }

    // Carries `event` to the writer, appending what it writes to `out`. `flush` sends `out` as it stands (before a
    // tool runs, which may take a while) and empties it; false when the client is gone.
    Progress handle(RequestEvent& event, std::string& out, const std::function<bool(std::string&)>& flush) {
        auto it = choice_of_.find(event.id);
        if (it == choice_of_.end()) {
            return Progress::kOpen; // a choice that has ended: tokens of its last step may still come
        }
        const size_t choice = it->second;
        if (event.id == first_id_ && !later_.empty() && event.kind != RequestEvent::Kind::kError) {
            // The first choice's prompt is computed and published: the others reuse all of it but its last part.
            for (size_t i = 0; i < later_.size(); ++i) {
                choice_of_[*engine_.submit(std::move(later_[i]), stream_)] = i + 1;
            }
            later_.clear();
        }
        switch (event.kind) {
        case RequestEvent::Kind::kError:
            error_ = event.error;
            writer_.failed(event.error, out);
            cancel();
            return Progress::kDone;
        case RequestEvent::Kind::kToken:
            if (!writer_.token(choice, event.token, out)) {
                return Progress::kOpen;
            }
            engine_.cancel(event.id); // a stop string: the choice is complete
            return end(event.id, choice, false, out, flush);
        case RequestEvent::Kind::kFinished:
            break;
        }
        bool length = event.finished.reason == FinishReason::kLength;
        if (!flush(out)) {
            return Progress::kClientGone;
        }
        if (std::optional<BatchRequest> next = writer_.next_request(choice, length, out)) {
            choice_of_.erase(event.id);
            choice_of_[*engine_.submit(std::move(*next), stream_)] = choice; // already counted as open
            return Progress::kOpen;
        }
        return end(event.id, choice, length, out, flush);
    }

    // Cancels the requests still open (the client is gone, or the reply failed); the choices not yet submitted never
    // will be.
    void cancel() {
        for (const auto& [id, choice] : choice_of_) {
            engine_.cancel(id);
        }
        choice_of_.clear();
        later_.clear();
    }

  private:
    Progress
    end(uint64_t id, size_t choice, bool length, std::string& out, const std::function<bool(std::string&)>& flush) {
        choice_of_.erase(id);
        writer_.finished(choice, length, out);
        if (!choice_of_.empty() || !later_.empty()) {
            return Progress::kOpen;
        }
        if (!flush(out)) { // what a whole reply drops: its body is what done() writes
            return Progress::kClientGone;
        }
        writer_.done(out);
        return Progress::kDone;
    }

    EngineLoop& engine_;
    std::shared_ptr<RequestStream> stream_;
    uint64_t first_id_;
    std::vector<BatchRequest> later_;
    ReplyWriter& writer_;
    std::map<uint64_t, size_t> choice_of_; // open request -> its choice
    std::optional<Error> error_;
};

// What a streamed response's content provider keeps between its calls.
struct StreamState {
    std::shared_ptr<ReplyWriter> writer;
    std::unique_ptr<OpenReply> reply;
    bool started = false;
    bool ended = false; // the reply is complete: no request of it is open
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

void reply_whole(EngineLoop& engine, SubmittedReply submitted, ReplyWriter& writer, httplib::Response& res) {
    OpenReply reply(engine, std::move(submitted), writer);
    // A whole reply's body is what done() writes; what the other calls append is for streams.
    auto discard = [](std::string& out) {
        out.clear();
        return true;
    };
    std::string out;
    while (true) {
        RequestEvent e;
        if (!reply.next(e)) {
            continue;
        }
        out.clear();
        if (reply.handle(e, out, discard) == OpenReply::Progress::kOpen) {
            continue;
        }
        if (reply.error()) {
            send_error(res, http_status(reply.error()->code()), reply.error()->message());
        } else {
            res.set_content(out, "application/json");
        }
        return;
    }
}

void reply_stream(EngineLoop& engine,
                  SubmittedReply submitted,
                  std::shared_ptr<ReplyWriter> writer,
                  std::shared_ptr<ActiveRequest> active,
                  httplib::Response& res) {
    auto state = std::make_shared<StreamState>();
    state->reply = std::make_unique<OpenReply>(engine, std::move(submitted), *writer);
    state->writer = std::move(writer);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [state](size_t, httplib::DataSink& sink) {
            std::string out;
            if (!state->started) {
                state->started = true;
                state->writer->start(out);
            }
            RequestEvent e;
            if (!state->reply->next(e)) {
                // Nothing to send (the request waits for a place, or its output is inside a Harmony header): a
                // comment line now and then, which clients ignore, finds out whether the client is still there. A
                // failed write ends the stream, and the releaser cancels the requests.
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
            auto flush = [&sink](std::string& text) {
                const bool written = text.empty() || sink.write(text.data(), text.size());
                text.clear();
                return written;
            };
            switch (state->reply->handle(e, out, flush)) {
            case OpenReply::Progress::kOpen:
                return flush(out);
            case OpenReply::Progress::kClientGone:
                return false;
            case OpenReply::Progress::kDone:
                break;
            }
            state->ended = true;
            const bool written = flush(out);
            sink.done();
            return written;
        },
        [state, active](bool) {
            if (!state->ended) { // the client went away
                state->reply->cancel();
            }
        });
}

} // namespace tllm::server
