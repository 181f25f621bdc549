#include "runtime/engine.h"

#include "core/log.h"

#include <algorithm>
#include <set>

namespace tllm {

void Sequence::truncate(int64_t length) {
    length = std::clamp<int64_t>(length, 0, static_cast<int64_t>(tokens_.size()));
    tokens_.resize(static_cast<size_t>(length));
    cache_.truncate(length);
}

Engine::Engine(std::shared_ptr<const ModelWeights> weights, const EngineOptions& options)
    : weights_(std::move(weights)), options_(options), pool_(options.n_threads),
      forward_(*weights_, pool_, options.simd, options.precision) {}

Result<std::unique_ptr<Engine>> Engine::create(std::shared_ptr<const ModelWeights> weights,
                                               const EngineOptions& options) {
    if (options.max_step_tokens <= 0) {
        return make_error(ErrorCode::kInvalidArgument, "max_step_tokens must be positive, got {}",
                          options.max_step_tokens);
    }
    std::unique_ptr<Engine> engine(new Engine(std::move(weights), options));
    TLLM_LOG_INFO("cpu backend: {} threads, {} precision, {} kernels", engine->pool_.n_threads(),
                  precision_name(options.precision),
                  cpu::simd_path_name(options.simd == cpu::SimdPath::kAuto ? cpu::detect_simd_path() : options.simd));
    return engine;
}

std::unique_ptr<Sequence> Engine::new_sequence(int64_t max_context) const {
    const int64_t model_context = config().max_context();
    if (max_context <= 0 || max_context > model_context) {
        max_context = model_context;
    }
    return std::make_unique<Sequence>(config(), max_context, kv_cache_dtype(options_.precision));
}

Status Engine::step(std::span<const StepInput> inputs, std::vector<std::vector<float>>& logits) {
    std::set<const Sequence*> seen;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const StepInput& input = inputs[i];
        TLLM_CHECK(input.sequence != nullptr, "step input {} has no sequence", i);
        if (!seen.insert(input.sequence).second) {
            return make_error(ErrorCode::kInvalidArgument, "step input {}: sequence appears twice in one step", i);
        }
        if (input.tokens.empty()) {
            return make_error(ErrorCode::kInvalidArgument, "step input {}: no tokens", i);
        }
        int64_t new_length = input.sequence->length() + static_cast<int64_t>(input.tokens.size());
        if (new_length > input.sequence->max_context()) {
            return make_error(ErrorCode::kContextOverflow, "step input {}: {} tokens exceed the context of {}", i,
                              new_length, input.sequence->max_context());
        }
        for (int32_t token : input.tokens) {
            if (token < 0 || token >= config().vocab_size) {
                return make_error(ErrorCode::kInvalidArgument, "step input {}: token id {} outside vocabulary [0, {})",
                                  i, token, config().vocab_size);
            }
        }
    }
    logits.assign(inputs.size(), {});

    // Long inputs run in rounds of at most max_step_tokens tokens in total; each round gives every
    // unfinished input a share, so short (decode) inputs finish in the first round.
    std::vector<size_t> done(inputs.size(), 0);
    std::vector<std::vector<float>> round_logits(inputs.size());
    while (true) {
        std::vector<ForwardRequest> requests;
        std::vector<size_t> owners;
        int64_t budget = options_.max_step_tokens;
        size_t remaining_inputs = 0;
        for (size_t i = 0; i < inputs.size(); ++i) {
            remaining_inputs += done[i] < inputs[i].tokens.size();
        }
        if (remaining_inputs == 0) {
            break;
        }
        int64_t share = std::max<int64_t>(1, budget / static_cast<int64_t>(remaining_inputs));
        for (size_t i = 0; i < inputs.size() && budget > 0; ++i) {
            size_t left = inputs[i].tokens.size() - done[i];
            if (left == 0) {
                continue;
            }
            size_t take = std::min<size_t>(left, static_cast<size_t>(std::min(share, budget)));
            ForwardRequest request;
            request.cache = &inputs[i].sequence->cache_;
            request.tokens = inputs[i].tokens.subspan(done[i], take);
            request.all_logits = inputs[i].all_logits;
            request.logits = &round_logits[i];
            requests.push_back(request);
            owners.push_back(i);
            budget -= static_cast<int64_t>(take);
        }
        TLLM_RETURN_IF_ERROR(forward_.run(requests));
        for (size_t r = 0; r < requests.size(); ++r) {
            size_t i = owners[r];
            Sequence& sequence = *inputs[i].sequence;
            sequence.tokens_.insert(sequence.tokens_.end(), requests[r].tokens.begin(), requests[r].tokens.end());
            done[i] += requests[r].tokens.size();
            if (inputs[i].all_logits) {
                logits[i].insert(logits[i].end(), round_logits[i].begin(), round_logits[i].end());
            } else if (done[i] == inputs[i].tokens.size()) {
                logits[i] = std::move(round_logits[i]);
            }
        }
    }
    return {};
}

} // namespace tllm
