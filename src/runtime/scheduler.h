// The step scheduler of the batched engine (issue 13, item 4): a queue of generation requests, admitted while KV
// blocks allow; at every step each running sequence decodes one token and waiting prompts prefill in chunks
// within a token budget, so running streams keep flowing while new prompts arrive. When the blocks run out
// the newest sequence is preempted: its blocks go back and it waits at the head of the queue with its tokens,
// to be recomputed (much of it from the prefix cache) and to continue with the same tokens.
//
// The scheduler decides and keeps the books; it computes nothing. A step is: plan(), run the chunks through the
// model (each chunk's tokens at its positions, over its sequence's block tables), then complete() with the
// tokens sampled from the chunks that end at their sequence's last token. Times are passed in (seconds on any
// monotonic clock), so that tests control them.
//
// complete() is launched() then resolved(), which a caller may split to plan the next step while this one runs
// (the batched engine does, so that the GPU never waits for the host): launched() takes the step's positions as
// computed and gives each sampled chunk's sequence a placeholder for its next token, fed_back_token(row) (row:
// the chunk's place among the step's sampled chunks), which the next plan may schedule as that sequence's input;
// resolved() writes the sampled tokens over the placeholders and ends the requests that stop. A sequence whose
// placeholder turns out to be a stop token has run one step too many, which costs a row of computation and
// nothing else: its blocks return when it ends.
#pragma once

#include "runtime/kv_cache_manager.h"

#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <vector>

namespace tllm {

struct GenerationRequest {
    uint64_t id = 0;
    std::vector<int32_t> prompt;
    int32_t max_new_tokens = 0;
    std::vector<int32_t> stop_tokens; // generation ends after sampling one of these (it is kept)
};

// One sequence's part of a step: positions [start, start + tokens.size()) of its tokens.
struct ScheduledChunk {
    uint64_t id = 0;
    const SequenceKv* kv = nullptr;   // block tables, valid until complete()
    uint64_t serial = 0;              // the sequence's submission: a later request may reuse the id
    std::span<const int32_t> history; // the sequence's tokens [0, start + tokens.size()), valid until launched()
    int64_t start = 0;
    std::span<const int32_t> tokens;  // may hold a placeholder (fed_back_token) of the step before
    bool samples = false;             // ends at the sequence's last token: its logits give the next token
    int64_t cached_prompt_tokens = 0; // prompt positions whose KV the prefix cache gave at the first admission
};

struct StepPlan {
    std::vector<ScheduledChunk> chunks;
    int64_t n_tokens = 0;
    std::vector<uint64_t> preempted; // sent back to the queue by this plan
};

enum class FinishReason { kStop, kLength, kCancelled };

struct RequestTiming {
    double submitted = 0;
    double admitted = -1;         // when it first got KV blocks and a place in a step; −1 before (queue time)
    double first_token = -1;      // when its first token was sampled; −1 before
    std::vector<double> token_at; // when each generated token was sampled
};

struct FinishedRequest {
    uint64_t id = 0;
    FinishReason reason = FinishReason::kLength;
    std::vector<int32_t> generated;
    RequestTiming timing;
};

class Scheduler {
  public:
    // step_token_budget: tokens one step may compute; max_running: sequences holding KV at once.
    Scheduler(KvCacheManager& kv, int64_t step_token_budget, int max_running);

    void submit(GenerationRequest request, double now);
    // A queued or running request ends at once, its blocks returned; false if it is not known.
    bool cancel(uint64_t id, std::vector<FinishedRequest>& finished);
    StepPlan plan(double now);
    // sampled[i]: the token sampled from chunk i of `plan` (read only where the chunk samples).
    std::vector<FinishedRequest> complete(const StepPlan& plan, std::span<const int32_t> sampled, double now);
    // The two halves of complete(), for a caller that plans the next step before this one's tokens are known.
    // launched() comes after the step before's resolved() (the positions it publishes must hold known tokens).
    void launched(const StepPlan& plan);
    std::vector<FinishedRequest> resolved(const StepPlan& plan, std::span<const int32_t> sampled, double now);
    // Whether the chunk's request still runs (it has not ended since the chunk was planned).
    bool holds(const ScheduledChunk& chunk) const;
    // The placeholder token of the sampled chunk `row` of the last launched step (negative, unlike any token).
    static int32_t fed_back_token(int32_t row) { return -1 - row; }

    bool idle() const { return running_.empty() && waiting_.empty(); }
    int running() const { return static_cast<int>(running_.size()); }
    int waiting() const { return static_cast<int>(waiting_.size()); }
    int64_t preemptions() const { return preemptions_; }

  private:
    struct Sequence {
        GenerationRequest request;
        std::vector<int32_t> tokens; // prompt, then generated
        SequenceKv kv;
        RequestTiming timing;
        uint64_t admitted = 0; // admission order: the newest is preempted first
        uint64_t serial = 0;   // submission order
        int64_t cached_prompt_tokens = 0;
        bool last_pending = false; // its last token is sampled but not resolved: it is not planned again
    };
    // Frees the newest running sequence's KV and puts it at the head of the queue.
    void preempt_newest(StepPlan& plan);
    FinishedRequest finish(Sequence& sequence, FinishReason reason);
    // The sequence of a chunk planned earlier, or null where it has ended since (a later one may hold its id).
    const Sequence* sequence_of(const ScheduledChunk& chunk) const;
    Sequence* sequence_of(const ScheduledChunk& chunk);

    KvCacheManager& kv_;
    int64_t budget_;
    int max_running_;
    std::map<uint64_t, Sequence> sequences_; // every request not finished
    std::vector<uint64_t> running_;          // admission order, oldest first
    std::deque<uint64_t> waiting_;
    uint64_t admissions_ = 0;
    uint64_t submissions_ = 0;
    int64_t preemptions_ = 0;
};

} // namespace tllm
