// `tritonllm bench --gemm`: each matrix product of a gpt-oss forward step (QKV, out-projection, router,
// unembedding, the MXFP4 experts' mlp1 with SwiGLU and mlp2) at several token counts, as TFLOP/s against the
// card's mma.sync peak and as weight bytes per second against its copy bandwidth, both measured in the same run.
#pragma once

#include "core/result.h"

#include <string>
#include <vector>

namespace tllm {

struct GemmBenchFlags {
    std::string shape = "20b"; // a config preset: the products' shapes
    std::vector<int> tokens{1, 8, 64, 128, 256, 512, 2048};
    int reps = 20; // timed calls per product, after two warm-ups (median reported)
    uint64_t seed = 0;
    bool json_only = false;
};

Status run_gemm_bench(const GemmBenchFlags& flags);

} // namespace tllm
