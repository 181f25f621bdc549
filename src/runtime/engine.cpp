#include "runtime/engine.h"

#include "core/log.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <set>

namespace tllm {

void Sequence::truncate(int64_t length) {
    length = std::clamp<int64_t>(length, 0, static_cast<int64_t>(tokens_.size()));
    tokens_.resize(static_cast<size_t>(length));
    if (cpu_cache_) {
        cpu_cache_->truncate(length);
    } else {
        cuda_cache_->truncate(length);
    }
}

const char* backend_name(Backend backend) { return backend == Backend::kCuda ? "cuda" : "cpu"; }

Result<Backend> parse_backend(const std::string& value) {
    if (value == "cpu") {
        return Backend::kCpu;
    }
    if (value == "cuda") {
        return Backend::kCuda;
    }
    if (value.empty()) {
        Result<int> devices = cuda::cuda_device_count();
        return devices.ok() && *devices > 0 ? Backend::kCuda : Backend::kCpu;
    }
    return make_error(ErrorCode::kInvalidArgument, "unknown backend \"{}\"; use cpu or cuda", value);
}

Engine::Engine(std::shared_ptr<const ModelWeights> weights, const GptOssConfig& config, const EngineOptions& options)
    : weights_(std::move(weights)), config_(config), options_(options),
      pool_(options.backend == Backend::kCpu ? options.n_threads : 1) {}

Status Engine::init_cuda(int64_t reserve_context, uint64_t synthetic_seed) {
    TLLM_ASSIGN_OR_RETURN(cuda_context_, cuda::CudaContext::create(0));
    TLLM_ASSIGN_OR_RETURN(registry_, cuda::KernelRegistry::create(*cuda_context_, options_.jit));
    TLLM_ASSIGN_OR_RETURN(kernels_, cuda::OpKernels::create(*registry_));
    // The weights' memory check keeps room for the step scratch and one KV cache of reserve_context.
    const uint64_t reserve = CudaForward::scratch_bytes(config_, options_.max_step_tokens) +
                             CudaKvCache::device_bytes(config_, reserve_context, kv_cache_dtype(options_.precision));
    if (weights_) {
        TLLM_ASSIGN_OR_RETURN(cuda_weights_, CudaWeights::upload(*cuda_context_, *weights_, reserve));
    } else {
        TLLM_ASSIGN_OR_RETURN(cuda_weights_,
                              CudaWeights::synthetic(*cuda_context_, *kernels_, config_, synthetic_seed, reserve));
    }
    TLLM_ASSIGN_OR_RETURN(cuda_forward_, CudaForward::create(*cuda_context_, *registry_, *kernels_, *cuda_weights_,
                                                             options_.max_step_tokens));
    TLLM_LOG_INFO("cuda backend: {} (sm_{}), kernels: {}", cuda_context_->info().name, cuda_context_->info().arch(),
                  registry_->describe());
    return {};
}

Result<std::unique_ptr<Engine>> Engine::create(std::shared_ptr<const ModelWeights> weights,
                                               const EngineOptions& options) {
    if (options.max_step_tokens <= 0) {
        return make_error(ErrorCode::kInvalidArgument, "max_step_tokens must be positive, got {}",
                          options.max_step_tokens);
    }
    const GptOssConfig config = weights->config();
    std::unique_ptr<Engine> engine(new Engine(std::move(weights), config, options));
    if (options.backend == Backend::kCuda) {
        TLLM_RETURN_IF_ERROR(engine->init_cuda(0, 0));
        return engine;
    }
    engine->cpu_forward_ =
        std::make_unique<CpuForward>(*engine->weights_, engine->pool_, options.simd, options.precision);
    TLLM_LOG_INFO("cpu backend: {} threads, {} precision, {} kernels", engine->pool_.n_threads(),
                  precision_name(options.precision),
                  cpu::simd_path_name(options.simd == cpu::SimdPath::kAuto ? cpu::detect_simd_path() : options.simd));
    return engine;
}

Result<std::unique_ptr<Engine>> Engine::create_synthetic(const GptOssConfig& config,
                                                         const EngineOptions& options,
                                                         uint64_t seed,
                                                         int64_t reserve_context) {
    if (options.backend != Backend::kCuda) {
        return make_error(ErrorCode::kUnsupported, "synthetic weights without a file need the cuda backend");
    }
    std::unique_ptr<Engine> engine(new Engine(nullptr, config, options));
    TLLM_RETURN_IF_ERROR(engine->init_cuda(reserve_context, seed));
    return engine;
}

Status Engine::use_this_thread() const {
    // The driver's current context is per thread: an engine made on one thread may be stepped on another (the
    // server's engine loop), so every entry point binds the caller's thread to it (cheap when it already is).
    return cuda_context_ != nullptr ? cuda_context_->make_current() : Status{};
}

Result<std::unique_ptr<Sequence>> Engine::new_sequence(int64_t max_context) const {
    TLLM_RETURN_IF_ERROR(use_this_thread());
    max_context = context_limit(max_context);
    if (cuda_context_) {
        TLLM_ASSIGN_OR_RETURN(
            auto cache, CudaKvCache::create(*cuda_context_, config(), max_context, kv_cache_dtype(options_.precision)));
        return std::make_unique<Sequence>(std::move(cache));
    }
    return std::make_unique<Sequence>(
        std::make_unique<KvCache>(config(), max_context, kv_cache_dtype(options_.precision)));
}

Status Engine::step(std::span<const StepInput> inputs, std::vector<std::vector<float>>& logits) {
    TLLM_RETURN_IF_ERROR(use_this_thread());
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
            request.cache = inputs[i].sequence->cpu_cache_.get();
            request.tokens = inputs[i].tokens.subspan(done[i], take);
            request.all_logits = inputs[i].all_logits;
            request.logits = &round_logits[i];
            requests.push_back(request);
            owners.push_back(i);
            budget -= static_cast<int64_t>(take);
        }
        if (cuda_forward_) {
            for (size_t r = 0; r < requests.size(); ++r) {
                TLLM_RETURN_IF_ERROR(cuda_forward_->run(*inputs[owners[r]].sequence->cuda_cache_, requests[r].tokens,
                                                        requests[r].all_logits, *requests[r].logits));
            }
        } else {
            TLLM_RETURN_IF_ERROR(cpu_forward_->run(requests));
        }
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

Result<std::unique_ptr<PagedKvMemory>> Engine::new_paged_kv(int32_t n_blocks, int32_t block_tokens) const {
    TLLM_RETURN_IF_ERROR(use_this_thread());
    if (n_blocks <= 0 || block_tokens <= 0) {
        return make_error(ErrorCode::kInvalidArgument, "paged KV of {} blocks of {} tokens", n_blocks, block_tokens);
    }
    auto kv = std::make_unique<PagedKvMemory>();
    if (cuda_context_) {
        const DType dtype = kv_cache_dtype(options_.precision);
        // The bf16 kernels take the shapes of gpt-oss (and of the synthetic test models); the f32 reference's any
        // head_dim up to 128 and up to 32 query heads per kv head, as its contiguous path.
        const int64_t group = config_.n_heads / config_.n_kv_heads;
        const bool bf16_shapes = (config_.head_dim == 64 || config_.head_dim == 128) && group <= 16;
        const bool f32_shapes = config_.head_dim <= 128 && group <= 32;
        if (dtype == DType::kBF16 ? !bf16_shapes : !f32_shapes) {
            return make_error(ErrorCode::kUnsupported,
                              "the paged KV cache on the GPU takes head_dim {} and up to {} query heads per kv head, "
                              "not {} and {}",
                              dtype == DType::kBF16 ? "64 or 128" : "up to 128", dtype == DType::kBF16 ? 16 : 32,
                              config_.head_dim, group);
        }
        TLLM_ASSIGN_OR_RETURN(kv->cuda_,
                              CudaPagedKvStore::create(*cuda_context_, config_, n_blocks, block_tokens, dtype));
    } else {
        kv->cpu_ = std::make_unique<PagedKvStore>(config_, n_blocks, block_tokens, kv_cache_dtype(options_.precision));
    }
    return kv;
}

Status
Engine::step_paged(PagedKvMemory& kv, std::span<const PagedChunk> chunks, std::vector<std::vector<float>>& logits) {
    TLLM_RETURN_IF_ERROR(use_this_thread());
    logits.assign(chunks.size(), {});
    if (cuda_forward_) {
        TLLM_CHECK(kv.cuda_ != nullptr, "paged KV of another backend");
        std::vector<float> rows;
        TLLM_RETURN_IF_ERROR(cuda_forward_->run_paged(*kv.cuda_, chunks, rows));
        const size_t vocab = static_cast<size_t>(config_.vocab_size);
        size_t row = 0;
        for (size_t i = 0; i < chunks.size(); ++i) {
            if (chunks[i].logits) {
                const size_t n = chunks[i].all_logits ? chunks[i].tokens.size() : 1;
                logits[i].assign(rows.begin() + static_cast<std::ptrdiff_t>(row * vocab),
                                 rows.begin() + static_cast<std::ptrdiff_t>((row + n) * vocab));
                row += n;
            }
        }
        return {};
    }
    TLLM_CHECK(kv.cpu_ != nullptr, "paged KV of another backend");
    cpu_fed_back_.clear(); // a step that samples nothing feeds nothing back
    std::vector<ForwardRequest> requests(chunks.size());
    for (size_t i = 0; i < chunks.size(); ++i) {
        requests[i].paged = PagedKv{kv.cpu_.get(), {chunks[i].tables[0], chunks[i].tables[1]}, chunks[i].start};
        requests[i].tokens = chunks[i].tokens;
        requests[i].logits = chunks[i].logits ? &logits[i] : nullptr;
        requests[i].all_logits = chunks[i].all_logits;
    }
    return cpu_forward_->run(requests);
}

Status Engine::step_paged_sampled(PagedKvMemory& kv,
                                  std::span<const PagedChunk> chunks,
                                  std::span<const RowSampling> sampling,
                                  std::vector<int32_t>& tokens,
                                  std::vector<std::vector<float>>& kept_logits,
                                  std::vector<RowLogprobs>* logprobs) {
    const size_t launched = cuda_forward_ ? cuda_forward_->launched_steps() : cpu_launched_.size();
    TLLM_CHECK(launched == 0, "step_paged_sampled with {} steps not collected", launched);
    TLLM_RETURN_IF_ERROR(launch_paged_sampled(kv, chunks, sampling));
    return collect_paged_sampled(tokens, kept_logits, logprobs);
}

Status Engine::launch_paged_sampled(PagedKvMemory& kv,
                                    std::span<const PagedChunk> chunks,
                                    std::span<const RowSampling> sampling) {
    TLLM_RETURN_IF_ERROR(use_this_thread());
    TLLM_CHECK(std::none_of(chunks.begin(), chunks.end(), [](const PagedChunk& c) { return c.all_logits; }),
               "a sampled paged step samples one row per chunk: all_logits has no meaning there");
    for (const RowSampling& row : sampling) {
        TLLM_RETURN_IF_ERROR(validate_sampling_params(row.params));
        if (row.top_logprobs > cuda::OpKernels::kMaxLogprobsTop ||
            static_cast<int64_t>(row.top_logprobs) > config_.vocab_size) {
            return make_error(ErrorCode::kInvalidArgument, "top_logprobs {} past {}", row.top_logprobs,
                              std::min<int64_t>(cuda::OpKernels::kMaxLogprobsTop, config_.vocab_size));
        }
    }
    if (cuda_forward_) {
        TLLM_CHECK(kv.cuda_ != nullptr, "paged KV of another backend");
        std::vector<PagedSampling> rows(sampling.size());
        for (size_t i = 0; i < sampling.size(); ++i) {
            const SamplingParams& p = sampling[i].params;
            rows[i] = {cuda::SampleParams{p.temperature, p.top_k, p.top_p, p.seed}, sampling[i].counter,
                       sampling[i].keep_logits, sampling[i].top_logprobs};
        }
        return cuda_forward_->launch_paged_sampled(*kv.cuda_, chunks, rows);
    }
    TLLM_CHECK(cpu_launched_.size() <= 1, "a paged step launched with {} not collected", cpu_launched_.size());
    // Fed-back tokens are the last launched step's, which the host holds on this backend.
    std::vector<std::vector<int32_t>> resolved(chunks.size());
    std::vector<PagedChunk> inputs(chunks.begin(), chunks.end());
    for (size_t i = 0; i < chunks.size(); ++i) {
        if (std::none_of(chunks[i].tokens.begin(), chunks[i].tokens.end(), [](int32_t t) { return t < 0; })) {
            continue;
        }
        for (const int32_t token : chunks[i].tokens) {
            const size_t row = static_cast<size_t>(-1 - static_cast<int64_t>(token));
            if (token < 0 && row >= cpu_fed_back_.size()) {
                return make_error(ErrorCode::kInvalidArgument, "token {} feeds back row {} of a step that sampled {}",
                                  token, row, cpu_fed_back_.size());
            }
            resolved[i].push_back(token < 0 ? cpu_fed_back_[row] : token);
        }
        inputs[i].tokens = resolved[i];
    }
    std::vector<std::vector<float>> logits;
    TLLM_RETURN_IF_ERROR(step_paged(kv, inputs, logits));
    CpuSampledStep out;
    size_t row = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
        if (!chunks[i].logits) {
            continue;
        }
        TLLM_CHECK(row < sampling.size(), "{} sampling rows for more chunks wanting logits", sampling.size());
        const RowSampling& s = sampling[row];
        out.tokens.push_back(Sampler(s.params).sample(logits[i], s.counter));
        RowLogprobs lp;
        if (s.top_logprobs >= 0) {
            std::vector<int32_t> ids(static_cast<size_t>(s.top_logprobs));
            std::vector<float> values(ids.size());
            lp.logprob = cpu::logits_logprobs(logits[i].data(), config_.vocab_size, out.tokens.back(), s.top_logprobs,
                                              ids.data(), values.data());
            for (size_t t = 0; t < ids.size(); ++t) {
                lp.top.emplace_back(ids[t], values[t]);
            }
        }
        out.logprobs.push_back(std::move(lp));
        out.kept_logits.push_back(s.keep_logits ? std::move(logits[i]) : std::vector<float>{});
        ++row;
    }
    TLLM_CHECK(row == sampling.size(), "{} sampling rows for {} chunks wanting logits", sampling.size(), row);
    cpu_fed_back_ = out.tokens;
    cpu_launched_.push_back(std::move(out));
    return {};
}

Status Engine::collect_paged_sampled(std::vector<int32_t>& tokens,
                                     std::vector<std::vector<float>>& kept_logits,
                                     std::vector<RowLogprobs>* logprobs) {
    TLLM_RETURN_IF_ERROR(use_this_thread());
    if (cuda_forward_) {
        return cuda_forward_->collect_paged_sampled(tokens, kept_logits, logprobs);
    }
    TLLM_CHECK(!cpu_launched_.empty(), "collect_paged_sampled without a step launched");
    CpuSampledStep& step = cpu_launched_.front();
    tokens = std::move(step.tokens);
    kept_logits = std::move(step.kept_logits);
    if (logprobs != nullptr) {
        *logprobs = std::move(step.logprobs);
    }
    cpu_launched_.erase(cpu_launched_.begin());
    return {};
}

void Engine::abandon_paged_steps() {
    if (cuda_forward_) {
        cuda_forward_->abandon_launched();
    }
    cpu_launched_.clear();
    cpu_fed_back_.clear();
}

Status Engine::decode(Sequence& sequence,
                      int32_t token,
                      int64_t steps,
                      const SamplingParams& params,
                      uint64_t counter,
                      std::vector<int32_t>& out) {
    TLLM_RETURN_IF_ERROR(use_this_thread());
    TLLM_RETURN_IF_ERROR(validate_sampling_params(params));
    out.clear();
    if (steps <= 0) {
        return {};
    }
    if (sequence.length() + steps > sequence.max_context()) {
        return make_error(ErrorCode::kContextOverflow, "{} tokens exceed the context of {}", sequence.length() + steps,
                          sequence.max_context());
    }
    if (cuda_forward_) {
        const cuda::SampleParams gpu{params.temperature, params.top_k, params.top_p, params.seed};
        TLLM_RETURN_IF_ERROR(cuda_forward_->decode(*sequence.cuda_cache_, token, steps, gpu, counter, out));
        sequence.tokens_.push_back(token);
        sequence.tokens_.insert(sequence.tokens_.end(), out.begin(), out.end() - 1);
        return {};
    }
    std::vector<std::vector<float>> logits;
    Sampler sampler(params);
    for (int64_t i = 0; i < steps; ++i) {
        const int32_t input = i == 0 ? token : out.back();
        StepInput step_input{&sequence, std::span<const int32_t>(&input, 1), false};
        TLLM_RETURN_IF_ERROR(step(std::span<const StepInput>(&step_input, 1), logits));
        out.push_back(sampler.sample(logits[0], counter + static_cast<uint64_t>(i)));
    }
    return {};
}

} // namespace tllm
