// `tritonllm bench --serve URL`: a load client for a running `tritonllm serve` (or any OpenAI-compatible server).
// Each level of --concurrency starts that many streaming Chat Completions requests together over HTTP and reports
// aggregate output and total tok/s (the server's own usage counts: a model may stop before --gen-tokens), time to
// first token and inter-token latency (p50, p99, from the arrival times of the stream's chunks) and errors: a table
// plus one JSON line per level, as the engine-only `bench --concurrency` prints them.
#pragma once

#include "core/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tllm {

struct ServeBenchFlags {
    std::string url;              // http://HOST:PORT, optionally with a path prefix before /v1
    std::string api_key;          // sent as a bearer token when set
    std::vector<int> concurrency; // streams started together, one level per value
    int prompt_tokens = 512;      // of the user message (the chat template adds its own)
    int gen_tokens = 128;         // max_tokens of each request
    uint64_t seed = 0;            // of the prompts' words
    bool json_only = false;
};

Status run_serve_bench(const ServeBenchFlags& flags);

} // namespace tllm
