#include "cli/concurrency_bench.h"

#include "cli/build_info.h"
#include "cli/load_bench_report.h"
#include "cli/model_commands.h"
#include "cli/process_stats.h"
#include "core/log.h"
#include "core/random.h"
#include "runtime/batch_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

namespace tllm {
namespace {

using Clock = std::chrono::steady_clock;

struct Planned {
    double at = 0; // seconds after the start
    BatchRequest request;
};

// Runs the planned requests to their end; one JSON row.
// Rows of streams started together also give the decode phase's rate (decode_tok_s). A long stream (long_id, 0 for
// none) gets its own time to first token and inter-token latency; the row's other latencies are the rest's.
Result<nlohmann::json> run_setting(
    BatchEngine& engine, std::vector<Planned> planned, int32_t kv_blocks, bool started_together, uint64_t long_id) {
    const auto start = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    std::map<uint64_t, double> submitted;
    std::map<uint64_t, std::vector<double>> token_times;
    int64_t prompt_total = 0;
    int64_t generated = 0;
    int32_t peak_blocks = 0;
    std::vector<double> queued; // seconds from submission to admission
    size_t next = 0;
    while (next < planned.size() || !engine.idle()) {
        for (; next < planned.size() && planned[next].at <= elapsed(); ++next) {
            submitted[planned[next].request.id] = elapsed();
            prompt_total += static_cast<int64_t>(planned[next].request.prompt.size());
            TLLM_RETURN_IF_ERROR(engine.submit(std::move(planned[next].request)));
        }
        if (engine.idle()) { // waiting for the next arrival
            std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, planned[next].at - elapsed())));
            continue;
        }
        std::vector<TokenEvent> tokens;
        std::vector<FinishedRequest> finished;
        TLLM_RETURN_IF_ERROR(engine.step(tokens, finished));
        const double now = elapsed();
        for (const TokenEvent& e : tokens) {
            token_times[e.id].push_back(now);
            ++generated;
        }
        for (const FinishedRequest& f : finished) {
            queued.push_back(f.timing.admitted - f.timing.submitted);
        }
        peak_blocks = std::max(peak_blocks, kv_blocks - engine.kv().pool().available());
    }
    const double wall = elapsed();
    std::vector<double> ttft;
    std::vector<double> gaps;
    std::vector<double> long_gaps;
    double long_ttft = 0;
    for (const auto& [id, times] : token_times) {
        if (id == long_id) {
            long_ttft = times.front() - submitted.at(id);
            for (size_t i = 1; i < times.size(); ++i) {
                long_gaps.push_back(times[i] - times[i - 1]);
            }
            continue;
        }
        ttft.push_back(times.front() - submitted.at(id));
        for (size_t i = 1; i < times.size(); ++i) {
            gaps.push_back(times[i] - times[i - 1]);
        }
    }
    nlohmann::json row{{"requests", submitted.size()},
                       {"seconds", wall},
                       {"output_tok_s", static_cast<double>(generated) / wall},
                       {"total_tok_s", static_cast<double>(prompt_total + generated) / wall},
                       {"queue_ms_p50", 1e3 * percentile(queued, 0.5)},
                       {"queue_ms_p99", 1e3 * percentile(queued, 0.99)},
                       {"kv_blocks_peak", peak_blocks},
                       {"kv_blocks", kv_blocks},
                       {"preemptions", engine.scheduler().preemptions()},
                       {"peak_resident_mb", static_cast<double>(read_process_stats().peak_resident_bytes) / 1e6}};
    add_latency_percentiles(row, ttft, gaps);
    if (long_id != 0) {
        row["long_ttft_ms"] = 1e3 * long_ttft;
        row["long_itl_ms_p50"] = 1e3 * percentile(long_gaps, 0.5);
    }
    if (started_together) {
        std::vector<std::vector<double>> per_stream;
        for (auto& [id, times] : token_times) {
            if (id != long_id) {
                per_stream.push_back(std::move(times));
            }
        }
        row["decode_tok_s"] = decode_phase_tok_s(per_stream);
    }
    return row;
}

} // namespace

Status run_concurrency_bench(const ConcurrencyBenchFlags& flags) {
    if (flags.model.empty() == flags.synthetic.empty()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "bench --concurrency/--arrival-rate needs exactly one of --model DIR and --synthetic "
                          "20b|120b (synthetic weights: cuda backend)");
    }
    int max_streams = flags.arrival_rate > 0 ? flags.requests : 1;
    for (int streams : flags.concurrency) {
        max_streams = std::max(max_streams, streams);
    }
    TLLM_ASSIGN_OR_RETURN(EngineOptions engine_options_value,
                          engine_options(flags.backend, flags.threads, flags.precision));
    // One step takes a prefill chunk of 2048 tokens, or one decode token of every running stream.
    engine_options_value.max_step_tokens = std::max(2048, max_streams);
    std::unique_ptr<Engine> engine;
    if (!flags.synthetic.empty()) {
        TLLM_ASSIGN_OR_RETURN(GptOssConfig config, config_preset(flags.synthetic));
        TLLM_ASSIGN_OR_RETURN(engine, Engine::create_synthetic(config, engine_options_value, flags.seed, 0));
    } else {
        TLLM_ASSIGN_OR_RETURN(std::unique_ptr<ModelWeights> weights, ModelWeights::load(flags.model));
        TLLM_ASSIGN_OR_RETURN(
            engine, Engine::create(std::shared_ptr<const ModelWeights>(std::move(weights)), engine_options_value));
    }
    const GptOssConfig& c = engine->config();
    const std::string card = engine->cuda_context() != nullptr ? engine->cuda_context()->info().name : "cpu";
    const std::string model_name = flags.synthetic.empty() ? flags.model : "synthetic-" + flags.synthetic;
    Rng rng(flags.seed ^ 0x636f6e63ull);
    auto random_prompt = [&](int n) {
        std::vector<int32_t> tokens(static_cast<size_t>(n));
        for (int32_t& t : tokens) {
            t = static_cast<int32_t>(rng.next() % static_cast<uint64_t>(c.vocab_size));
        }
        return tokens;
    };
    if (flags.long_context > 0 && (flags.concurrency.empty() || flags.long_context <= flags.gen_tokens)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "bench --long-context N adds a stream to each --concurrency setting, whose prompt is N "
                          "minus --gen-tokens tokens: give --concurrency and an N above --gen-tokens");
    }
    std::vector<std::pair<int, std::vector<Planned>>> settings; // (streams, plan)
    uint64_t id = 1;
    const uint64_t long_id = flags.long_context > 0 ? ~0ull : 0; // apart from every numbered stream
    if (flags.arrival_rate > 0) {
        std::vector<Planned> plan;
        double at = 0;
        for (int i = 0; i < flags.requests; ++i) {
            at += -std::log(1.0 - rng.uniform(0.0f, 0.999999f)) / flags.arrival_rate;
            // Lengths spread over half to one and a half times the flags'.
            const int prompt = std::max(1, static_cast<int>(flags.prompt_tokens * rng.uniform(0.5f, 1.5f)));
            const int gen = std::max(1, static_cast<int>(flags.gen_tokens * rng.uniform(0.5f, 1.5f)));
            plan.push_back({at, {id++, random_prompt(prompt), gen, {}, {}}});
        }
        settings.emplace_back(0, std::move(plan));
    } else {
        for (int streams : flags.concurrency) {
            std::vector<Planned> plan;
            for (int i = 0; i < streams; ++i) {
                plan.push_back({0, {id++, random_prompt(flags.prompt_tokens), flags.gen_tokens, {}, {}}});
            }
            if (long_id != 0) {
                plan.push_back(
                    {0, {long_id, random_prompt(flags.long_context - flags.gen_tokens), flags.gen_tokens, {}, {}}});
            }
            settings.emplace_back(streams, std::move(plan));
        }
    }
    const nlohmann::json version = build_info_json(build_info());
    std::vector<nlohmann::json> rows;
    for (auto& [streams, plan] : settings) {
        // KV for every stream at its longest at once: none waits for blocks, as in llama.cpp's batched-bench.
        BatchEngineOptions options;
        options.block_tokens = flags.block_tokens;
        options.max_running = std::max<int>(1, static_cast<int>(plan.size()));
        options.step_tokens = engine_options_value.max_step_tokens;
        int64_t blocks = 0;
        for (const Planned& p : plan) {
            blocks += BatchEngine::kv_blocks_for(
                engine->config(), options, static_cast<int64_t>(p.request.prompt.size()) + p.request.max_new_tokens);
        }
        options.kv_blocks = static_cast<int32_t>(std::min<int64_t>(blocks, 1 << 20));
        TLLM_ASSIGN_OR_RETURN(std::unique_ptr<BatchEngine> batch, BatchEngine::create(*engine, options));
        TLLM_ASSIGN_OR_RETURN(nlohmann::json row,
                              run_setting(*batch, std::move(plan), options.kv_blocks, streams > 0, long_id));
        row["card"] = card;
        row["backend"] = backend_name(engine->options().backend);
        row["model"] = model_name;
        row["streams"] = streams;
        if (long_id != 0) {
            row["long_context"] = flags.long_context;
        }
        row["arrival_rate"] = flags.arrival_rate;
        emit_row(std::move(row), flags.prompt_tokens, flags.gen_tokens, version, rows);
    }
    if (!flags.json_only) {
        std::printf("\n%s, %s backend, %s, %d-token prompts, %d generated per stream\n", card.c_str(),
                    backend_name(engine->options().backend), model_name.c_str(), flags.prompt_tokens, flags.gen_tokens);
        if (long_id != 0) {
            std::printf("(each setting adds one stream filling %d positions; the table's latencies are the other "
                        "streams')\n",
                        flags.long_context);
        }
        std::printf("| streams | output tok/s | decode tok/s | total tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | "
                    "ITL p99 ms | KV blocks peak |\n|---|---|---|---|---|---|---|---|---|\n");
        for (const nlohmann::json& r : rows) {
            std::printf("| %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %d |\n", r["streams"].get<int>(),
                        r["output_tok_s"].get<double>(), r.value("decode_tok_s", 0.0), r["total_tok_s"].get<double>(),
                        r["ttft_ms_p50"].get<double>(), r["ttft_ms_p99"].get<double>(), r["itl_ms_p50"].get<double>(),
                        r["itl_ms_p99"].get<double>(), r["kv_blocks_peak"].get<int>());
        }
        for (const nlohmann::json& r : rows) {
            if (r.contains("long_ttft_ms")) {
                std::printf("beside %d streams, the %d-position stream: TTFT %.0f ms, ITL p50 %.2f ms\n",
                            r["streams"].get<int>(), flags.long_context, r["long_ttft_ms"].get<double>(),
                            r["long_itl_ms_p50"].get<double>());
            }
        }
    }
    return {};
}

} // namespace tllm
