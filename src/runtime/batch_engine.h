// Many requests in one step (issue 13, item 2): the scheduler's plan run as one batched forward pass over the
// paged KV cache (Engine::step_paged, on the engine's backend), then each sequence sampled with its own
// parameters where the logits are (on the GPU for the cuda backend: only the tokens, and the logits of rows that
// ask for log-probabilities, cross to the host). The counter of a request's i-th generated token is i, so a
// request preempted and recomputed draws the same tokens, and a request gets what Engine::decode gives it alone.
//
// Steps overlap with the host's work: step() plans and launches the next step before it waits for the one in
// flight, whose sampled tokens the next one reads on the device (Scheduler::fed_back_token), so the GPU runs
// step after step while the host plans, stages the inputs and hands out tokens. A sequence that stops in the step
// in flight has run one more row in the next, which is dropped.
#pragma once

#include "core/result.h"
#include "runtime/engine.h"
#include "runtime/kv_cache_manager.h"
#include "runtime/sampler.h"
#include "runtime/scheduler.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace tllm {

struct BatchRequest {
    uint64_t id = 0;
    std::vector<int32_t> prompt;
    int32_t max_new_tokens = 0;
    std::vector<int32_t> stop_tokens;
    SamplingParams sampling;
    int32_t top_logprobs = -1; // −1: no log-probabilities; 0: the chosen token's; k: also the k likeliest tokens'
};

struct BatchEngineOptions {
    int32_t kv_blocks = 1024;
    int32_t block_tokens = 16;
    int64_t step_tokens = 256; // tokens one step computes at most
    int max_running = 64;      // on the cuda backend at most the engine's max_step_tokens
};

struct TokenLogprob {
    int32_t token = 0;
    float logprob = 0; // log-softmax of the model's logits (before temperature and truncation)
};

struct TokenEvent {
    uint64_t id = 0;
    int32_t token = 0;
    float logprob = 0;             // of `token`, when the request asked for log-probabilities
    std::vector<TokenLogprob> top; // the request's top_logprobs likeliest, most likely first (ties: lower id)
    // On a request's first token: its prompt positions whose KV came from the prefix cache (OpenAI's
    // cached_tokens); 0 on later tokens.
    int64_t cached_prompt_tokens = 0;
};

class BatchEngine {
  public:
    static constexpr int32_t kMaxTopLogprobs = 20; // OpenAI's limit
    // The KV memory is taken from `engine` (kOutOfMemory where the card lacks room for it); step_tokens must fit
    // the engine's max_step_tokens.
    static Result<std::unique_ptr<BatchEngine>> create(Engine& engine, const BatchEngineOptions& options);
    // The most KV blocks one request of `tokens` positions holds at once (its prompt in chunks of step_tokens):
    // a pool of this many runs it alone without a step ever shrinking for want of blocks.
    static int64_t kv_blocks_for(const GptOssConfig& config, const BatchEngineOptions& options, int64_t tokens);
    // A batch of one (chat, generate, logits, bench's stream): blocks of the default size, steps of the engine's
    // size, one running sequence, and a pool for one sequence of `tokens` positions (kv_blocks_for).
    // kInvalidArgument where that pool would count more blocks than an int32_t holds.
    static Result<BatchEngineOptions> one_sequence_options(const Engine& engine, int64_t tokens);
    // The longest sequence (at most the model's context) whose kv_blocks_for blocks, and the one block a GPU store
    // keeps for padding, fit in `bytes` of KV memory of `dtype`: about twice what a count of every layer's K and V
    // per position allows, since the sliding-window layers keep only their window's.
    static int64_t
    longest_sequence_in(const GptOssConfig& config, const BatchEngineOptions& options, DType dtype, uint64_t bytes);

    // kInvalidArgument for requests a client got wrong (empty prompt, token outside the vocabulary, no tokens to
    // generate, bad sampling parameters, an id in use), kContextOverflow past the model's context.
    Status submit(BatchRequest request);
    bool cancel(uint64_t id, std::vector<FinishedRequest>& finished);
    // Launches the next step and collects the one launched before it: `tokens` gets the tokens sampled in that one,
    // `finished` the requests that ended. After an error the steps in flight are lost: cancel their requests.
    Status step(std::vector<TokenEvent>& tokens, std::vector<FinishedRequest>& finished);

    // The logits after every prefix of `tokens` ([n, vocab] f32 into `rows`, `tokens` checked as a prompt is),
    // computed as requests compute them: the first `prefill` tokens (0: all) in steps of at most step_tokens, then
    // one token a step, as decode. Only while idle (kInvalidArgument otherwise); kOutOfMemory where the pool lacks
    // the blocks. The KV is let go after, its whole blocks left in the prefix cache.
    Status all_logits(std::span<const int32_t> tokens, int64_t prefill, std::vector<float>& rows);

    bool idle() const { return scheduler_.idle() && !in_flight_; }
    const Scheduler& scheduler() const { return scheduler_; }
    const KvCacheManager& kv() const { return kv_; }

  private:
    BatchEngine(Engine& engine, const BatchEngineOptions& options, std::unique_ptr<PagedKvMemory> memory);
    // kInvalidArgument naming `what` for a token outside the vocabulary.
    Status check_vocabulary(std::span<const int32_t> tokens, std::string_view what) const;

    Engine& engine_;
    const GptOssConfig& config_;
    BatchEngineOptions options_;
    std::unique_ptr<PagedKvMemory> memory_;
    KvCacheManager kv_;
    Scheduler scheduler_;
    struct RequestState {
        SamplingParams sampling;
        int64_t prompt_tokens = 0; // the generated tokens' counters start after these
        int32_t top_logprobs = -1;
    };
    std::map<uint64_t, RequestState> requests_; // every request not finished
    struct LaunchedStep {
        StepPlan plan;
        std::vector<RowSampling> rows; // the plan's sampled chunks in order
    };
    std::optional<LaunchedStep> in_flight_; // launched, its tokens not yet read
    Status launch_and_collect(std::vector<TokenEvent>& tokens, std::vector<FinishedRequest>& finished);
    // Reads the step in flight's tokens and hands them out.
    Status collect(std::vector<TokenEvent>& tokens, std::vector<FinishedRequest>& finished);
};

} // namespace tllm
