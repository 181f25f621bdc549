// `tritonllm bench`: prefill and batch-1 decode speed, against the ceiling measured in the same run:
// the bytes one decode step must read over the card's device-to-device copy bandwidth. With --context N,
// both are measured with N tokens already in the cache (llama-bench's -d), and the ceiling counts their KV.
// One stream runs through the batched engine, as chat, generate and the server run requests; --contiguous runs it
// on a sequence's own contiguous cache (Engine::decode), the reference the batched engine's batch 1 is held to.
#include "cli/bench_command.h"

#include "cli/build_info.h"
#include "cli/card_ceilings.h"
#include "cli/concurrency_bench.h"
#include "cli/gemm_bench.h"
#include "cli/model_commands.h"
#include "cli/report.h"
#include "cli/serve_bench.h"
#include "core/log.h"
#include "core/random.h"
#include "model/config.h"
#include "runtime/batch_engine.h"
#include "runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

namespace tllm {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchFlags {
    std::string model;
    std::string synthetic;
    std::string backend;
    int context_tokens = 0; // already in the cache when each run's prompt arrives
    int prompt_tokens = 512;
    int gen_tokens = 128;
    int runs = 5;
    int threads = 0;
    uint64_t seed = 0;
    float temperature = 0.0f;
    bool json_only = false;
    bool gemm = false;
    bool contiguous = false;
    std::vector<int> concurrency;
    double arrival_rate = 0;
    int requests = 64;
    int long_context = 0;
    std::string serve_url; // bench --serve: a running server over HTTP instead of the engine
    std::string api_key;
};

// Bytes one decode step reads at context length `context`: every non-expert weight, top_k experts
// per layer (blocks, scales, bias rows), one embedding row, the unembedding and the KV cache rows
// attention reads (bf16; sliding layers at most the window).
double decode_step_bytes(const GptOssConfig& c, double context) {
    const double hidden = static_cast<double>(c.hidden_size);
    const double inter = static_cast<double>(c.intermediate_size);
    const double qkv_rows = static_cast<double>(c.q_width() + 2 * c.kv_width());
    const double attention = 2 * hidden * 2 + qkv_rows * (hidden + 1) * 2 + static_cast<double>(c.n_heads) * 2 +
                             hidden * (static_cast<double>(c.q_width()) + 1) * 2 +
                             static_cast<double>(c.n_experts) * (hidden + 1) * 2;
    // An MXFP4 row of k weights: k/32 blocks of 16 bytes plus one scale byte each; the bias is bf16.
    auto mxfp4_row_with_bias = [](double k) { return k / 32 * 17 + 2; };
    const double expert = 2 * inter * mxfp4_row_with_bias(hidden) + hidden * mxfp4_row_with_bias(inter);
    double kv = 0;
    for (int64_t layer = 0; layer < c.n_layers; ++layer) {
        const double keys = c.layer_sliding[static_cast<size_t>(layer)]
                                ? std::min(context, static_cast<double>(c.sliding_window))
                                : context;
        kv += 2 * keys * static_cast<double>(c.kv_width()) * 2;
    }
    const double layers =
        static_cast<double>(c.n_layers) * (attention + static_cast<double>(c.n_experts_per_token) * expert);
    return layers + kv + static_cast<double>(c.vocab_size) * hidden * 2 + hidden * 2 * 2;
}

// One run's times: the prompt's step up to its first token, then gen_tokens decode steps.
struct RunTimes {
    double prefill_s = 0;
    double decode_s = 0;
};

class StreamRunner {
  public:
    virtual ~StreamRunner() = default;
    // `prompt` after the context (the same tokens every run), then gen_tokens generated.
    virtual Result<RunTimes>
    run(const std::vector<int32_t>& prompt, int gen_tokens, const SamplingParams& sampling) = 0;
};

double seconds_between(Clock::time_point start, Clock::time_point end) {
    return std::chrono::duration<double>(end - start).count();
}

// A sequence on its own contiguous cache, truncated back to the context before each run.
class ContiguousRunner : public StreamRunner {
  public:
    static Result<std::unique_ptr<StreamRunner>>
    create(Engine& engine, int64_t max_context, std::span<const int32_t> context, int chunk) {
        auto runner = std::unique_ptr<ContiguousRunner>(new ContiguousRunner(engine));
        TLLM_ASSIGN_OR_RETURN(runner->sequence_, engine.new_sequence(max_context));
        std::vector<std::vector<float>> logits;
        for (size_t done = 0; done < context.size(); done += static_cast<size_t>(chunk)) {
            const StepInput input{runner->sequence_.get(),
                                  context.subspan(done, std::min(context.size() - done, static_cast<size_t>(chunk))),
                                  false};
            TLLM_RETURN_IF_ERROR(engine.step(std::span<const StepInput>(&input, 1), logits));
        }
        runner->context_ = static_cast<int64_t>(context.size());
        return std::unique_ptr<StreamRunner>(std::move(runner));
    }
    Result<RunTimes> run(const std::vector<int32_t>& prompt, int gen_tokens, const SamplingParams& sampling) override {
        sequence_->truncate(context_);
        std::vector<std::vector<float>> logits;
        const StepInput input{sequence_.get(), prompt, false};
        const auto prefill_start = Clock::now();
        TLLM_RETURN_IF_ERROR(engine_->step(std::span<const StepInput>(&input, 1), logits));
        const auto decode_start = Clock::now();
        std::vector<int32_t> generated;
        TLLM_RETURN_IF_ERROR(engine_->decode(*sequence_, prompt.back(), gen_tokens, sampling, 0, generated));
        return RunTimes{seconds_between(prefill_start, decode_start), seconds_between(decode_start, Clock::now())};
    }

  private:
    explicit ContiguousRunner(Engine& engine) : engine_(&engine) {}
    Engine* engine_;
    std::unique_ptr<Sequence> sequence_;
    int64_t context_ = 0;
};

// One request at a time through the batched engine: the context is one request's prompt, cached in whole blocks,
// which every run's request starts with, so that its prefix cache serves it (as a chat's earlier turns).
class BatchedRunner : public StreamRunner {
  public:
    static Result<std::unique_ptr<StreamRunner>>
    create(Engine& engine, std::vector<int32_t> context, int prompt_tokens, int gen_tokens) {
        auto runner = std::unique_ptr<BatchedRunner>(new BatchedRunner(std::move(context)));
        const auto run_tokens = static_cast<int64_t>(prompt_tokens) + gen_tokens + 1;
        const auto context_tokens = static_cast<int64_t>(runner->context_.size());
        TLLM_ASSIGN_OR_RETURN(BatchEngineOptions options,
                              BatchEngine::one_sequence_options(engine, context_tokens + run_tokens));
        // The context's blocks stay cached while runs come and go: room for a run beside them, and for the
        // blocks the last run left cached, so that none of the context's is evicted.
        options.kv_blocks = static_cast<int32_t>(
            std::min<int64_t>(options.kv_blocks + 2 * BatchEngine::kv_blocks_for(engine.config(), options, run_tokens),
                              std::numeric_limits<int32_t>::max()));
        TLLM_ASSIGN_OR_RETURN(runner->batch_, BatchEngine::create(engine, options));
        if (!runner->context_.empty()) {
            TLLM_RETURN_IF_ERROR(runner->serve(runner->context_, 1, SamplingParams{}));
        }
        return std::unique_ptr<StreamRunner>(std::move(runner));
    }
    Result<RunTimes> run(const std::vector<int32_t>& prompt, int gen_tokens, const SamplingParams& sampling) override {
        std::vector<int32_t> tokens = context_;
        tokens.insert(tokens.end(), prompt.begin(), prompt.end());
        return serve(tokens, gen_tokens + 1, sampling);
    }

  private:
    explicit BatchedRunner(std::vector<int32_t> context) : context_(std::move(context)) {}

    Result<RunTimes> serve(std::vector<int32_t> tokens, int max_new_tokens, const SamplingParams& sampling) {
        const uint64_t id = next_id_++;
        const int32_t block = batch_->kv().block_tokens();
        const int64_t cacheable = static_cast<int64_t>(context_.size()) / block * block;
        const auto start = Clock::now();
        TLLM_RETURN_IF_ERROR(batch_->submit({id, std::move(tokens), max_new_tokens, {}, sampling}));
        Clock::time_point first = start;
        Clock::time_point last = start;
        int generated = 0;
        std::vector<TokenEvent> events;
        std::vector<FinishedRequest> finished;
        while (!batch_->idle()) {
            events.clear();
            TLLM_RETURN_IF_ERROR(batch_->step(events, finished));
            for (const TokenEvent& event : events) {
                last = Clock::now();
                if (generated++ == 0) {
                    first = last;
                    if (id > 1 && event.cached_prompt_tokens < cacheable) {
                        TLLM_LOG_WARN("bench: the prefix cache served {} of the context's {} positions",
                                      event.cached_prompt_tokens, cacheable);
                    }
                }
            }
        }
        return RunTimes{seconds_between(start, first), seconds_between(first, last)};
    }

    std::vector<int32_t> context_;
    std::unique_ptr<BatchEngine> batch_;
    uint64_t next_id_ = 1;
};

Status run_bench(const BenchFlags& flags) {
    if (!flags.serve_url.empty()) {
        if (!flags.model.empty() || !flags.synthetic.empty() || flags.arrival_rate > 0 || flags.gemm) {
            return make_error(ErrorCode::kInvalidArgument,
                              "bench --serve measures a running server: --model, --synthetic, --arrival-rate and "
                              "--gemm do not go with it");
        }
        ServeBenchFlags serve;
        serve.url = flags.serve_url;
        serve.api_key = flags.api_key;
        serve.concurrency = flags.concurrency.empty() ? std::vector<int>{1, 8, 32, 64, 256} : flags.concurrency;
        serve.prompt_tokens = flags.prompt_tokens;
        serve.gen_tokens = flags.gen_tokens;
        serve.seed = flags.seed;
        serve.json_only = flags.json_only;
        return run_serve_bench(serve);
    }
    if (!flags.concurrency.empty() || flags.arrival_rate > 0) {
        ConcurrencyBenchFlags batched;
        batched.model = flags.model;
        batched.synthetic = flags.synthetic;
        batched.backend = flags.backend;
        batched.concurrency = flags.concurrency;
        batched.arrival_rate = flags.arrival_rate;
        batched.requests = flags.requests;
        batched.prompt_tokens = flags.prompt_tokens;
        batched.gen_tokens = flags.gen_tokens;
        batched.long_context = flags.long_context;
        batched.threads = flags.threads;
        batched.seed = flags.seed;
        batched.json_only = flags.json_only;
        return run_concurrency_bench(batched);
    }
    if (flags.gemm) {
        if (!flags.model.empty() || (!flags.backend.empty() && flags.backend != "cuda")) {
            return make_error(ErrorCode::kInvalidArgument,
                              "bench --gemm measures the cuda kernels at a preset's shapes: give --synthetic 20b|120b "
                              "(default 20b), not --model or --backend cpu");
        }
        GemmBenchFlags gemm;
        gemm.shape = flags.synthetic.empty() ? "20b" : flags.synthetic;
        gemm.seed = flags.seed;
        gemm.json_only = flags.json_only;
        return run_gemm_bench(gemm);
    }
    if (flags.model.empty() == flags.synthetic.empty()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "bench needs exactly one of --model DIR and --synthetic 20b|120b");
    }
    // The context is prefilled once, in steps of this many tokens.
    constexpr int kContextChunk = 2048;
    TLLM_ASSIGN_OR_RETURN(EngineOptions options, engine_options(flags.backend, flags.threads, "bf16"));
    options.max_step_tokens = std::max({flags.prompt_tokens, std::min(flags.context_tokens, kContextChunk), 1});
    const int64_t context = int64_t{flags.context_tokens} + flags.prompt_tokens + flags.gen_tokens + 1;
    std::unique_ptr<Engine> engine;
    std::string model_name;
    if (!flags.synthetic.empty()) {
        TLLM_ASSIGN_OR_RETURN(GptOssConfig config, config_preset(flags.synthetic));
        TLLM_ASSIGN_OR_RETURN(engine, Engine::create_synthetic(config, options, flags.seed, context));
        model_name = "synthetic-" + flags.synthetic;
    } else {
        TLLM_ASSIGN_OR_RETURN(std::unique_ptr<ModelWeights> weights, ModelWeights::load(flags.model));
        TLLM_ASSIGN_OR_RETURN(engine, Engine::create(std::shared_ptr<const ModelWeights>(std::move(weights)), options));
        model_name = flags.model;
    }
    const GptOssConfig& c = engine->config();
    std::string card = "cpu";
    double copy_bandwidth = 0;
    if (engine->cuda_context() != nullptr) {
        card = engine->cuda_context()->info().name;
        TLLM_ASSIGN_OR_RETURN(copy_bandwidth,
                              cuda_copy_bandwidth(*engine->cuda_context(), engine->cuda_forward()->stream()));
    } else {
        copy_bandwidth = host_copy_bandwidth();
    }
    // The decode steps see contexts N + prompt .. N + prompt + gen − 1: their mean.
    const double bytes_per_token =
        decode_step_bytes(c, flags.context_tokens + flags.prompt_tokens + (flags.gen_tokens - 1) / 2.0 + 1);
    const double ceiling = copy_bandwidth / bytes_per_token;

    const SamplingParams sampling{flags.temperature, 1.0f, 0, flags.seed};
    Rng rng(flags.seed ^ 0x62656e6368ull);
    auto random_tokens = [&](int count) {
        std::vector<int32_t> tokens(static_cast<size_t>(count));
        for (int32_t& token : tokens) {
            token = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(c.vocab_size));
        }
        return tokens;
    };
    const auto fill_start = Clock::now();
    std::vector<int32_t> context_tokens = random_tokens(flags.context_tokens);
    std::unique_ptr<StreamRunner> runner;
    if (flags.contiguous) {
        TLLM_ASSIGN_OR_RETURN(runner, ContiguousRunner::create(*engine, context, context_tokens, kContextChunk));
    } else {
        TLLM_ASSIGN_OR_RETURN(
            runner, BatchedRunner::create(*engine, std::move(context_tokens), flags.prompt_tokens, flags.gen_tokens));
    }
    if (flags.context_tokens > 0) {
        TLLM_LOG_INFO("context of {} tokens prefilled in {:.2f} s", flags.context_tokens,
                      seconds_between(fill_start, Clock::now()));
    }
    const char* engine_name = flags.contiguous ? "contiguous" : "batched";
    std::vector<nlohmann::json> rows;
    const nlohmann::json version = build_info_json(build_info());
    for (int run = -1; run < flags.runs; ++run) { // run −1 warms up (module loads, graph capture)
        TLLM_ASSIGN_OR_RETURN(const RunTimes times,
                              runner->run(random_tokens(flags.prompt_tokens), flags.gen_tokens, sampling));
        const double prefill_s = times.prefill_s;
        const double decode_s = times.decode_s;
        if (run < 0) {
            continue;
        }
        const double decode_rate = flags.gen_tokens / decode_s;
        nlohmann::json row = {{"card", card},
                              {"backend", backend_name(options.backend)},
                              {"model", model_name},
                              {"engine", engine_name},
                              {"run", run},
                              {"context_tokens", flags.context_tokens},
                              {"prompt_tokens", flags.prompt_tokens},
                              {"gen_tokens", flags.gen_tokens},
                              {"prefill_tok_s", flags.prompt_tokens / prefill_s},
                              // The first token comes from the prompt step's logits.
                              {"ttft_ms", 1e3 * prefill_s},
                              {"decode_tok_s", decode_rate},
                              {"ms_per_token", 1e3 * decode_s / flags.gen_tokens},
                              {"copy_bandwidth_gb_s", copy_bandwidth / 1e9},
                              {"bytes_per_token", bytes_per_token},
                              {"ceiling_tok_s", ceiling},
                              {"fraction_of_ceiling", decode_rate / ceiling},
                              {"version", version}};
        std::printf("%s\n", row.dump().c_str());
        std::fflush(stdout);
        rows.push_back(std::move(row));
    }
    if (!flags.json_only && !rows.empty()) {
        std::vector<double> prefill;
        std::vector<double> ttft;
        std::vector<double> decode;
        for (const nlohmann::json& row : rows) {
            prefill.push_back(row["prefill_tok_s"].get<double>());
            ttft.push_back(row["ttft_ms"].get<double>());
            decode.push_back(row["decode_tok_s"].get<double>());
        }
        const double decode_median = median(decode);
        std::printf("\n%s, %s backend, %s, %s engine, %d tokens in the cache, %d-token prompt, %d generated, %d runs "
                    "(medians)\n",
                    card.c_str(), backend_name(options.backend), model_name.c_str(), engine_name, flags.context_tokens,
                    flags.prompt_tokens, flags.gen_tokens, flags.runs);
        std::printf("| prefill tok/s | TTFT ms | decode tok/s | ms/token | copy GB/s | GB/token | ceiling tok/s | of "
                    "ceiling |\n");
        std::printf("|---|---|---|---|---|---|---|---|\n");
        std::printf("| %.0f | %.1f | %.1f | %.3f | %.0f | %.3f | %.0f | %.1f%% |\n", median(prefill), median(ttft),
                    decode_median, 1e3 / decode_median, copy_bandwidth / 1e9, bytes_per_token / 1e9, ceiling,
                    100.0 * decode_median / ceiling);
    }
    return {};
}

} // namespace

void register_bench_command(CLI::App& app) {
    auto flags = std::make_shared<BenchFlags>();
    CLI::App* bench = app.add_subcommand("bench", "Prefill and decode speed against the card's memory ceiling");
    CLI::Option* model = bench->add_option("--model", flags->model, "Model directory");
    CLI::Option* synthetic =
        bench->add_option("--synthetic", flags->synthetic, "Random weights of this shape made on the GPU (no file)")
            ->check(CLI::IsMember({"20b", "120b"}));
    model->excludes(synthetic);
    bench->add_option("--backend", flags->backend, "cpu or cuda (default: cuda when a GPU is present)")
        ->check(CLI::IsMember({"cpu", "cuda"}));
    bench
        ->add_option("--context", flags->context_tokens,
                     "Tokens already in the cache before each run's prompt (prefilled once; the ceiling counts their "
                     "KV bytes)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    bench->add_option("--prompt-tokens", flags->prompt_tokens, "Prompt length")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    bench->add_option("--gen-tokens", flags->gen_tokens, "Tokens decoded per run")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    bench->add_option("--runs", flags->runs, "Timed runs (after one warm-up)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    bench->add_option("--threads", flags->threads, "CPU threads for the cpu backend (0: all)");
    bench->add_option("--seed", flags->seed, "Seed of the prompt, synthetic weights and sampling")
        ->capture_default_str();
    bench->add_option("--temperature", flags->temperature, "Sampling temperature in decode (0: greedy)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    bench->add_flag("--json", flags->json_only, "Print only the JSON lines");
    bench->add_flag("--contiguous", flags->contiguous,
                    "Run the stream on a sequence's own contiguous cache instead of the batched engine (the reference "
                    "the batched engine's batch 1 is held to)");
    bench
        ->add_option("--concurrency", flags->concurrency,
                     "Streams started together through the batched engine, one run per value (e.g. 1,8,64)")
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
    bench
        ->add_option("--arrival-rate", flags->arrival_rate,
                     "Requests per second arriving as a Poisson process, lengths spread around the flags' "
                     "(batched engine)")
        ->check(CLI::PositiveNumber);
    bench
        ->add_option("--long-context", flags->long_context,
                     "With --concurrency: one more stream started with the others, whose prompt and generated "
                     "tokens fill this many positions (e.g. 131072 beside 64 chats)")
        ->check(CLI::PositiveNumber);
    bench->add_option("--requests", flags->requests, "Requests of an --arrival-rate run")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    bench->add_flag("--gemm", flags->gemm,
                    "Time each matrix product of a step (dense and MXFP4 experts) at 1, 8, 64, 512 and 2048 tokens "
                    "against the card's mma.sync peak and copy bandwidth, instead of the model");
    bench->add_option("--serve", flags->serve_url,
                      "Load a running server over HTTP instead (http://HOST:PORT): streaming chat completions at each "
                      "--concurrency level (default 1,8,32,64,256)");
    bench->add_option("--api-key", flags->api_key, "Bearer key for --serve");
    bench->callback([flags] { throw CLI::RuntimeError(report(run_bench(*flags))); });
}

} // namespace tllm
