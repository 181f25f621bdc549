#include "cli/model_commands.h"

#include "cli/process_stats.h"
#include "cli/report.h"
#include "core/environment.h"
#include "core/log.h"
#include "core/npy.h"
#include "model/synth.h"
#include "runtime/batch_engine.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>

namespace tllm {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Parses "1,2,3" (spaces allowed) into token ids.
Result<std::vector<int32_t>> parse_token_list(const std::string& text) {
    std::vector<int32_t> tokens;
    size_t position = 0;
    while (position <= text.size()) {
        size_t comma = text.find(',', position);
        std::string item = text.substr(position, comma == std::string::npos ? std::string::npos : comma - position);
        size_t first = item.find_first_not_of(" \t\n");
        size_t last = item.find_last_not_of(" \t\n");
        if (first == std::string::npos) {
            return make_error(ErrorCode::kInvalidArgument, "--tokens: empty item in \"{}\"", text);
        }
        item = item.substr(first, last - first + 1);
        char* end = nullptr;
        long long value = std::strtoll(item.c_str(), &end, 10);
        if (end == item.c_str() || *end != '\0' || value < 0 || value > INT32_MAX) {
            return make_error(ErrorCode::kInvalidArgument, "--tokens: \"{}\" is not a token id", item);
        }
        tokens.push_back(static_cast<int32_t>(value));
        if (comma == std::string::npos) {
            break;
        }
        position = comma + 1;
    }
    return tokens;
}

struct EngineFlags {
    std::string model;
    std::string backend; // "" = cuda when a GPU is present
    int threads = 0;
    int64_t context = 0;
    std::string precision = "bf16";
};

void add_engine_flags(CLI::App* command, EngineFlags& flags) {
    command->add_option("--model", flags.model, "Model directory (config.json + safetensors, either layout)")
        ->required();
    command
        ->add_option("--backend", flags.backend, "Compute backend: cpu or cuda (default: cuda when a GPU is present)")
        ->check(CLI::IsMember({"cpu", "cuda"}));
    command->add_option("--threads", flags.threads, "CPU threads (0: all)")->check(CLI::NonNegativeNumber);
    command->add_option("--context", flags.context, "Context length to allow (0: the model's maximum)")
        ->check(CLI::NonNegativeNumber);
    command
        ->add_option("--precision", flags.precision,
                     "bf16: round where the model stores bf16 (default); f32: a float32 reference")
        ->check(CLI::IsMember({"bf16", "f32"}))
        ->capture_default_str();
}

} // namespace

Result<EngineOptions> engine_options(const std::string& backend, int threads, const std::string& precision) {
    EngineOptions options;
    TLLM_ASSIGN_OR_RETURN(options.backend, parse_backend(backend));
    TLLM_ASSIGN_OR_RETURN(options.jit, cuda::jit_options_from(Environment::from_process()));
    options.n_threads = threads;
    options.precision = precision == "f32" ? Precision::kF32 : Precision::kBf16;
    return options;
}

namespace {

Result<std::unique_ptr<Engine>> open_engine(const EngineFlags& flags) {
    TLLM_ASSIGN_OR_RETURN(EngineOptions options, engine_options(flags.backend, flags.threads, flags.precision));
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<ModelWeights> weights, ModelWeights::load(flags.model));
    return Engine::create(std::shared_ptr<const ModelWeights>(std::move(weights)), options);
}

struct SynthFlags {
    std::string config = "20b";
    std::string layout = "original";
    uint64_t seed = 0;
    std::string out;
    uint64_t max_shard_bytes = 0;
};

Status run_synth(const SynthFlags& flags) {
    Result<GptOssConfig> config = config_preset(flags.config);
    if (!config.ok()) {
        if (!std::filesystem::exists(flags.config)) {
            return make_error(ErrorCode::kInvalidArgument, "--config: \"{}\" is neither 20b, 120b nor a file",
                              flags.config);
        }
        config = load_config_file(flags.config);
        if (!config.ok()) {
            return config.error();
        }
    }
    SynthOptions options;
    options.layout = flags.layout == "hf" ? CheckpointLayout::kHuggingFace : CheckpointLayout::kOriginal;
    options.seed = flags.seed;
    options.max_shard_bytes = flags.max_shard_bytes;
    auto start = Clock::now();
    TLLM_RETURN_IF_ERROR(write_synthetic_checkpoint(*config, options, flags.out));
    TLLM_LOG_INFO("synthetic checkpoint (random weights, seed {}) written to {} in {:.1f} s", flags.seed, flags.out,
                  seconds_since(start));
    return {};
}

struct LogitsFlags {
    EngineFlags engine;
    std::string tokens;
    std::string out;
    int64_t decode_after = 0; // 0: one forward pass over every token
};

Status run_logits(const LogitsFlags& flags) {
    TLLM_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, parse_token_list(flags.tokens));
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, open_engine(flags.engine));
    const int64_t context = engine->context_limit(flags.engine.context);
    if (static_cast<int64_t>(tokens.size()) > context) {
        return make_error(ErrorCode::kContextOverflow, "{} tokens exceed the context of {}", tokens.size(), context);
    }
    // Through the batched engine, as generate, chat and the server: the prompt in steps of the engine's step size,
    // then (with --decode-after) one decode step per token: the same logits as one pass, computed the way
    // generation computes them.
    TLLM_ASSIGN_OR_RETURN(const BatchEngineOptions options,
                          BatchEngine::one_sequence_options(*engine, static_cast<int64_t>(tokens.size())));
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<BatchEngine> batch, BatchEngine::create(*engine, options));
    std::vector<float> rows;
    auto start = Clock::now();
    TLLM_RETURN_IF_ERROR(batch->all_logits(tokens, flags.decode_after, rows));
    TLLM_LOG_INFO("{} tokens in {:.3f} s", tokens.size(), seconds_since(start));
    return write_npy_f32(flags.out, {static_cast<int64_t>(tokens.size()), engine->config().vocab_size}, rows);
}

struct GenerateFlags {
    EngineFlags engine;
    std::string tokens;
    std::string prompt; // text instead of ids: encoded (Harmony special tokens allowed), output decoded
    int max_tokens = 64;
    float temperature = 0.0f;
    float top_p = 1.0f;
    int top_k = 0;
    uint64_t seed = 0;
    std::vector<int32_t> stop_ids = {200002, 200012}; // <|return|>, <|call|>
};

// Writes generated tokens to stdout: comma-separated ids, or with a tokenizer, text as soon as it is
// valid UTF-8 (a character split across tokens is held back until complete).
class TokenPrinter {
  public:
    explicit TokenPrinter(const Tokenizer* tokenizer) : tokenizer_(tokenizer) {}
    Status print(int32_t token) {
        if (tokenizer_ == nullptr) {
            std::printf("%s%d", printed_++ ? "," : "", token);
        } else {
            TLLM_ASSIGN_OR_RETURN(std::string_view bytes, tokenizer_->token_bytes(token));
            std::string text = decoder_.push(bytes);
            std::fwrite(text.data(), 1, text.size(), stdout);
        }
        std::fflush(stdout);
        return {};
    }
    void finish() {
        if (tokenizer_ != nullptr) {
            std::string rest = decoder_.flush();
            std::fwrite(rest.data(), 1, rest.size(), stdout);
        }
        std::printf("\n");
    }

  private:
    const Tokenizer* tokenizer_;
    Utf8StreamDecoder decoder_;
    int printed_ = 0;
};

Status run_generate(const GenerateFlags& flags) {
    const SamplingParams sampling = {flags.temperature, flags.top_p, flags.top_k, flags.seed};
    TLLM_RETURN_IF_ERROR(validate_sampling_params(sampling));
    std::optional<Tokenizer> tokenizer;
    std::vector<int32_t> prompt;
    if (!flags.prompt.empty()) {
        TLLM_ASSIGN_OR_RETURN(Tokenizer loaded, Tokenizer::for_model_dir(flags.engine.model));
        tokenizer = std::move(loaded);
        TLLM_ASSIGN_OR_RETURN(prompt, tokenizer->encode_with_special(flags.prompt));
    } else if (!flags.tokens.empty()) {
        TLLM_ASSIGN_OR_RETURN(prompt, parse_token_list(flags.tokens));
    } else {
        return make_error(ErrorCode::kInvalidArgument, "generate needs --tokens or --prompt");
    }
    TokenPrinter printer(tokenizer ? &*tokenizer : nullptr);
    auto load_start = Clock::now();
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, open_engine(flags.engine));
    const double load_seconds = seconds_since(load_start);
    const int64_t context = engine->context_limit(flags.engine.context);
    const auto prompt_tokens = static_cast<int64_t>(prompt.size());
    if (prompt_tokens >= context) {
        return make_error(ErrorCode::kContextOverflow, "{} prompt tokens leave no room in a context of {}",
                          prompt_tokens, context);
    }
    // One request through the batched engine, a batch of one, as the server runs requests: its KV in blocks of 16
    // positions (the sliding-window layers keep only their window's), the steps overlapped with the host's work.
    const int64_t new_tokens = std::min<int64_t>(flags.max_tokens, context - prompt_tokens);
    TLLM_ASSIGN_OR_RETURN(const BatchEngineOptions options,
                          BatchEngine::one_sequence_options(*engine, prompt_tokens + new_tokens));
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<BatchEngine> batch, BatchEngine::create(*engine, options));
    int generated = 0;
    double first_token_at = 0;
    const auto start = Clock::now();
    TLLM_RETURN_IF_ERROR(batch->submit({1, prompt, static_cast<int32_t>(new_tokens), flags.stop_ids, sampling}));
    while (!batch->idle()) {
        std::vector<TokenEvent> tokens;
        std::vector<FinishedRequest> finished;
        TLLM_RETURN_IF_ERROR(batch->step(tokens, finished));
        for (const TokenEvent& token : tokens) {
            if (generated++ == 0) {
                first_token_at = seconds_since(start);
            }
            TLLM_RETURN_IF_ERROR(printer.print(token.token));
        }
    }
    printer.finish();
    const double decode_seconds = seconds_since(start) - first_token_at;
    ProcessStats stats = read_process_stats();
    // The first token comes with the prompt's pass; each later one costs one decode step.
    const int decode_steps = std::max(generated - 1, 0);
    TLLM_LOG_INFO("load {:.2f} s | prefill {} tokens, first token after {:.2f} s ({:.1f} tok/s) | decode {} steps in "
                  "{:.2f} s ({:.2f} tok/s) | resident {:.2f} GB (peak {:.2f} GB)",
                  load_seconds, prompt.size(), first_token_at, static_cast<double>(prompt.size()) / first_token_at,
                  decode_steps, decode_seconds, decode_steps > 0 ? decode_steps / decode_seconds : 0.0,
                  stats.resident_bytes / 1e9, stats.peak_resident_bytes / 1e9);
    return {};
}

} // namespace

void register_model_commands(CLI::App& app) {
    auto synth_flags = std::make_shared<SynthFlags>();
    CLI::App* synth = app.add_subcommand("synth", "Write a synthetic checkpoint (real names, shapes, dtypes; random "
                                                  "values)");
    synth->add_option("--config", synth_flags->config, "20b, 120b, or a config.json of either form")
        ->capture_default_str();
    synth->add_option("--layout", synth_flags->layout, "Checkpoint layout")
        ->check(CLI::IsMember({"original", "hf"}))
        ->capture_default_str();
    synth->add_option("--seed", synth_flags->seed, "Random seed")->capture_default_str();
    synth->add_option("--out", synth_flags->out, "Output directory")->required();
    synth->add_option("--max-shard-bytes", synth_flags->max_shard_bytes,
                      "Start a new shard past this size (0: as published)");
    synth->callback([synth_flags] { throw CLI::RuntimeError(report(run_synth(*synth_flags))); });

    auto logits_flags = std::make_shared<LogitsFlags>();
    CLI::App* logits = app.add_subcommand("logits", "Write the float32 logits [n_tokens, vocab] of one forward pass "
                                                    "as .npy");
    add_engine_flags(logits, logits_flags->engine);
    logits->add_option("--tokens", logits_flags->tokens, "Comma-separated token ids")->required();
    logits->add_option("--out", logits_flags->out, "Output .npy file")->required();
    logits
        ->add_option("--decode-after", logits_flags->decode_after,
                     "Run the first N tokens as one prefill step, then each later token as its own decode step")
        ->check(CLI::NonNegativeNumber);
    logits->callback([logits_flags] { throw CLI::RuntimeError(report(run_logits(*logits_flags))); });

    auto generate_flags = std::make_shared<GenerateFlags>();
    CLI::App* generate = app.add_subcommand("generate", "Generate token ids after a prompt of token ids");
    add_engine_flags(generate, generate_flags->engine);
    CLI::Option* tokens_option =
        generate->add_option("--tokens", generate_flags->tokens, "Comma-separated prompt token ids; prints ids");
    CLI::Option* prompt_option = generate->add_option(
        "--prompt", generate_flags->prompt,
        "Prompt text (o200k_harmony; special tokens such as <|start|> allowed); streams decoded text");
    tokens_option->excludes(prompt_option);
    generate->add_option("--max-tokens", generate_flags->max_tokens, "Tokens to generate at most")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    generate->add_option("--temperature", generate_flags->temperature, "0: greedy")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    generate->add_option("--top-p", generate_flags->top_p, "Nucleus mass")
        ->check(CLI::Range(0.0f, 1.0f).description("in (0, 1]") & !CLI::IsMember({0.0f}))
        ->capture_default_str();
    generate->add_option("--top-k", generate_flags->top_k, "0: no limit")->check(CLI::NonNegativeNumber);
    generate->add_option("--seed", generate_flags->seed, "Sampling seed")->capture_default_str();
    generate->add_option("--stop-ids", generate_flags->stop_ids, "Token ids that end generation")
        ->delimiter(',')
        ->capture_default_str();
    generate->callback([generate_flags] { throw CLI::RuntimeError(report(run_generate(*generate_flags))); });
}

} // namespace tllm
