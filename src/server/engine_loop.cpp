#include "server/engine_loop.h"

#include "core/log.h"

namespace tllm::server {

bool RequestStream::next(RequestEvent& event, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) {
        return false;
    }
    event = std::move(events_.front());
    events_.pop_front();
    return true;
}

void RequestStream::push(RequestEvent event) {
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(event));
    }
    ready_.notify_all();
}

Result<std::unique_ptr<EngineLoop>> EngineLoop::create(Engine& engine, const BatchEngineOptions& options) {
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<BatchEngine> batch, BatchEngine::create(engine, options));
    std::unique_ptr<EngineLoop> loop(new EngineLoop(engine, std::move(batch)));
    loop->thread_ = std::thread([raw = loop.get()] { raw->run(); });
    return loop;
}

EngineLoop::EngineLoop(Engine& engine, std::unique_ptr<BatchEngine> batch) : engine_(engine), batch_(std::move(batch)) {
    update_stats({}); // the pool's size is known before any request
}

EngineLoop::~EngineLoop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::optional<uint64_t>
EngineLoop::submit(BatchRequest request, std::shared_ptr<RequestStream> stream, int64_t max_open) {
    uint64_t id = 0;
    {
        std::lock_guard lock(mutex_);
        if (open_ >= max_open) {
            return std::nullopt;
        }
        ++open_;
        id = request.id = next_id_++;
        incoming_.push_back({std::move(request), std::move(stream), Clock::now()});
        ++stats_.requests;
    }
    work_.notify_all();
    return id;
}

void EngineLoop::cancel(uint64_t id) {
    {
        std::lock_guard lock(mutex_);
        cancelled_.push_back(id);
    }
    work_.notify_all();
}

void EngineLoop::fail_all(Error error) {
    {
        std::lock_guard lock(mutex_);
        fail_all_ = std::move(error);
    }
    work_.notify_all();
}

EngineLoopStats EngineLoop::stats() const {
    std::lock_guard lock(mutex_);
    EngineLoopStats stats = stats_;
    stats.open = open_;
    stats.waiting += static_cast<int>(incoming_.size());
    return stats;
}

void EngineLoop::update_stats(const std::vector<TokenEvent>& tokens) {
    const Clock::time_point now = Clock::now();
    std::lock_guard lock(mutex_);
    for (const TokenEvent& token : tokens) {
        auto it = streams_.find(token.id);
        if (it == streams_.end()) {
            continue;
        }
        Open& open = it->second;
        if (open.last_token) {
            stats_.inter_token_latency.observe(std::chrono::duration<double>(now - *open.last_token).count());
        } else {
            stats_.time_to_first_token.observe(std::chrono::duration<double>(now - open.submitted).count());
        }
        open.last_token = now;
    }
    stats_.generated_tokens += static_cast<int64_t>(tokens.size());
    const KvCacheManager& kv = batch_->kv();
    stats_.prefix_query_tokens = kv.prefix_stats().prompt_tokens;
    stats_.prefix_hit_tokens = kv.prefix_stats().reused_tokens;
    stats_.kv_blocks = kv.pool().n_blocks();
    stats_.kv_blocks_used = kv.pool().n_blocks() - kv.pool().available();
    stats_.kv_blocks_cached = kv.pool().cached();
    stats_.running = batch_->scheduler().running();
    stats_.waiting = batch_->scheduler().waiting();
}

void EngineLoop::run() {
    auto ended = [this](int64_t count) {
        std::lock_guard lock(mutex_);
        open_ -= count;
    };
    auto fail = [](const std::shared_ptr<RequestStream>& stream, uint64_t id, Error error) {
        RequestEvent event;
        event.kind = RequestEvent::Kind::kError;
        event.id = id;
        event.error = std::move(error);
        stream->push(std::move(event));
    };
    while (true) {
        std::vector<Incoming> incoming;
        std::vector<uint64_t> cancelled;
        std::optional<Error> failing;
        {
            std::unique_lock lock(mutex_);
            work_.wait(lock, [&] {
                return stopping_ || fail_all_ || !incoming_.empty() || !cancelled_.empty() || !batch_->idle();
            });
            if (stopping_) {
                break;
            }
            incoming.swap(incoming_);
            cancelled.swap(cancelled_);
            failing = std::move(fail_all_);
            fail_all_.reset();
        }
        if (failing) {
            for (Incoming& in : incoming) {
                fail(in.stream, in.request.id, *failing);
            }
            ended(static_cast<int64_t>(incoming.size()));
            incoming.clear();
            for (auto& [id, open] : streams_) {
                std::vector<FinishedRequest> dropped;
                batch_->cancel(id, dropped);
                fail(open.stream, id, *failing);
            }
            ended(static_cast<int64_t>(streams_.size()));
            streams_.clear();
        }
        for (Incoming& in : incoming) {
            const uint64_t id = in.request.id;
            const auto prompt_tokens = static_cast<int64_t>(in.request.prompt.size());
            Status status = batch_->submit(std::move(in.request));
            if (!status.ok()) {
                fail(in.stream, id, status.error());
                ended(1);
                continue;
            }
            {
                std::lock_guard lock(mutex_);
                stats_.prompt_tokens += prompt_tokens;
            }
            streams_.emplace(id, Open{in.stream, in.submitted, std::nullopt});
        }
        for (uint64_t id : cancelled) {
            std::vector<FinishedRequest> finished;
            if (batch_->cancel(id, finished)) {
                streams_.erase(id); // its client is gone: nobody reads the stream
                ended(1);
            }
        }
        if (batch_->idle()) {
            update_stats({});
            continue;
        }
        std::vector<TokenEvent> tokens;
        std::vector<FinishedRequest> finished;
        const Status status = batch_->step(tokens, finished);
        if (!status.ok()) {
            // The engine cannot go on with these requests (a device error): every open one ends with the error,
            // and their KV goes back so that new requests can still be tried.
            TLLM_LOG_ERROR("engine step failed: {}", status.error().to_string());
            for (auto& [id, open] : streams_) {
                std::vector<FinishedRequest> dropped;
                batch_->cancel(id, dropped);
                fail(open.stream, id, status.error());
            }
            ended(static_cast<int64_t>(streams_.size()));
            streams_.clear();
            update_stats({});
            continue;
        }
        update_stats(tokens);
        for (TokenEvent& token : tokens) {
            auto it = streams_.find(token.id);
            if (it != streams_.end()) {
                RequestEvent event;
                event.id = token.id;
                event.token = std::move(token);
                it->second.stream->push(std::move(event));
            }
        }
        for (FinishedRequest& done : finished) {
            auto it = streams_.find(done.id);
            if (it == streams_.end()) {
                continue;
            }
            RequestEvent event;
            event.kind = RequestEvent::Kind::kFinished;
            event.id = done.id;
            event.finished = std::move(done);
            it->second.stream->push(std::move(event));
            streams_.erase(it);
            ended(1);
        }
    }
    const Error shutting_down(ErrorCode::kInternal, "the server is shutting down");
    for (auto& [id, open] : streams_) {
        fail(open.stream, id, shutting_down);
    }
    std::lock_guard lock(mutex_);
    for (Incoming& in : incoming_) {
        fail(in.stream, in.request.id, shutting_down);
    }
}

} // namespace tllm::server
