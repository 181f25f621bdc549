// The tritonllm binary end to end: synth -> logits -> generate, and clear failures on bad input.
#include "../common/shell.h"
#include "../common/temp_dir.h"
#include "../common/test_data.h"
#include "core/npy.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tllm {
namespace {

using testing::CommandResult;

CommandResult run(const std::string& arguments, const testing::TempDir& dir) {
    std::string err_path = dir / "stderr.txt";
    CommandResult result = testing::run_shell(std::string(TLLM_BINARY) + " " + arguments + " 2>" + err_path);
    std::ifstream err(err_path);
    result.errors.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
    return result;
}

std::string tiny_config() { return tllm::testing::test_data_path("golden/tiny.json").string(); }

TEST(Cli, SynthLogitsGenerate) {
    testing::TempDir dir;
    auto synth = run("synth --config " + tiny_config() + " --layout hf --seed 3 --out " + (dir / "m"), dir);
    ASSERT_EQ(synth.exit_code, 0) << synth.errors;
    EXPECT_NE(synth.errors.find("random weights"), std::string::npos);
    ASSERT_TRUE(std::filesystem::exists(dir / "m/config.json"));

    auto logits = run("logits --model " + (dir / "m") + " --tokens 1,2,3,999 --out " + (dir / "l.npy"), dir);
    ASSERT_EQ(logits.exit_code, 0) << logits.errors;
    EXPECT_TRUE(logits.output.empty()) << "logs belong on stderr: " << logits.output;
    auto array = read_npy_f32(dir / "l.npy");
    ASSERT_TRUE(array.ok());
    EXPECT_EQ(array->shape, (Shape{4, 1000}));

    auto generate = run("generate --model " + (dir / "m") + " --tokens 5,6,7 --max-tokens 6 --threads 2", dir);
    ASSERT_EQ(generate.exit_code, 0) << generate.errors;
    // Six comma-separated ids on one line, each inside the vocabulary.
    int count = 0;
    size_t start = 0;
    std::string line = generate.output.substr(0, generate.output.find('\n'));
    while (start <= line.size()) {
        size_t comma = line.find(',', start);
        int id = std::stoi(line.substr(start, comma - start));
        EXPECT_GE(id, 0);
        EXPECT_LT(id, 1000);
        ++count;
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    EXPECT_EQ(count, 6);
    EXPECT_NE(generate.errors.find("tok/s"), std::string::npos);
    // generate runs the batched engine; logits a sequence of its own, one token at a time after the prompt. Each
    // generated token is the argmax of the logits before it.
    auto logits_of_output = run("logits --model " + (dir / "m") + " --tokens 5,6,7," + line.substr(0, line.rfind(',')) +
                                    " --decode-after 3 --out " + (dir / "g.npy"),
                                dir);
    ASSERT_EQ(logits_of_output.exit_code, 0) << logits_of_output.errors;
    auto rows = read_npy_f32(dir / "g.npy");
    ASSERT_TRUE(rows.ok());
    std::vector<int> greedy;
    for (int64_t r = 2; r < rows->shape[0]; ++r) {
        const float* row = rows->values.data() + r * 1000;
        greedy.push_back(static_cast<int>(std::max_element(row, row + 1000) - row));
    }
    std::string greedy_line;
    for (int id : greedy) {
        greedy_line += (greedy_line.empty() ? "" : ",") + std::to_string(id);
    }
    EXPECT_EQ(greedy_line, line);
    // Greedy decoding is deterministic.
    auto again = run("generate --model " + (dir / "m") + " --tokens 5,6,7 --max-tokens 6 --threads 1", dir);
    EXPECT_EQ(again.output, generate.output);
}

TEST(Cli, BadInputGivesOneClearError) {
    testing::TempDir dir;
    auto missing = run("logits --model " + (dir / "none") + " --tokens 1 --out " + (dir / "x.npy"), dir);
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_NE(missing.errors.find("not a directory"), std::string::npos) << missing.errors;

    ASSERT_EQ(run("synth --config " + tiny_config() + " --out " + (dir / "m"), dir).exit_code, 0);
    auto bad_tokens = run("logits --model " + (dir / "m") + " --tokens 1,x --out " + (dir / "x.npy"), dir);
    EXPECT_NE(bad_tokens.exit_code, 0);
    EXPECT_NE(bad_tokens.errors.find("\"x\" is not a token id"), std::string::npos) << bad_tokens.errors;

    auto out_of_vocab = run("logits --model " + (dir / "m") + " --tokens 1,1000 --out " + (dir / "x.npy"), dir);
    EXPECT_NE(out_of_vocab.exit_code, 0);
    EXPECT_NE(out_of_vocab.errors.find("outside vocabulary"), std::string::npos) << out_of_vocab.errors;
    EXPECT_FALSE(std::filesystem::exists(dir / "x.npy"));

    auto bad_layout = run("synth --layout gguf --out " + (dir / "y"), dir);
    EXPECT_NE(bad_layout.exit_code, 0);
    auto bad_config = run("synth --config 7b --out " + (dir / "y"), dir);
    EXPECT_NE(bad_config.exit_code, 0);
    EXPECT_NE(bad_config.errors.find("7b"), std::string::npos) << bad_config.errors;
}

} // namespace
} // namespace tllm

namespace tllm {
namespace {

// --prompt encodes with the embedded o200k_harmony tokenizer and streams decoded text; it must
// print exactly what --tokens with the same ids prints once detokenized.
TEST(Cli, GeneratePromptStreamsTheTextOfTheSameTokens) {
    testing::TempDir dir;
    // A full o200k_harmony vocabulary on a tiny body, so every prompt token is in range.
    std::ofstream(dir / "config.json") << R"({"num_hidden_layers": 2, "num_experts": 4, "experts_per_token": 2,
        "vocab_size": 201088, "hidden_size": 64, "intermediate_size": 64, "swiglu_limit": 7.0, "head_dim": 16,
        "num_attention_heads": 4, "num_key_value_heads": 2, "sliding_window": 8, "initial_context_length": 4096,
        "rope_theta": 150000.0, "rope_scaling_factor": 32.0, "rope_ntk_alpha": 1.0, "rope_ntk_beta": 32.0})";
    ASSERT_EQ(run("synth --config " + (dir / "config.json") + " --seed 9 --out " + (dir / "m"), dir).exit_code, 0);
    const std::string prompt = "<|start|>user<|message|>Héllo, wörld 🌍<|end|><|start|>assistant";
    std::ofstream(dir / "prompt.txt") << prompt;

    auto tokenized = run("tokenize --allow-special --text-file " + (dir / "prompt.txt"), dir);
    ASSERT_EQ(tokenized.exit_code, 0) << tokenized.errors;
    std::string ids = tokenized.output.substr(1, tokenized.output.find(']') - 1); // "[1, 2]" -> "1, 2"
    ids.erase(std::remove(ids.begin(), ids.end(), ' '), ids.end());

    auto by_ids = run("generate --model " + (dir / "m") + " --tokens " + ids + " --max-tokens 12 --stop-ids 0", dir);
    ASSERT_EQ(by_ids.exit_code, 0) << by_ids.errors;
    std::ofstream(dir / "ids.txt") << by_ids.output;
    auto expected = run("detokenize --ids-file " + (dir / "ids.txt"), dir);
    ASSERT_EQ(expected.exit_code, 0) << expected.errors;

    auto by_prompt =
        run("generate --model " + (dir / "m") + " --prompt '" + prompt + "' --max-tokens 12 --stop-ids 0", dir);
    ASSERT_EQ(by_prompt.exit_code, 0) << by_prompt.errors;
    auto trim = [](std::string text) {
        while (!text.empty() && text.back() == '\n') {
            text.pop_back();
        }
        return text;
    };
    EXPECT_EQ(trim(by_prompt.output), trim(expected.output));
    EXPECT_FALSE(trim(by_prompt.output).empty());

    auto neither = run("generate --model " + (dir / "m") + " --max-tokens 2", dir);
    EXPECT_NE(neither.exit_code, 0);
    EXPECT_NE(neither.errors.find("--tokens or --prompt"), std::string::npos) << neither.errors;
}

// bench --context N: N tokens prefilled before the runs, and the ceiling's bytes per token grow by exactly the
// KV rows that decode then reads: K and V in bf16 for every full-attention layer, at most the window for sliding
// ones (tiny.json: 3 layers, the even ones sliding over 8 positions, 2 KV heads of 32).
TEST(Cli, BenchWithContextCountsTheCachedTokens) {
    testing::TempDir dir;
    ASSERT_EQ(run("synth --config " + tiny_config() + " --out " + (dir / "m"), dir).exit_code, 0);
    auto bench = [&](int context) {
        auto result = run("bench --backend cpu --threads 1 --model " + (dir / "m") + " --context " +
                              std::to_string(context) + " --prompt-tokens 4 --gen-tokens 2 --runs 1 --json",
                          dir);
        EXPECT_EQ(result.exit_code, 0) << result.errors;
        return nlohmann::json::parse(result.output.substr(0, result.output.find('\n')));
    };
    const nlohmann::json empty = bench(0);
    const nlohmann::json cached = bench(24);
    EXPECT_EQ(empty.at("context_tokens"), 0);
    EXPECT_EQ(cached.at("context_tokens"), 24);
    EXPECT_GT(cached.at("ttft_ms").get<double>(), 0.0);
    // Decode contexts average N + 4 + 0.5 + 1: 5.5 and 29.5 positions.
    const double kv_row_bytes = 2.0 /* K, V */ * 2 * 32 /* kv width */ * 2 /* bf16 */;
    const double sliding = 2 * (std::min(29.5, 8.0) - std::min(5.5, 8.0));
    const double full = 1 * (29.5 - 5.5);
    EXPECT_DOUBLE_EQ(cached.at("bytes_per_token").get<double>() - empty.at("bytes_per_token").get<double>(),
                     (sliding + full) * kv_row_bytes);
}

TEST(Cli, BenchConcurrencyReportsEverySettingAndEveryArrival) {
    testing::TempDir dir;
    ASSERT_EQ(run("synth --config " + tiny_config() + " --out " + (dir / "m"), dir).exit_code, 0);
    const auto together = run(
        "bench --model " + (dir / "m") + " --concurrency 1,3 --prompt-tokens 9 --gen-tokens 4 --threads 1 --json", dir);
    ASSERT_EQ(together.exit_code, 0) << together.errors;
    std::vector<nlohmann::json> rows;
    for (size_t begin = 0, end; (end = together.output.find('\n', begin)) != std::string::npos; begin = end + 1) {
        rows.push_back(nlohmann::json::parse(together.output.substr(begin, end - begin)));
    }
    ASSERT_EQ(rows.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        const int streams = i == 0 ? 1 : 3;
        EXPECT_EQ(rows[i].at("streams"), streams);
        EXPECT_EQ(rows[i].at("requests"), streams);
        // Every stream generated its 4 tokens.
        EXPECT_NEAR(rows[i].at("output_tok_s").get<double>() * rows[i].at("seconds").get<double>(), 4.0 * streams,
                    1e-6);
        EXPECT_GT(rows[i].at("kv_blocks_peak").get<int>(), 0);
        EXPECT_GE(rows[i].at("itl_ms_p99").get<double>(), rows[i].at("itl_ms_p50").get<double>());
        EXPECT_GE(rows[i].at("queue_ms_p50").get<double>(), 0.0);
        EXPECT_LE(rows[i].at("queue_ms_p50").get<double>(), rows[i].at("ttft_ms_p50").get<double>());
        // The decode phase (batched-bench's S_TG) excludes the prefill, so it runs faster than the whole.
        EXPECT_GT(rows[i].at("decode_tok_s").get<double>(), rows[i].at("output_tok_s").get<double>());
    }
    const auto arriving =
        run("bench --model " + (dir / "m") +
                " --arrival-rate 500 --requests 5 --prompt-tokens 9 --gen-tokens 4 --threads 1 --json",
            dir);
    ASSERT_EQ(arriving.exit_code, 0) << arriving.errors;
    const auto arriving_row = nlohmann::json::parse(arriving.output.substr(0, arriving.output.find('\n')));
    EXPECT_EQ(arriving_row.at("requests"), 5);
    EXPECT_FALSE(arriving_row.contains("decode_tok_s")); // arrivals never decode all together

    // Synthetic weights are made on the GPU: not on the cpu backend.
    const auto synthetic_on_cpu = run("bench --synthetic 20b --backend cpu --concurrency 2", dir);
    EXPECT_NE(synthetic_on_cpu.exit_code, 0);
    EXPECT_NE(synthetic_on_cpu.errors.find("need the cuda backend"), std::string::npos) << synthetic_on_cpu.errors;
}

TEST(Cli, BenchGemmRefusesAModelOrTheCpuBackend) {
    testing::TempDir dir;
    for (const char* args : {"bench --gemm --model m", "bench --gemm --backend cpu"}) {
        const auto result = run(args, dir);
        EXPECT_NE(result.exit_code, 0) << args;
        EXPECT_NE(result.errors.find("bench --gemm measures the cuda kernels"), std::string::npos) << result.errors;
        EXPECT_EQ(result.output, "") << args;
    }
}

} // namespace
} // namespace tllm
