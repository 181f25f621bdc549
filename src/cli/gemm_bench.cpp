#include "cli/gemm_bench.h"

#include "cli/build_info.h"
#include "cli/card_ceilings.h"
#include "cli/model_commands.h"
#include "core/dtype.h"
#include "core/log.h"
#include "core/random.h"
#include "kernels/cuda/kernel_registry.h"
#include "kernels/cuda/ops.h"
#include "model/config.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace tllm {
namespace {

using namespace tllm::cuda;

// Weights are read from a pool this large at rotating offsets, so that no product finds its matrix in L2 (50 MB
// on an H100) as it never would in a forward pass, where every other layer's weights pass in between.
constexpr size_t kMinPoolBytes = size_t{512} << 20;
// Copies of the expert weights, used in turn: one decode token's four experts would otherwise stay in L2.
constexpr int kExpertCopies = 4;

Result<DeviceBuffer> random_bf16_buffer(const CudaContext& context,
                                        const OpKernels& kernels,
                                        const Stream& stream,
                                        size_t count,
                                        uint64_t seed,
                                        float bound) {
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer buffer, DeviceBuffer::allocate(context, count * 2));
    TLLM_RETURN_IF_ERROR(kernels.bf16_fill_uniform(stream.get(), buffer.as<uint16_t>(), count, seed, -bound, bound));
    return buffer;
}

Result<DeviceBuffer> random_u8_buffer(const CudaContext& context,
                                      const OpKernels& kernels,
                                      const Stream& stream,
                                      size_t count,
                                      uint64_t seed,
                                      uint32_t low,
                                      uint32_t high) {
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer buffer, DeviceBuffer::allocate(context, count));
    TLLM_RETURN_IF_ERROR(kernels.u8_fill_uniform(stream.get(), buffer.as<uint8_t>(), count, seed, low, high));
    return buffer;
}

struct ExpertWeights {
    DeviceBuffer blocks; // [copies, n_experts, rows, k/32, 16] u8 (two MXFP4 codes a byte)
    DeviceBuffer scales; // [copies, n_experts, rows, k/32] u8 (E8M0)
    DeviceBuffer bias;   // [copies, n_experts, rows] bf16
    size_t rows = 0, k = 0, n_experts = 0;
    size_t block_bytes() const { return n_experts * rows * k / 2; }
    size_t scale_bytes() const { return n_experts * rows * k / 32; }
    size_t bias_count() const { return n_experts * rows; }
};

Result<ExpertWeights> random_experts(const CudaContext& context,
                                     const OpKernels& kernels,
                                     const Stream& stream,
                                     size_t n_experts,
                                     size_t rows,
                                     size_t k,
                                     uint64_t seed) {
    ExpertWeights w;
    w.rows = rows;
    w.k = k;
    w.n_experts = n_experts;
    TLLM_ASSIGN_OR_RETURN(w.blocks,
                          random_u8_buffer(context, kernels, stream, kExpertCopies * w.block_bytes(), seed, 0, 255));
    // Scales around 2^0 (E8M0 bias 127) keep products finite, as real checkpoints' are.
    TLLM_ASSIGN_OR_RETURN(
        w.scales, random_u8_buffer(context, kernels, stream, kExpertCopies * w.scale_bytes(), seed + 1, 118, 124));
    TLLM_ASSIGN_OR_RETURN(w.bias,
                          random_bf16_buffer(context, kernels, stream, kExpertCopies * w.bias_count(), seed + 2, 0.5f));
    return w;
}

} // namespace

Status run_gemm_bench(const GemmBenchFlags& flags) {
    TLLM_ASSIGN_OR_RETURN(GptOssConfig c, config_preset(flags.shape));
    TLLM_ASSIGN_OR_RETURN(EngineOptions options, engine_options("cuda", 0, "bf16"));
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<CudaContext> context, CudaContext::create(0));
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<KernelRegistry> registry, KernelRegistry::create(*context, options.jit));
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<OpKernels> kernels, OpKernels::create(*registry));
    TLLM_ASSIGN_OR_RETURN(Stream stream, Stream::create(*context));
    const std::string card = context->info().name;
    TLLM_ASSIGN_OR_RETURN(const double copy_bandwidth, cuda_copy_bandwidth(*context, stream));
    TLLM_ASSIGN_OR_RETURN(const double peak_flops, cuda_mma_peak_flops(*context, *kernels, stream));
    TLLM_LOG_INFO("{}: copy {:.0f} GB/s, mma.sync peak {:.0f} TFLOP/s", card, copy_bandwidth / 1e9, peak_flops / 1e12);

    const int hidden = static_cast<int>(c.hidden_size);
    const int inter = static_cast<int>(c.intermediate_size);
    const int q_width = static_cast<int>(c.q_width());
    const int qkv_rows = static_cast<int>(c.q_width() + 2 * c.kv_width());
    const int experts = static_cast<int>(c.n_experts);
    const int top_k = static_cast<int>(c.n_experts_per_token);
    const int vocab = static_cast<int>(c.vocab_size);
    const int max_tokens = *std::max_element(flags.tokens.begin(), flags.tokens.end());
    const int max_k = std::max({hidden, q_width, inter});
    const int64_t max_pairs = int64_t{max_tokens} * top_k;

    // Dense weights: one pool, read at rotating offsets; inputs hold bf16 values, as in the bf16 precision.
    const size_t unembedding_count = size_t(vocab) * hidden;
    const size_t pool_count = std::max(unembedding_count, kMinPoolBytes / 2);
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer pool,
                          random_bf16_buffer(*context, *kernels, stream, pool_count, flags.seed, 0.05f));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer bias,
                          random_bf16_buffer(*context, *kernels, stream, size_t(vocab), flags.seed + 1, 0.5f));
    std::vector<float> host_x(size_t(max_tokens) * max_k); // [max_tokens, max_k] f32, bf16 values
    Rng rng(flags.seed ^ 0x67656d6dull);
    for (float& v : host_x) {
        v = bf16_to_f32(f32_to_bf16_bits(rng.uniform(-1.0f, 1.0f)));
    }
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer x, DeviceBuffer::allocate(*context, host_x.size() * 4));
    TLLM_RETURN_IF_ERROR(x.upload(host_x.data(), host_x.size() * 4));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer y, DeviceBuffer::allocate(*context, size_t(max_tokens) * vocab * 4));
    TLLM_CU_RETURN(context->driver(), cuMemsetD8Async(y.ptr(), 0, size_t(max_tokens) * vocab * 4, stream.get()));

    TLLM_ASSIGN_OR_RETURN(ExpertWeights mlp1,
                          random_experts(*context, *kernels, stream, experts, 2 * inter, hidden, flags.seed + 10));
    TLLM_ASSIGN_OR_RETURN(ExpertWeights mlp2,
                          random_experts(*context, *kernels, stream, experts, hidden, inter, flags.seed + 20));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer router_logits,
                          DeviceBuffer::allocate(*context, size_t(max_tokens) * experts * 4));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer pair_expert, DeviceBuffer::allocate(*context, max_pairs * 4));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer pair_weight, DeviceBuffer::allocate(*context, max_pairs * 4));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer sorted_pairs, DeviceBuffer::allocate(*context, max_pairs * 4));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer tiles,
                          DeviceBuffer::allocate(*context, max_moe_tiles(max_pairs, experts, 1) * sizeof(MoeTile)));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer n_tiles, DeviceBuffer::allocate(*context, 4));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer act, DeviceBuffer::allocate(*context, max_pairs * inter * 4));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer expert_out, DeviceBuffer::allocate(*context, max_pairs * hidden * 4));
    // The forward pass's split-k scratch for the dense products of QKV, the out-projection and the router.
    const size_t split_floats =
        OpKernels::matmul_split_workspace_floats(max_tokens, std::max({qkv_rows, hidden, experts}));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer split_partials, DeviceBuffer::allocate(*context, split_floats * 4));
    // cuBLASLt's scratch as the forward pass holds it (where the library opened).
    const size_t library_inputs = OpKernels::matmul_library_input_elements(max_tokens, std::max(hidden, q_width));
    const bool library = kernels->library() != nullptr;
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer library_x, DeviceBuffer::allocate(*context, library ? library_inputs * 2 : 16));
    TLLM_ASSIGN_OR_RETURN(DeviceBuffer library_workspace,
                          DeviceBuffer::allocate(*context, library ? CublasLt::kWorkspaceBytes : 16));

    struct Dense {
        const char* name;
        int m, k;
        MatmulEpilogue epilogue;
        bool bias;
    };
    const Dense dense[] = {{"qkv", qkv_rows, hidden, MatmulEpilogue::kStoreBf16, true},
                           {"out_proj", hidden, q_width, MatmulEpilogue::kResidualBf16, true},
                           {"router", experts, hidden, MatmulEpilogue::kStore, true},
                           {"unembedding", vocab, hidden, MatmulEpilogue::kStore, false}};
    const nlohmann::json version = build_info_json(build_info());
    std::vector<nlohmann::json> rows;
    // Expert products give their tile size, and whether the forward pass would choose it.
    // Dense products give their path (cuBLASLt or the mma.sync tiles), and whether the forward pass would take it.
    auto report = [&](const char* name, int tokens, int m, int k, double ms, double flops, double weight_bytes,
                      int tile = 0, bool chosen = true, const char* path = nullptr) {
        const double seconds = ms * 1e-3;
        nlohmann::json row = {{"card", card},
                              {"shape", flags.shape},
                              {"gemm", name},
                              {"tokens", tokens},
                              {"m", m},
                              {"k", k},
                              {"ms", ms},
                              {"tflop_s", flops / seconds / 1e12},
                              {"peak_tflop_s", peak_flops / 1e12},
                              {"fraction_of_peak", flops / seconds / peak_flops},
                              // Weights are read once a call. As in `bench`'s decode ceiling, bytes read are
                              // compared with the copy bandwidth (bytes read plus written per second).
                              {"weight_gb_s", weight_bytes / seconds / 1e9},
                              {"copy_bandwidth_gb_s", copy_bandwidth / 1e9},
                              {"fraction_of_copy_bandwidth", weight_bytes / seconds / copy_bandwidth},
                              {"version", version}};
        if (tile > 0) {
            row["tile"] = tile;
            row["chosen"] = chosen;
        }
        if (path != nullptr) {
            row["path"] = path;
            row["chosen"] = chosen;
        }
        std::printf("%s\n", row.dump().c_str());
        std::fflush(stdout);
        rows.push_back(std::move(row));
    };

    const MatmulWorkspace workspace{{split_partials.as<float>(), split_floats},
                                    {library_x.as<uint16_t>(), library ? library_inputs : 0},
                                    {library_workspace.as<uint8_t>(), library ? CublasLt::kWorkspaceBytes : 0}};
    const OpKernels::LibraryRule library_rule = kernels->library_rule();
    for (const int n : flags.tokens) {
        for (const Dense& g : dense) {
            const size_t count = size_t(g.m) * g.k;
            const size_t copies = std::max<size_t>(1, pool_count / count);
            // Both paths where cuBLASLt opened: the tiles, then the library (past the rule that picks one).
            kernels->set_library_rule(library_rule);
            const bool chosen_library = kernels->library_takes(n, g.m);
            for (const bool on_library : library ? std::vector<bool>{false, true} : std::vector<bool>{false}) {
                kernels->set_library_rule({on_library ? 1 : std::numeric_limits<int>::max(), 0});
                TLLM_ASSIGN_OR_RETURN(const double ms, median_call_ms(*context, stream, 2, flags.reps, [&](int call) {
                                          const uint16_t* w = pool.as<uint16_t>() + (size_t(call) % copies) * count;
                                          return kernels->bf16w_matmul(stream.get(), x.as<float>(), n, g.k, w, g.m,
                                                                       g.bias ? bias.as<uint16_t>() : nullptr,
                                                                       y.as<float>(), g.epilogue, Rounding::kBf16,
                                                                       workspace);
                                      }));
                report(g.name, n, g.m, g.k, ms, 2.0 * n * g.m * g.k, count * 2.0 + (g.bias ? g.m * 2.0 : 0.0), 0,
                       on_library == chosen_library, on_library ? "cuBLASLt" : "tiles");
            }
            kernels->set_library_rule(library_rule);
        }

        // Experts: random router logits routed as the forward pass routes them, then mlp1 (with SwiGLU) and mlp2
        // timed on their own.
        std::vector<float> logits(size_t(n) * experts);
        for (float& v : logits) {
            v = rng.uniform(-4.0f, 4.0f);
        }
        TLLM_RETURN_IF_ERROR(router_logits.upload(logits.data(), logits.size() * 4));
        // Every tensor-core tile size at this token count (the forward pass's choice marked), so that
        // moe_tile_size's thresholds can be checked against measurements.
        const int chosen_tile = kernels->moe_tile_size(n, top_k, experts, std::max(hidden, inter), Rounding::kBf16);
        std::vector<int> tile_sizes{chosen_tile};
        if (chosen_tile > 1) {
            tile_sizes = {OpKernels::kMmaSmallTileSize, OpKernels::kMmaMediumTileSize, OpKernels::kMmaTileSize};
        }
        for (const int tile_size : tile_sizes) {
            const int max_tiles = static_cast<int>(max_moe_tiles(int64_t{n} * top_k, experts, tile_size));
            TLLM_RETURN_IF_ERROR(kernels->topk_route(
                stream.get(), router_logits.as<float>(), n, experts, top_k, tile_size, pair_expert.as<int32_t>(),
                pair_weight.as<float>(), sorted_pairs.as<int32_t>(), tiles.as<MoeTile>(), n_tiles.as<int32_t>()));
            std::vector<int32_t> chosen(size_t(n) * top_k);
            TLLM_RETURN_IF_ERROR(stream.synchronize());
            TLLM_RETURN_IF_ERROR(pair_expert.download(chosen.data(), chosen.size() * 4));
            const double used = static_cast<double>(std::set<int32_t>(chosen.begin(), chosen.end()).size());
            const double pairs = static_cast<double>(n) * top_k;
            auto expert_bytes = [&](const ExpertWeights& w) {
                return used * (static_cast<double>(w.rows) * (static_cast<double>(w.k) / 32 * 17 + 2));
            };
            TLLM_ASSIGN_OR_RETURN(const double mlp1_ms, median_call_ms(*context, stream, 2, flags.reps, [&](int call) {
                                      const size_t copy = size_t(call) % kExpertCopies;
                                      return kernels->moe_mlp1_swiglu(
                                          stream.get(), x.as<float>(), hidden,
                                          mlp1.blocks.as<uint8_t>() + copy * mlp1.block_bytes(),
                                          mlp1.scales.as<uint8_t>() + copy * mlp1.scale_bytes(),
                                          mlp1.bias.as<uint16_t>() + copy * mlp1.bias_count(), 2 * inter,
                                          sorted_pairs.as<int32_t>(), tiles.as<MoeTile>(), n_tiles.as<int32_t>(),
                                          max_tiles, tile_size, top_k, c.swiglu_alpha, c.swiglu_limit, act.as<float>());
                                  }));
            report("mlp1_swiglu", n, 2 * inter, hidden, mlp1_ms, 2.0 * pairs * 2 * inter * hidden, expert_bytes(mlp1),
                   tile_size, tile_size == chosen_tile);
            TLLM_ASSIGN_OR_RETURN(const double mlp2_ms, median_call_ms(*context, stream, 2, flags.reps, [&](int call) {
                                      const size_t copy = size_t(call) % kExpertCopies;
                                      return kernels->moe_mlp2(stream.get(), act.as<float>(), inter,
                                                               mlp2.blocks.as<uint8_t>() + copy * mlp2.block_bytes(),
                                                               mlp2.scales.as<uint8_t>() + copy * mlp2.scale_bytes(),
                                                               mlp2.bias.as<uint16_t>() + copy * mlp2.bias_count(),
                                                               hidden, sorted_pairs.as<int32_t>(), tiles.as<MoeTile>(),
                                                               n_tiles.as<int32_t>(), max_tiles, tile_size, top_k,
                                                               expert_out.as<float>());
                                  }));
            report("mlp2", n, hidden, inter, mlp2_ms, 2.0 * pairs * hidden * inter, expert_bytes(mlp2), tile_size,
                   tile_size == chosen_tile);
        }
    }

    if (!flags.json_only) {
        std::printf("\n%s, gpt-oss-%s products, bf16 precision; mma.sync peak %.0f TFLOP/s, copy %.0f GB/s "
                    "(medians of %d calls)\n",
                    card.c_str(), flags.shape.c_str(), peak_flops / 1e12, copy_bandwidth / 1e9, flags.reps);
        std::printf("| product | tokens | m × k | ms | TFLOP/s | of peak | weight GB/s | of copy bandwidth |\n");
        std::printf("|---|---|---|---|---|---|---|---|\n");
        for (const nlohmann::json& r : rows) {
            // Expert rows name their tile size; * marks the forward pass's.
            std::string name = r["gemm"].get<std::string>();
            if (r.contains("tile")) {
                name += " (tiles of " + std::to_string(r["tile"].get<int>()) + (r["chosen"].get<bool>() ? ")*" : ")");
            }
            if (r.contains("path")) {
                name += " (" + r["path"].get<std::string>() + (r["chosen"].get<bool>() ? ")*" : ")");
            }
            std::printf("| %s | %d | %d × %d | %.4f | %.1f | %.1f%% | %.0f | %.1f%% |\n", name.c_str(),
                        r["tokens"].get<int>(), r["m"].get<int>(), r["k"].get<int>(), r["ms"].get<double>(),
                        r["tflop_s"].get<double>(), 100 * r["fraction_of_peak"].get<double>(),
                        r["weight_gb_s"].get<double>(), 100 * r["fraction_of_copy_bandwidth"].get<double>());
        }
    }
    return {};
}

} // namespace tllm
