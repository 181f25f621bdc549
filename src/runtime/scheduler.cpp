#include "runtime/scheduler.h"

#include "core/check.h"

#include <algorithm>
#include <utility>

namespace tllm {

Scheduler::Scheduler(KvCacheManager& kv, int64_t step_token_budget, int max_running)
    : kv_(kv), budget_(step_token_budget), max_running_(max_running) {
    // Every running sequence decodes at every step: the budget must hold one token for each.
    TLLM_CHECK(max_running > 0 && step_token_budget >= max_running, "Scheduler: budget {} for {} sequences",
               step_token_budget, max_running);
}

void Scheduler::submit(GenerationRequest request, double now) {
    TLLM_CHECK(!request.prompt.empty() && request.max_new_tokens > 0 && !sequences_.contains(request.id),
               "Scheduler::submit: request {} ({} prompt tokens, {} new)", request.id, request.prompt.size(),
               request.max_new_tokens);
    const uint64_t id = request.id;
    Sequence sequence;
    sequence.tokens = request.prompt;
    sequence.request = std::move(request);
    sequence.timing.submitted = now;
    sequence.serial = ++submissions_;
    sequences_.emplace(id, std::move(sequence));
    waiting_.push_back(id);
}

bool Scheduler::cancel(uint64_t id, std::vector<FinishedRequest>& finished) {
    const auto found = sequences_.find(id);
    if (found == sequences_.end()) {
        return false;
    }
    finished.push_back(finish(found->second, FinishReason::kCancelled));
    return true;
}

void Scheduler::preempt_newest(StepPlan& plan) {
    const uint64_t id = running_.back();
    running_.pop_back();
    kv_.free(sequences_.at(id).kv);
    waiting_.push_front(id);
    plan.preempted.push_back(id);
    ++preemptions_;
}

StepPlan Scheduler::plan(double now) {
    StepPlan plan;
    int64_t budget = budget_;
    auto add = [&](uint64_t id, Sequence& s, int64_t n) {
        const std::span<const int32_t> tokens(s.tokens);
        plan.chunks.push_back({id, &s.kv, s.serial, tokens.first(static_cast<size_t>(s.kv.length + n)), s.kv.length,
                               tokens.subspan(static_cast<size_t>(s.kv.length), static_cast<size_t>(n)),
                               s.kv.length + n == static_cast<int64_t>(s.tokens.size()), s.cached_prompt_tokens});
        plan.n_tokens += n;
        budget -= n;
    };
    // The most of n positions (one at least) that the pool can give blocks for now; 0 if none.
    auto reserve_up_to = [&](Sequence& s, int64_t n) {
        while (n > 0 && !kv_.reserve(s.kv, n)) {
            n = n > kv_.block_tokens() ? (n - 1) / kv_.block_tokens() * kv_.block_tokens() : n - 1;
        }
        return n;
    };

    // Decode first: every running sequence whose only pending token is its last. Blocks for it come before
    // anything else, preempting the newest sequences if need be.
    for (size_t i = 0; i < running_.size(); ++i) {
        const uint64_t id = running_[i];
        Sequence& s = sequences_.at(id);
        if (static_cast<int64_t>(s.tokens.size()) - s.kv.length != 1 || s.last_pending) {
            continue;
        }
        bool preempted_self = false;
        while (!kv_.reserve(s.kv, 1)) {
            preempted_self = running_.back() == id;
            preempt_newest(plan);
            if (preempted_self) {
                break;
            }
        }
        if (!preempted_self) {
            add(id, s, 1);
        }
    }
    // Then prompts: those already being prefilled (oldest first), then new ones from the queue.
    for (const uint64_t id : running_) {
        Sequence& s = sequences_.at(id);
        const int64_t pending = static_cast<int64_t>(s.tokens.size()) - s.kv.length;
        if (pending <= 1 || budget <= 0) {
            continue;
        }
        const int64_t n = reserve_up_to(s, std::min(pending, budget));
        if (n > 0) {
            add(id, s, n);
        }
    }
    // No admissions in a step that had to preempt: the blocks are short already.
    while (plan.preempted.empty() && budget > 0 && !waiting_.empty() && kv_.pool().available() > 0 &&
           static_cast<int>(running_.size()) < max_running_) {
        const uint64_t id = waiting_.front();
        Sequence& s = sequences_.at(id);
        if (s.tokens.back() < 0) { // preempted with a placeholder: it waits until the step before resolves it
            break;
        }
        const int64_t reused = kv_.admit(s.kv, s.tokens);
        const int64_t pending = static_cast<int64_t>(s.tokens.size()) - s.kv.length;
        const int64_t n = reserve_up_to(s, std::min(pending, budget));
        if (n == 0) { // no blocks: it waits, holding none
            kv_.withdraw(s.kv, s.tokens);
            break;
        }
        waiting_.pop_front();
        running_.push_back(id);
        s.admitted = ++admissions_;
        if (s.timing.admitted < 0) {
            s.timing.admitted = now;
            s.cached_prompt_tokens = reused; // a preempted sequence's recompute is not the client's prompt cache
        }
        add(id, s, n);
    }
    return plan;
}

std::vector<FinishedRequest> Scheduler::complete(const StepPlan& plan, std::span<const int32_t> sampled, double now) {
    launched(plan);
    return resolved(plan, sampled, now);
}

const Scheduler::Sequence* Scheduler::sequence_of(const ScheduledChunk& chunk) const {
    const auto found = sequences_.find(chunk.id);
    return found != sequences_.end() && found->second.serial == chunk.serial ? &found->second : nullptr;
}

Scheduler::Sequence* Scheduler::sequence_of(const ScheduledChunk& chunk) {
    return const_cast<Sequence*>(std::as_const(*this).sequence_of(chunk));
}

bool Scheduler::holds(const ScheduledChunk& chunk) const { return sequence_of(chunk) != nullptr; }

void Scheduler::launched(const StepPlan& plan) {
    int32_t row = 0;
    for (const ScheduledChunk& chunk : plan.chunks) {
        Sequence* s = sequence_of(chunk);
        if (s != nullptr) { // else it stopped at the step before
            const int64_t end = chunk.start + static_cast<int64_t>(chunk.tokens.size());
            TLLM_CHECK(s->kv.length == chunk.start && static_cast<int64_t>(s->tokens.size()) >= end,
                       "Scheduler::launched: request {} at {} of {} tokens for a chunk at {}", chunk.id, s->kv.length,
                       s->tokens.size(), chunk.start);
            kv_.commit(s->kv, s->tokens, end);
            if (chunk.samples) {
                s->tokens.push_back(fed_back_token(row));
                const int64_t generated = static_cast<int64_t>(s->tokens.size() - s->request.prompt.size());
                s->last_pending = generated >= s->request.max_new_tokens;
            }
        }
        row += chunk.samples ? 1 : 0;
    }
}

std::vector<FinishedRequest> Scheduler::resolved(const StepPlan& plan, std::span<const int32_t> sampled, double now) {
    TLLM_CHECK(sampled.size() == plan.chunks.size(), "Scheduler::resolved: {} tokens for {} chunks", sampled.size(),
               plan.chunks.size());
    std::vector<FinishedRequest> finished;
    int32_t row = -1;
    for (size_t i = 0; i < plan.chunks.size(); ++i) {
        const ScheduledChunk& chunk = plan.chunks[i];
        if (!chunk.samples) {
            continue;
        }
        ++row;
        Sequence* s = sequence_of(chunk);
        if (s == nullptr) { // stopped at the step before, or cancelled
            continue;
        }
        const size_t at = static_cast<size_t>(chunk.start) + chunk.tokens.size();
        TLLM_CHECK(at < s->tokens.size() && s->tokens[at] == fed_back_token(row),
                   "Scheduler::resolved: request {} has no placeholder for row {} at {}", chunk.id, row, at);
        const int32_t token = sampled[i];
        s->tokens[at] = token;
        if (s->timing.first_token < 0) {
            s->timing.first_token = now;
        }
        s->timing.token_at.push_back(now);
        const std::vector<int32_t>& stops = s->request.stop_tokens;
        const int64_t generated = static_cast<int64_t>(at + 1 - s->request.prompt.size());
        const bool stop = std::find(stops.begin(), stops.end(), token) != stops.end();
        if (stop || generated >= s->request.max_new_tokens) {
            s->tokens.resize(at + 1); // a placeholder after it belongs to a step it should not have run
            finished.push_back(finish(*s, stop ? FinishReason::kStop : FinishReason::kLength));
        }
    }
    return finished;
}

FinishedRequest Scheduler::finish(Sequence& sequence, FinishReason reason) {
    const uint64_t id = sequence.request.id;
    if (sequence.tokens.back() < 0) { // cancelled with a token in flight: the client never sees it
        sequence.tokens.pop_back();
    }
    kv_.free(sequence.kv);
    FinishedRequest done{
        id, reason,
        std::vector<int32_t>(sequence.tokens.begin() + static_cast<std::ptrdiff_t>(sequence.request.prompt.size()),
                             sequence.tokens.end()),
        std::move(sequence.timing)};
    running_.erase(std::remove(running_.begin(), running_.end(), id), running_.end());
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), id), waiting_.end());
    sequences_.erase(id);
    return done;
}

} // namespace tllm
