// The batched engine (runtime/batch_engine.h) on a thread of its own, for the HTTP handlers of `tritonllm serve`:
// requests come in from any thread and their tokens go out to one queue per request, which its handler drains at
// its own pace. The engine thread never waits on a handler, so a slow or vanished client stalls neither the
// engine nor the other clients; a handler whose client is gone cancels its request.
#pragma once

#include "core/result.h"
#include "runtime/batch_engine.h"
#include "server/metrics.h"

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace tllm::server {

// What a request's queue receives: its tokens one by one, then one end (finished, refused or failed).
struct RequestEvent {
    enum class Kind { kToken, kFinished, kError };
    Kind kind = Kind::kToken;
    uint64_t id = 0;                       // the request's: a stream may carry several (the choices of one reply)
    TokenEvent token;                      // kToken
    FinishedRequest finished;              // kFinished
    Error error{ErrorCode::kInternal, ""}; // kError: the request was refused (bad parameters) or the engine failed
};

// The queue of events of one reply's requests (one, or one per choice), filled by the engine thread: one queue, so
// that its handler waits on all of them at once.
class RequestStream {
  public:
    // The next event, waiting up to `timeout`; false when none came (the caller may check its client and wait
    // again).
    bool next(RequestEvent& event, std::chrono::milliseconds timeout);
    void push(RequestEvent event);

  private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<RequestEvent> events_;
};

struct EngineLoopStats {
    int64_t requests = 0;         // submitted
    int64_t generated_tokens = 0; // in all
    int64_t prompt_tokens = 0;    // of requests the engine accepted
    // Prompt positions looked up in the prefix cache at admission, and those found there.
    int64_t prefix_query_tokens = 0;
    int64_t prefix_hit_tokens = 0;
    int64_t open = 0; // submitted and not yet ended (waiting to be taken in, queued, or generating)
    int running = 0;
    int waiting = 0; // in the scheduler's queue, or not yet taken in by the engine thread
    int32_t kv_blocks = 0;
    int32_t kv_blocks_used = 0;   // held by a sequence (cached blocks nobody holds are free to take)
    int32_t kv_blocks_cached = 0; // published for prefix reuse, held or not
    Histogram time_to_first_token = time_to_first_token_histogram();
    Histogram inter_token_latency = inter_token_latency_histogram();
};

class EngineLoop {
  public:
    // Starts the engine thread over `engine` (which must outlive the loop).
    static Result<std::unique_ptr<EngineLoop>> create(Engine& engine, const BatchEngineOptions& options);
    ~EngineLoop(); // stops the thread; requests still open end with an error
    EngineLoop(const EngineLoop&) = delete;
    EngineLoop& operator=(const EngineLoop&) = delete;

    // Queues a request whose events go to `stream` and returns its id (set here); nullopt when `max_open` requests
    // are open already (generating or waiting). A request the engine refuses gets one kError event.
    std::optional<uint64_t>
    submit(BatchRequest request, std::shared_ptr<RequestStream> stream, int64_t max_open = INT64_MAX);
    // Ends a request early (its client is gone); its blocks go back to the pool. Unknown ids are ignored.
    void cancel(uint64_t id);
    EngineLoopStats stats() const;
    // Ends every open request with `error` (a shutdown past its deadline).
    void fail_all(Error error);
    const GptOssConfig& config() const { return engine_.config(); }

  private:
    EngineLoop(Engine& engine, std::unique_ptr<BatchEngine> batch);
    using Clock = std::chrono::steady_clock;
    struct Incoming {
        BatchRequest request;
        std::shared_ptr<RequestStream> stream;
        Clock::time_point submitted;
    };
    struct Open {
        std::shared_ptr<RequestStream> stream;
        Clock::time_point submitted;
        std::optional<Clock::time_point> last_token;
    };
    void run();
    // Engine thread: counts a step's tokens (before they are pushed, so that a client that has its reply reads
    // figures that include it) and refreshes the engine's gauges.
    void update_stats(const std::vector<TokenEvent>& tokens);

    Engine& engine_;
    std::unique_ptr<BatchEngine> batch_; // touched by the engine thread only
    mutable std::mutex mutex_;
    std::condition_variable work_;
    bool stopping_ = false;
    uint64_t next_id_ = 1;
    int64_t open_ = 0; // submitted and not yet ended
    std::vector<Incoming> incoming_;
    std::vector<uint64_t> cancelled_;
    std::optional<Error> fail_all_;    // set by fail_all(), carried out by the engine thread
    std::map<uint64_t, Open> streams_; // requests in the engine (engine thread only)
    EngineLoopStats stats_;
    std::thread thread_;
};

} // namespace tllm::server
