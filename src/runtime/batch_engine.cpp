#include "runtime/batch_engine.h"

#include "model/cuda_weights.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

namespace tllm {
namespace {

static_assert(BatchEngine::kMaxTopLogprobs <= cuda::OpKernels::kMaxLogprobsTop,
              "the GPU computes every top_logprobs a request may ask");

double seconds_now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The KV cache's layer groups: the full-attention layers, then the sliding-window ones.
std::vector<int32_t> layer_group_windows(const GptOssConfig& config) {
    return {0, static_cast<int32_t>(config.sliding_window)};
}

} // namespace

Result<std::unique_ptr<BatchEngine>> BatchEngine::create(Engine& engine, const BatchEngineOptions& options) {
    if (options.kv_blocks <= 0 || options.block_tokens <= 0 || options.step_tokens <= 0 || options.max_running <= 0) {
        return make_error(ErrorCode::kInvalidArgument,
                          "batch engine: {} KV blocks of {} tokens, {} tokens a step, {} "
                          "running",
                          options.kv_blocks, options.block_tokens, options.step_tokens, options.max_running);
    }
    if (engine.options().backend == Backend::kCuda && (options.step_tokens > engine.options().max_step_tokens ||
                                                       options.max_running > engine.options().max_step_tokens)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "batch engine: steps of {} tokens and {} running sequences, but the engine takes {} tokens "
                          "a step",
                          options.step_tokens, options.max_running, engine.options().max_step_tokens);
    }
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<PagedKvMemory> memory,
                          engine.new_paged_kv(options.kv_blocks, options.block_tokens));
    return std::unique_ptr<BatchEngine>(new BatchEngine(engine, options, std::move(memory)));
}

int64_t BatchEngine::kv_blocks_for(const GptOssConfig& config, const BatchEngineOptions& options, int64_t tokens) {
    return KvCacheManager::max_sequence_blocks(tokens, options.step_tokens, options.block_tokens,
                                               layer_group_windows(config));
}

Result<BatchEngineOptions> BatchEngine::one_sequence_options(const Engine& engine, int64_t tokens) {
    BatchEngineOptions options;
    options.step_tokens = engine.options().max_step_tokens;
    options.max_running = 1;
    const int64_t blocks = kv_blocks_for(engine.config(), options, tokens);
    if (blocks > std::numeric_limits<int32_t>::max()) {
        return make_error(ErrorCode::kInvalidArgument, "a sequence of {} positions needs {} KV blocks", tokens, blocks);
    }
    options.kv_blocks = static_cast<int32_t>(blocks);
    return options;
}

int64_t BatchEngine::longest_sequence_in(const GptOssConfig& config,
                                         const BatchEngineOptions& options,
                                         DType dtype,
                                         uint64_t bytes) {
    auto fits = [&](int64_t tokens) {
        const auto blocks = static_cast<int32_t>(kv_blocks_for(config, options, tokens));
        return CudaPagedKvStore::device_bytes(config, blocks, options.block_tokens, dtype) <= bytes;
    };
    if (!fits(0)) { // not even the padding block
        return 0;
    }
    int64_t low = 0;
    int64_t high = config.max_context();
    while (low < high) { // the longest that fits lies in [low, high]
        const int64_t middle = low + (high - low + 1) / 2;
        if (fits(middle)) {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    return low;
}

BatchEngine::BatchEngine(Engine& engine, const BatchEngineOptions& options, std::unique_ptr<PagedKvMemory> memory)
    : engine_(engine), config_(engine.config()), options_(options), memory_(std::move(memory)),
      kv_(options.kv_blocks, options.block_tokens, layer_group_windows(engine.config())),
      scheduler_(kv_, options.step_tokens, options.max_running) {}

Status BatchEngine::submit(BatchRequest request) {
    if (request.prompt.empty() || request.max_new_tokens <= 0) {
        return make_error(ErrorCode::kInvalidArgument, "request {}: {} prompt tokens and {} to generate", request.id,
                          request.prompt.size(), request.max_new_tokens);
    }
    TLLM_RETURN_IF_ERROR(check_vocabulary(request.prompt, fmt::format("request {}", request.id)));
    const int64_t total = static_cast<int64_t>(request.prompt.size()) + request.max_new_tokens;
    if (total > config_.max_context()) {
        return make_error(ErrorCode::kContextOverflow, "request {}: {} tokens exceed the context of {}", request.id,
                          total, config_.max_context());
    }
    TLLM_RETURN_IF_ERROR(validate_sampling_params(request.sampling));
    if (request.top_logprobs < -1 || request.top_logprobs > kMaxTopLogprobs) {
        return make_error(ErrorCode::kInvalidArgument, "request {}: top_logprobs {} outside [-1, {}]", request.id,
                          request.top_logprobs, kMaxTopLogprobs);
    }
    if (requests_.contains(request.id)) {
        return make_error(ErrorCode::kInvalidArgument, "request id {} is in use", request.id);
    }
    requests_.emplace(
        request.id, RequestState{request.sampling, static_cast<int64_t>(request.prompt.size()), request.top_logprobs});
    scheduler_.submit({request.id, std::move(request.prompt), request.max_new_tokens, std::move(request.stop_tokens)},
                      seconds_now());
    return {};
}

Status BatchEngine::all_logits(std::span<const int32_t> tokens, int64_t prefill, std::vector<float>& rows) {
    if (!idle()) {
        return make_error(ErrorCode::kInvalidArgument, "all_logits while requests run");
    }
    if (tokens.empty() || static_cast<int64_t>(tokens.size()) > config_.max_context()) {
        return make_error(ErrorCode::kInvalidArgument, "{} tokens: 1 to the context of {}", tokens.size(),
                          config_.max_context());
    }
    TLLM_RETURN_IF_ERROR(check_vocabulary(tokens, "all_logits"));
    const auto n_tokens = static_cast<int64_t>(tokens.size());
    prefill = prefill > 0 ? std::min(prefill, n_tokens) : n_tokens;
    SequenceKv sequence;
    rows.clear();
    std::vector<std::vector<float>> logits;
    Status status;
    while (sequence.length < n_tokens && status.ok()) {
        const int64_t n =
            sequence.length < prefill ? std::min(prefill - sequence.length, options_.step_tokens) : int64_t{1};
        if (!kv_.reserve(sequence, n)) {
            status = make_error(ErrorCode::kOutOfMemory, "{} KV blocks of {} positions cannot hold {} tokens",
                                kv_.pool().n_blocks(), kv_.block_tokens(), n_tokens);
            break;
        }
        PagedChunk chunk;
        chunk.tokens = tokens.subspan(static_cast<size_t>(sequence.length), static_cast<size_t>(n));
        chunk.start = sequence.length;
        chunk.tables[0] = sequence.tables[0];
        chunk.tables[1] = sequence.tables[1];
        chunk.all_logits = true;
        status = engine_.step_paged(*memory_, std::span<const PagedChunk>(&chunk, 1), logits);
        if (status.ok()) {
            rows.insert(rows.end(), logits[0].begin(), logits[0].end());
            kv_.commit(sequence, tokens, sequence.length + n);
        }
    }
    kv_.free(sequence);
    return status;
}

Status BatchEngine::check_vocabulary(std::span<const int32_t> tokens, std::string_view what) const {
    for (const int32_t token : tokens) {
        if (token < 0 || token >= config_.vocab_size) {
            return make_error(ErrorCode::kInvalidArgument, "{}: token id {} outside vocabulary [0, {})", what, token,
                              config_.vocab_size);
        }
    }
    return {};
}

bool BatchEngine::cancel(uint64_t id, std::vector<FinishedRequest>& finished) {
    if (!scheduler_.cancel(id, finished)) {
        return false;
    }
    requests_.erase(id);
    return true;
}

Status BatchEngine::step(std::vector<TokenEvent>& tokens, std::vector<FinishedRequest>& finished) {
    Status status = launch_and_collect(tokens, finished);
    if (!status.ok()) { // the steps in flight are lost; the caller cancels their requests
        engine_.abandon_paged_steps();
        in_flight_.reset();
    }
    return status;
}

Status BatchEngine::launch_and_collect(std::vector<TokenEvent>& tokens, std::vector<FinishedRequest>& finished) {
    std::optional<LaunchedStep> next;
    StepPlan plan = scheduler_.plan(seconds_now());
    if (!plan.chunks.empty()) {
        std::vector<PagedChunk> chunks(plan.chunks.size());
        for (size_t i = 0; i < plan.chunks.size(); ++i) {
            const ScheduledChunk& chunk = plan.chunks[i];
            chunks[i].tokens = chunk.tokens;
            chunks[i].start = chunk.start;
            chunks[i].tables[0] = chunk.kv->tables[0];
            chunks[i].tables[1] = chunk.kv->tables[1];
            chunks[i].logits = chunk.samples;
        }
        // The counter of a request's i-th generated token is i, so a recomputed request draws the same tokens.
        std::vector<RowSampling> rows;
        for (const ScheduledChunk& chunk : plan.chunks) {
            if (chunk.samples) {
                const RequestState& request = requests_.at(chunk.id);
                const uint64_t counter = chunk.history.size() - static_cast<size_t>(request.prompt_tokens);
                rows.push_back({request.sampling, counter, false, request.top_logprobs});
            }
        }
        TLLM_RETURN_IF_ERROR(engine_.launch_paged_sampled(*memory_, chunks, rows));
        next = LaunchedStep{std::move(plan), std::move(rows)};
    }
    if (in_flight_) {
        TLLM_RETURN_IF_ERROR(collect(tokens, finished));
    }
    if (next) {
        // After the step before resolved: the positions this one publishes to the prefix cache hold known tokens.
        scheduler_.launched(next->plan);
        in_flight_ = std::move(next);
    }
    return {};
}

Status BatchEngine::collect(std::vector<TokenEvent>& tokens, std::vector<FinishedRequest>& finished) {
    LaunchedStep step = std::move(*in_flight_);
    in_flight_.reset();
    std::vector<int32_t> row_tokens;
    std::vector<std::vector<float>> kept_logits; // none asked for
    std::vector<RowLogprobs> logprobs;           // computed where the logits are (on the GPU for cuda)
    TLLM_RETURN_IF_ERROR(engine_.collect_paged_sampled(row_tokens, kept_logits, &logprobs));
    std::vector<int32_t> sampled(step.plan.chunks.size(), -1);
    size_t row = 0;
    for (size_t i = 0; i < step.plan.chunks.size(); ++i) {
        const ScheduledChunk& chunk = step.plan.chunks[i];
        if (!chunk.samples) {
            continue;
        }
        sampled[i] = row_tokens[row];
        // A request that stopped in the step before (or was cancelled) ran this row for nothing.
        if (scheduler_.holds(chunk)) {
            TokenEvent event{chunk.id, sampled[i], 0.0f, {}, 0};
            if (step.rows[row].counter == 0) {
                event.cached_prompt_tokens = chunk.cached_prompt_tokens;
            }
            if (step.rows[row].top_logprobs >= 0) {
                event.logprob = logprobs[row].logprob;
                for (const auto& [id, value] : logprobs[row].top) {
                    event.top.push_back({id, value});
                }
            }
            tokens.push_back(std::move(event));
        }
        ++row;
    }
    for (FinishedRequest& done : scheduler_.resolved(step.plan, sampled, seconds_now())) {
        requests_.erase(done.id);
        finished.push_back(std::move(done));
    }
    return {};
}

} // namespace tllm
