// `tritonllm bench --concurrency 1,8,64 | --arrival-rate R`: many streams through the batched engine (as
// llama.cpp's batched-bench starts them together, or arriving as a Poisson process with a spread of prompt and
// output lengths): aggregate output and total tok/s, time to first token and inter-token latency (p50, p99),
// KV blocks in use, one JSON line per setting; on the cpu backend (a checkpoint) or the cuda backend (a checkpoint
// or synthetic weights made on the GPU).
#pragma once

#include "core/result.h"

#include <string>
#include <vector>

namespace tllm {

struct ConcurrencyBenchFlags {
    std::string model;
    std::string synthetic;        // 20b or 120b, instead of model (cuda backend)
    std::string backend;          // cpu or cuda ("": cuda when a GPU is present)
    std::vector<int> concurrency; // streams started together, one run per value
    double arrival_rate = 0;      // requests per second (Poisson) instead; `requests` of them
    int requests = 64;
    int prompt_tokens = 512;
    int gen_tokens = 128;
    // With --concurrency: one more stream started with the others, whose prompt and generated tokens fill this
    // many positions (a long document or agent context beside many chats); 0: none.
    int long_context = 0;
    int threads = 0;
    std::string precision = "bf16";
    int block_tokens = 16;
    uint64_t seed = 0;
    bool json_only = false;
};

Status run_concurrency_bench(const ConcurrencyBenchFlags& flags);

} // namespace tllm
