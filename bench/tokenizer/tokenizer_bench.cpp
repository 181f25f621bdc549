// Encode throughput of the o200k_harmony tokenizer on a large mixed text (English prose and markdown
// from docs, C++ source, JSON, and multilingual sentences), single-threaded, beside npm `tiktoken`
// (OpenAI's Rust core compiled to WASM) encoding the same bytes in the same run.
//
//   tokenizer_bench [--corpus FILE] [--megabytes N] [--no-tiktoken] [google-benchmark flags]
#include "core/buffer.h"
#include "core/check.h"
#include "tokenizer/tokenizer.h"

#include <benchmark/benchmark.h>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace tllm {
namespace {

struct BenchInput {
    std::string corpus;
    const Tokenizer* tokenizer = nullptr;
};

// The repository's docs and README (English prose, markdown, tables, code), the Harmony fixtures (JSON) and the
// multilingual sample, repeated up to `megabytes`. All are committed files, so the corpus only changes with them.
std::string build_corpus(size_t megabytes) {
    std::string unit;
    namespace fs = std::filesystem;
    const fs::path source = TLLM_SOURCE_DIR;
    std::vector<fs::path> files = {source / "bench/tokenizer/multilingual.txt", source / "README.md",
                                   source / "tests/data/harmony/harmony-official.json"};
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(source / "docs", ec)) {
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        auto text = read_text_file(path.string());
        TLLM_CHECK(text.ok(), "tokenizer_bench corpus: {}", text.error().to_string());
        unit += *text;
    }
    std::string corpus;
    while (corpus.size() < megabytes * 1000000 && !unit.empty()) {
        corpus += unit;
    }
    return corpus;
}

void BM_EncodeOrdinary(benchmark::State& state, const BenchInput* input) {
    size_t n_tokens = 0;
    for (auto _ : state) {
        auto ids = input->tokenizer->encode_ordinary(input->corpus);
        n_tokens = ids->size();
        benchmark::DoNotOptimize(ids->data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input->corpus.size()));
    state.counters["MB/s"] = benchmark::Counter(static_cast<double>(input->corpus.size()) / 1e6,
                                                benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens"] = static_cast<double>(n_tokens);
}

void BM_Decode(benchmark::State& state, const BenchInput* input) {
    auto ids = input->tokenizer->encode_ordinary(input->corpus);
    for (auto _ : state) {
        auto text = input->tokenizer->decode(*ids);
        benchmark::DoNotOptimize(text->data());
    }
    state.counters["MB/s"] = benchmark::Counter(static_cast<double>(input->corpus.size()) / 1e6,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Load(benchmark::State& state) {
    for (auto _ : state) {
        auto tokenizer = Tokenizer::o200k_harmony();
        benchmark::DoNotOptimize(&tokenizer);
    }
}

} // namespace
} // namespace tllm

int main(int argc, char** argv) {
    std::string corpus_path;
    size_t megabytes = 8;
    bool run_tiktoken = true;
    std::vector<char*> rest = {argv[0]};
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--corpus" && i + 1 < argc) {
            corpus_path = argv[++i];
        } else if (arg == "--megabytes" && i + 1 < argc) {
            megabytes = std::stoul(argv[++i]);
        } else if (arg == "--no-tiktoken") {
            run_tiktoken = false;
        } else {
            rest.push_back(argv[i]);
        }
    }
    auto tokenizer = tllm::Tokenizer::o200k_harmony();
    if (!tokenizer.ok()) {
        std::fprintf(stderr, "%s\n", tokenizer.error().to_string().c_str());
        return 1;
    }
    tllm::BenchInput input;
    input.tokenizer = &*tokenizer;
    if (corpus_path.empty()) {
        input.corpus = tllm::build_corpus(megabytes);
    } else {
        auto text = tllm::read_text_file(corpus_path);
        if (!text.ok()) {
            std::fprintf(stderr, "%s\n", text.error().to_string().c_str());
            return 1;
        }
        input.corpus = std::move(*text);
    }
    std::fprintf(stderr, "corpus: %zu bytes\n", input.corpus.size());
    benchmark::RegisterBenchmark("encode_ordinary/mixed", tllm::BM_EncodeOrdinary, &input)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("decode/mixed", tllm::BM_Decode, &input)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("load/o200k_harmony", tllm::BM_Load)->Unit(benchmark::kMillisecond);
    int rest_argc = static_cast<int>(rest.size());
    benchmark::Initialize(&rest_argc, rest.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();

    if (run_tiktoken) {
        // The same bytes through npm tiktoken, so both numbers come from one run on one machine.
        std::string path =
            (std::filesystem::temp_directory_path() / ("tllm_bench_" + std::to_string(getpid()))).string();
        if (!tllm::write_file_atomically(path,
                                         {reinterpret_cast<const uint8_t*>(input.corpus.data()), input.corpus.size()})
                 .ok()) {
            return 1;
        }
        std::string command = "node '" + std::string(TLLM_SOURCE_DIR) +
                              "/scripts/tokenizer/oracle.mjs' bench --file '" + path + "' --repeat 3";
        std::fflush(stdout);
        int rc = std::system(command.c_str());
        std::filesystem::remove(path);
        if (rc != 0) {
            std::fprintf(stderr, "tiktoken comparison failed (run scripts/install-deps.sh for npm tiktoken)\n");
            return 1;
        }
    }
    return 0;
}
