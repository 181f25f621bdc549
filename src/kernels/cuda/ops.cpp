#include "kernels/cuda/ops.h"

#include "core/check.h"
#include "core/log.h"
#include "kernels/cuda/ops/moe_mma_layout.cuh"
#include "kernels/cuda/ops_launch.h"

#include <algorithm>
#include <string>
#include <type_traits>

namespace tllm::cuda {
namespace {

using ops_detail::ceil_div;
using ops_detail::launch_dependent;

constexpr unsigned kThreads = 256;
constexpr unsigned kNormThreads = 1024;
constexpr int kTileTokens[3] = {1, 4, 8};

// Floats of an x row in shared memory: 4 of padding per 32 (see padded() in the kernels).
int64_t padded_floats(int64_t k) { return k + (k / 32) * 4; }

} // namespace

Result<std::unique_ptr<OpKernels>> OpKernels::create(KernelRegistry& registry) {
    std::unique_ptr<OpKernels> kernels(new OpKernels(registry.context()));
    TLLM_RETURN_IF_ERROR(kernels->resolve(registry));
    Result<std::unique_ptr<CublasLt>> library = CublasLt::load();
    if (library.ok()) {
        kernels->library_ = std::move(library).value();
        TLLM_LOG_DEBUG("dense products of several tokens on {} ({})", kernels->library_->library_name(),
                       kernels->library_->version());
    } else {
        TLLM_LOG_INFO("cuBLASLt not found, dense products on the mma.sync tiles: {}", library.error().message());
    }
    return kernels;
}

Status OpKernels::resolve(KernelRegistry& registry) {
    auto get = [&](const char* module, const char* name, CUfunction& out) -> Status {
        TLLM_ASSIGN_OR_RETURN(out, registry.function(module, name));
        return {};
    };
    TLLM_RETURN_IF_ERROR(get("bf16_embedding_gather", "bf16_embedding_gather", embedding_));
    TLLM_RETURN_IF_ERROR(get("bf16_embedding_gather", "advance_position", advance_));
    TLLM_RETURN_IF_ERROR(get("f32_rmsnorm", "rmsnorm_rows", rmsnorm_));
    TLLM_RETURN_IF_ERROR(get("f32_rmsnorm", "moe_combine_rmsnorm", combine_rmsnorm_));
    TLLM_RETURN_IF_ERROR(get("bf16w_matmul", "bf16w_matmul_t1", matmul_[0]));
    TLLM_RETURN_IF_ERROR(get("bf16w_matmul", "bf16w_matmul_t4", matmul_[1]));
    TLLM_RETURN_IF_ERROR(get("bf16w_matmul", "bf16w_matmul_t8", matmul_[2]));
    TLLM_RETURN_IF_ERROR(get("bf16w_matmul_mma", "bf16w_matmul_mma", matmul_mma_));
    TLLM_RETURN_IF_ERROR(get("bf16w_matmul_mma", "bf16w_matmul_split_reduce", matmul_split_reduce_));
    TLLM_RETURN_IF_ERROR(get("f32_logits_logprobs", "f32_logits_logprobs", logprobs_));
    TLLM_RETURN_IF_ERROR(get("bf16w_matmul_library", "bf16w_matmul_library_pack", library_pack_));
    TLLM_RETURN_IF_ERROR(get("bf16w_matmul_library", "bf16w_matmul_library_epilogue", library_epilogue_));
    TLLM_RETURN_IF_ERROR(get("f32_rope_kv_write", "rope_kv_write", rope_));
    TLLM_RETURN_IF_ERROR(get("f32_rope_kv_write", "rope_kv_write_f32kv", rope_f32kv_));
    TLLM_RETURN_IF_ERROR(get("bf16kv_attention_sinks", "attention_sinks_split", attention_split_));
    TLLM_RETURN_IF_ERROR(get("bf16kv_attention_sinks", "attention_sinks_split_f32kv", attention_split_f32kv_));
    TLLM_RETURN_IF_ERROR(get("bf16kv_attention_sinks_split_mma", "attention_sinks_split_d64", attention_split_mma_[0]));
    TLLM_RETURN_IF_ERROR(
        get("bf16kv_attention_sinks_split_mma", "attention_sinks_split_d128", attention_split_mma_[1]));
    TLLM_RETURN_IF_ERROR(
        get("bf16kv_attention_sinks_split_mma", "attention_sinks_split_paged_d64", attention_split_mma_paged_[0]));
    TLLM_RETURN_IF_ERROR(
        get("bf16kv_attention_sinks_split_mma", "attention_sinks_split_paged_d128", attention_split_mma_paged_[1]));
    TLLM_RETURN_IF_ERROR(get("bf16kv_attention_sinks", "attention_sinks_split_tiled_d64", attention_split_tiled_[0]));
    TLLM_RETURN_IF_ERROR(get("bf16kv_attention_sinks", "attention_sinks_split_tiled_d128", attention_split_tiled_[1]));
    TLLM_RETURN_IF_ERROR(
        get("bf16kv_attention_sinks", "attention_sinks_split_tiled_paged_d64", attention_split_tiled_paged_[0]));
    TLLM_RETURN_IF_ERROR(
        get("bf16kv_attention_sinks", "attention_sinks_split_tiled_paged_d128", attention_split_tiled_paged_[1]));
    TLLM_RETURN_IF_ERROR(get("f32_rope_kv_write", "rope_kv_write_paged", rope_paged_));
    TLLM_RETURN_IF_ERROR(get("f32_rope_kv_write", "rope_kv_write_paged_f32kv", rope_paged_f32kv_));
    TLLM_RETURN_IF_ERROR(
        get("bf16kv_attention_sinks", "attention_sinks_split_paged_f32kv", attention_split_paged_f32kv_));
    TLLM_RETURN_IF_ERROR(get("bf16kv_attention_sinks_prefill", "attention_sinks_prefill_d64", attention_prefill_[0]));
    TLLM_RETURN_IF_ERROR(get("bf16kv_attention_sinks_prefill", "attention_sinks_prefill_d128", attention_prefill_[1]));
    TLLM_RETURN_IF_ERROR(get("f32_topk_route", "topk_route", route_));
    TLLM_RETURN_IF_ERROR(get("f32_topk_route", "norm_router_topk_decode", route_decode_));
    TLLM_RETURN_IF_ERROR(get("mxfp4w_moe_matmul", "mxfp4w_moe_mlp1_swiglu_t1", mlp1_[0]));
    TLLM_RETURN_IF_ERROR(get("mxfp4w_moe_matmul", "mxfp4w_moe_mlp1_swiglu_t4", mlp1_[1]));
    TLLM_RETURN_IF_ERROR(get("mxfp4w_moe_matmul", "mxfp4w_moe_mlp1_swiglu_t8", mlp1_[2]));
    TLLM_RETURN_IF_ERROR(get("mxfp4w_moe_matmul", "mxfp4w_moe_mlp2_t1", mlp2_[0]));
    TLLM_RETURN_IF_ERROR(get("mxfp4w_moe_matmul", "mxfp4w_moe_mlp2_t4", mlp2_[1]));
    TLLM_RETURN_IF_ERROR(get("mxfp4w_moe_matmul", "mxfp4w_moe_mlp2_t8", mlp2_[2]));
    TLLM_RETURN_IF_ERROR(get("bf16_mxfp4w_moe_mma", "bf16_mxfp4w_moe_mlp1_swiglu_mma", mlp1_mma_));
    TLLM_RETURN_IF_ERROR(get("bf16_mxfp4w_moe_mma", "bf16_mxfp4w_moe_mlp2_mma", mlp2_mma_));
    TLLM_RETURN_IF_ERROR(get("bf16_mxfp4w_moe_mma", "bf16_mxfp4w_moe_mlp1_swiglu_mma_p16", mlp1_mma_small_));
    TLLM_RETURN_IF_ERROR(get("bf16_mxfp4w_moe_mma", "bf16_mxfp4w_moe_mlp2_mma_p16", mlp2_mma_small_));
    TLLM_RETURN_IF_ERROR(get("bf16_mxfp4w_moe_mma", "bf16_mxfp4w_moe_mlp1_swiglu_mma_p32", mlp1_mma_medium_));
    TLLM_RETURN_IF_ERROR(get("bf16_mxfp4w_moe_mma", "bf16_mxfp4w_moe_mlp2_mma_p32", mlp2_mma_medium_));
    for (int i = 0; i < 4; ++i) {
        const std::string chunks = std::to_string(4 * (i + 1));
        const std::string blocks = std::to_string(i + 1);
        TLLM_RETURN_IF_ERROR(get("bf16w_matmul", ("bf16w_matvec_c" + chunks).c_str(), matvec_[i]));
        TLLM_RETURN_IF_ERROR(get("mxfp4w_moe_matmul", ("mxfp4w_moe_mlp1_swiglu_d" + blocks).c_str(), mlp1_decode_[i]));
        TLLM_RETURN_IF_ERROR(get("mxfp4w_moe_matmul", ("mxfp4w_moe_mlp2_d" + blocks).c_str(), mlp2_decode_[i]));
    }
    TLLM_RETURN_IF_ERROR(get("bf16_mma_peak", "bf16_mma_peak", mma_peak_));
    TLLM_RETURN_IF_ERROR(get("u8_bf16_fill_random", "bf16_fill_uniform", fill_bf16_));
    TLLM_RETURN_IF_ERROR(get("u8_bf16_fill_random", "u8_fill_uniform", fill_u8_));

    // Token tiles keep x in shared memory; raise the dynamic limit to what the card allows.
    const Driver& driver = context_.driver();
    max_shared_ = std::max(48 * 1024, context_.info().max_shared_per_block_optin);
    pdl_ = context_.info().cc_major >= 9;
    // Each function's dynamic limit is the card's opt-in limit less its static shared memory.
    auto raise_limit = [&](CUfunction function) -> Status {
        int static_bytes = 0;
        TLLM_CU_RETURN(driver, cuFuncGetAttribute(&static_bytes, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, function));
        TLLM_CU_RETURN(driver, cuFuncSetAttribute(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                  max_shared_ - static_bytes));
        return {};
    };
    for (int i = 0; i < 4; ++i) {
        for (CUfunction function : {mlp1_decode_[i], mlp2_decode_[i], matvec_[i]}) {
            TLLM_RETURN_IF_ERROR(raise_limit(function));
        }
    }
    for (CUfunction function : {route_decode_,
                                matmul_[1],
                                matmul_[2],
                                mlp1_[0],
                                mlp1_[1],
                                mlp1_[2],
                                mlp2_[0],
                                mlp2_[1],
                                mlp2_[2],
                                matmul_[0],
                                attention_prefill_[0],
                                attention_prefill_[1],
                                matmul_mma_,
                                mlp1_mma_,
                                mlp2_mma_,
                                attention_split_mma_[0],
                                attention_split_mma_[1],
                                attention_split_mma_paged_[0],
                                attention_split_mma_paged_[1],
                                mlp1_mma_small_,
                                mlp2_mma_small_,
                                mlp1_mma_medium_,
                                mlp2_mma_medium_}) {
        TLLM_RETURN_IF_ERROR(raise_limit(function));
    }
    return {};
}

int OpKernels::moe_tile_size(int n_tokens, int top_k, int n_experts, int k, Rounding rounding) const {
    if (n_tokens <= 1) {
        return 1;
    }
    if (rounding == Rounding::kBf16) {
        // Tiles of 16 while an expert averages 8 pairs or fewer (20b: up to 64 tokens), so that most experts
        // take one small tile and few take two; of 32 up to 32 pairs (20b: 256 tokens), where they beat tiles of
        // 64 (bench --gemm, H100: mlp1 at 128 tokens 0.236 ms against 0.300, at 256 tokens 0.310 against 0.331).
        const int64_t pairs = int64_t{n_tokens} * top_k;
        return pairs <= 8 * int64_t{n_experts}    ? kMmaSmallTileSize
               : pairs <= 32 * int64_t{n_experts} ? kMmaMediumTileSize
                                                  : kMmaTileSize;
    }
    for (int size : {8, 4}) {
        if (static_cast<int64_t>((16 + size * padded_floats(k)) * sizeof(float)) <= max_shared_) {
            return size;
        }
    }
    return 1;
}

Status OpKernels::embedding_gather(CUstream stream,
                                   const uint16_t* table,
                                   const int32_t* tokens,
                                   const int32_t* fed_back,
                                   int n,
                                   int d,
                                   float* residual) const {
    TLLM_CHECK(n > 0 && d > 0, "embedding_gather n={} d={}", n, d);
    return launch_dependent(context_, pdl_, embedding_, {static_cast<unsigned>(n)}, {kThreads}, 0, stream, table,
                            tokens, fed_back, d, residual);
}

Status OpKernels::rmsnorm_rows(CUstream stream,
                               const float* x,
                               int n,
                               int d,
                               const uint16_t* scale,
                               float eps,
                               float* out,
                               Rounding rounding) const {
    TLLM_CHECK(n > 0 && d > 0, "rmsnorm_rows n={} d={}", n, d);
    // A whole block per row: at decode one row is the whole launch, so the block is made wide.
    return launch_dependent(context_, pdl_, rmsnorm_, {static_cast<unsigned>(n)}, {kNormThreads}, 0, stream, x, d,
                            scale, eps, out, static_cast<int>(rounding));
}

Status OpKernels::moe_combine_rmsnorm(CUstream stream,
                                      float* residual,
                                      const float* expert_out,
                                      const float* weights,
                                      int n,
                                      int top_k,
                                      int d,
                                      const uint16_t* scale,
                                      float eps,
                                      float* out,
                                      Rounding rounding) const {
    TLLM_CHECK(n > 0 && d > 0 && d <= 4 * static_cast<int>(kNormThreads) && top_k > 0 && top_k <= 8,
               "moe_combine_rmsnorm n={} d={} top_k={}", n, d, top_k);
    return launch_dependent(context_, pdl_, combine_rmsnorm_, {static_cast<unsigned>(n)}, {kNormThreads}, 0, stream,
                            residual, expert_out, weights, top_k, d, scale, eps, out, static_cast<int>(rounding));
}

Status OpKernels::bf16w_matmul(CUstream stream,
                               const float* x,
                               int n,
                               int k,
                               const uint16_t* w,
                               int m,
                               const uint16_t* bias,
                               float* y,
                               MatmulEpilogue epilogue,
                               Rounding inputs,
                               const MatmulWorkspace& workspace) const {
    TLLM_CHECK(n > 0 && m > 0 && k > 0 && k % 8 == 0, "bf16w_matmul n={} k={} m={} (k must be a multiple of 8)", n, k,
               m);
    if (library_takes(n, m) && inputs == Rounding::kBf16 && epilogue != MatmulEpilogue::kResidual &&
        workspace.inputs.size() >= matmul_library_input_elements(n, k)) {
        return library_matmul(stream, x, n, k, w, m, bias, y, epilogue, workspace);
    }
    const std::span<float> split_workspace = workspace.splits;
    // Tensor cores (ops/bf16w_matmul_mma.cu): 256 rows × 64 tokens per block of 128 threads, 3 stages of 64
    // f32 activation rows of 36 floats and 256 bf16 weight rows of 32. A matrix of fewer rows (the router's 32)
    // would give one block per 64 tokens walking all of k alone; the per-token matvec below spreads it over many
    // more blocks.
    const unsigned sm_count = static_cast<unsigned>(context_.info().sm_count);
    if (n > 1 && m >= 128 && inputs == Rounding::kBf16 && k % 32 == 0 && epilogue != MatmulEpilogue::kResidual) {
        constexpr unsigned kMmaShared = 3 * (64 * 36 * sizeof(float) + 256 * 32 * sizeof(uint16_t));
        const unsigned blocks = ceil_div(m, 256) * ceil_div(n, 64);
        const int n_stages = k / 32;
        // Two resident blocks per SM: split k while the splits still fit in one wave, each split keeping 8 stages or
        // more (the pipeline's fill stays small) and the partial sums, which stay in L2, half the weights' bytes or
        // less (splits·n·m·4 ≤ m·k·2 / 2). Unsplit, 256 tokens of QKV were 80 blocks on an H100's 132 SMs.
        int splits = std::min<int>({kMaxMatmulSplits, static_cast<int>(2 * sm_count / blocks),
                                    std::max(1, n_stages / 8), std::max(1, k / (4 * n)),
                                    static_cast<int>(split_workspace.size() / (static_cast<size_t>(n) * m))});
        splits = std::max(splits, 1);
        const int stages_per_split = (n_stages + splits - 1) / splits;
        splits = (n_stages + stages_per_split - 1) / stages_per_split; // no split without stages
        TLLM_RETURN_IF_ERROR(launch_dependent(context_, pdl_, matmul_mma_,
                                              {ceil_div(m, 256), ceil_div(n, 64), static_cast<unsigned>(splits)}, {128},
                                              kMmaShared, stream, x, n, k, w, m, bias, y, static_cast<int>(epilogue),
                                              split_workspace.data(), stages_per_split));
        if (splits == 1) {
            return {};
        }
        const float* partials = split_workspace.data();
        return launch_dependent(context_, pdl_, matmul_split_reduce_,
                                {ceil_div(static_cast<unsigned>(n * m), kThreads)}, {kThreads}, 0, stream, partials,
                                splits, n, m, bias, y, static_cast<int>(epilogue));
    }
    if (k <= 4096 && (n == 1 || m < 128)) {
        // Decode, and matrices of few rows (the router's 32) at any token count: one row per warp, every load of
        // a row in flight at once, grid y over the tokens (the rows come again from L2 for each token).
        const int variant = (k + 1023) / 1024 - 1;
        const unsigned shared = static_cast<unsigned>(padded_floats(k) * sizeof(float));
        const unsigned blocks = std::min(ceil_div(m, 8), sm_count * 8);
        return launch_dependent(context_, pdl_, matvec_[variant], {blocks, static_cast<unsigned>(n)}, {kThreads},
                                shared, stream, x, k, w, m, bias, y, static_cast<int>(epilogue));
    }
    // The widest token tile whose x rows fit in shared memory; decode (n = 1) takes the 1-token kernel.
    int variant = 0;
    for (int v = 2; v >= 1; --v) {
        if (n >= kTileTokens[v] / 2 + 1 &&
            kTileTokens[v] * padded_floats(k) * static_cast<int64_t>(sizeof(float)) <= max_shared_) {
            variant = v;
            break;
        }
    }
    const int tile = kTileTokens[variant];
    const unsigned shared = static_cast<unsigned>(tile * padded_floats(k) * sizeof(float));
    TLLM_CHECK(static_cast<int>(shared) <= max_shared_, "bf16w_matmul: k={} needs {} bytes of shared memory", k,
               shared);
    const unsigned token_tiles = ceil_div(n, tile);
    // Enough blocks to fill the card about four times over; each loops over its row groups, so x is
    // staged in shared memory once per block rather than once per 16 rows.
    const unsigned row_groups = ceil_div(m, 16);
    const unsigned target = static_cast<unsigned>(context_.info().sm_count) * 4;
    const unsigned row_blocks = std::clamp(ceil_div(target, token_tiles), 1u, row_groups);
    return launch_dependent(context_, pdl_, matmul_[variant], {row_blocks, token_tiles}, {kThreads}, shared, stream, x,
                            n, k, w, m, bias, y, static_cast<int>(epilogue));
}

Status OpKernels::library_matmul(CUstream stream,
                                 const float* x,
                                 int n,
                                 int k,
                                 const uint16_t* w,
                                 int m,
                                 const uint16_t* bias,
                                 float* y,
                                 MatmulEpilogue epilogue,
                                 const MatmulWorkspace& workspace) const {
    const unsigned sm_count = static_cast<unsigned>(context_.info().sm_count);
    auto blocks_for = [&](int64_t groups) {
        return std::clamp(static_cast<unsigned>((groups + kThreads - 1) / kThreads), 1u, sm_count * 8);
    };
    const int64_t count = int64_t{n} * k;
    uint16_t* xb = workspace.inputs.data();
    TLLM_RETURN_IF_ERROR(
        launch_dependent(context_, pdl_, library_pack_, {blocks_for(count / 8)}, {kThreads}, 0, stream, x, count, xb));
    // The residual update lets the library add y itself (beta = 1); bias and rounding follow in one pass.
    const bool residual = epilogue == MatmulEpilogue::kResidualBf16;
    TLLM_RETURN_IF_ERROR(library_->matmul_bf16_f32(stream, xb, n, k, w, m, y, residual, workspace.library));
    const int round = epilogue == MatmulEpilogue::kStore ? 0 : 1;
    if (bias == nullptr && round == 0) {
        return {};
    }
    return launch_dependent(context_, pdl_, library_epilogue_, {blocks_for(int64_t{n} * m / 4)}, {kThreads}, 0, stream,
                            y, static_cast<int64_t>(n), m, bias, round);
}

Status OpKernels::logits_logprobs(CUstream stream,
                                  const float* logits,
                                  int vocab,
                                  const int32_t* rows,
                                  int n_rows,
                                  const int32_t* tokens,
                                  int top,
                                  float* logprob,
                                  int32_t* top_ids,
                                  float* top_logprobs) const {
    TLLM_CHECK(vocab > 0 && n_rows > 0 && top >= 0 && top <= kMaxLogprobsTop && top <= vocab,
               "logits_logprobs vocab={} rows={} top={}", vocab, n_rows, top);
    return launch_dependent(context_, pdl_, logprobs_, {static_cast<unsigned>(n_rows)}, {1024}, 0, stream, logits,
                            vocab, rows, tokens, top, logprob, top_ids, top_logprobs);
}

Status OpKernels::topk_route(CUstream stream,
                             const float* logits,
                             int n,
                             int n_experts,
                             int top_k,
                             int tile_size,
                             int32_t* pair_expert,
                             float* pair_weight,
                             int32_t* sorted_pairs,
                             MoeTile* tiles,
                             int32_t* n_tiles) const {
    TLLM_CHECK(n > 0 && n_experts <= 256 && top_k >= 1 && top_k <= 8 && top_k <= n_experts,
               "topk_route n={} experts={} top_k={}", n, n_experts, top_k);
    return launch_dependent(context_, pdl_, route_, {1}, {1024}, 0, stream, logits, n, n_experts, top_k, tile_size,
                            pair_expert, pair_weight, sorted_pairs, tiles, n_tiles);
}

Status OpKernels::norm_router_topk_decode(CUstream stream,
                                          const float* residual,
                                          int d,
                                          const uint16_t* norm_scale,
                                          float eps,
                                          float* normed,
                                          const uint16_t* router_w,
                                          const uint16_t* router_b,
                                          int n_experts,
                                          int top_k,
                                          float* logits,
                                          int32_t* ticket,
                                          int32_t* pair_expert,
                                          float* pair_weight,
                                          int32_t* sorted_pairs,
                                          MoeTile* tiles,
                                          int32_t* n_tiles,
                                          Rounding rounding) const {
    TLLM_CHECK(d % 8 == 0 && n_experts <= 256 && top_k >= 1 && top_k <= 8 && top_k <= n_experts,
               "norm_router_topk_decode d={} experts={} top_k={}", d, n_experts, top_k);
    const unsigned shared = static_cast<unsigned>((d + n_experts) * sizeof(float));
    TLLM_CHECK(static_cast<int>(shared) <= max_shared_, "norm_router_topk_decode: d={} needs {} bytes of shared memory",
               d, shared);
    const unsigned blocks = static_cast<unsigned>(n_experts); // one expert per block (kExpertsPerBlock)
    return launch_dependent(context_, pdl_, route_decode_, {blocks}, {1024}, shared, stream, residual, d, norm_scale,
                            eps, normed, router_w, router_b, n_experts, top_k, logits, ticket, pair_expert, pair_weight,
                            sorted_pairs, tiles, n_tiles, static_cast<int>(rounding));
}

namespace {

struct MoeLaunch {
    int variant;
    unsigned shared;
    unsigned row_blocks;
    unsigned threads;
};

MoeLaunch moe_launch(int tile_size, int k, int rows, int max_tiles, int sm_count) {
    TLLM_CHECK(tile_size == 1 || tile_size == 4 || tile_size == 8, "expert tile size {} (1, 4 or 8)", tile_size);
    const int variant = tile_size == 8 ? 2 : (tile_size == 4 ? 1 : 0);
    const unsigned shared = static_cast<unsigned>((16 + kTileTokens[variant] * padded_floats(k)) * sizeof(float));
    const unsigned row_groups = ceil_div(rows, 16); // 8 warps of 2 rows per block and pass
    const unsigned target = static_cast<unsigned>(sm_count) * 4;
    return {variant, shared, std::clamp(ceil_div(target, max_tiles), 1u, row_groups), kThreads};
}

// One pair per tile (ops/mxfp4w_moe_matmul.cu, moe_rows_decode): blocks of S k-slices × 2 row groups
// of 4 rows, about three blocks per multiprocessor, with the iterations spread evenly over them
// (measured on H100: two or four per multiprocessor were 7% and 23% slower).
MoeLaunch moe_decode_launch(int k, int rows, int max_tiles, int sm_count) {
    constexpr int kGroups = 2;
    constexpr int kRows = 4;
    const int slices = (k / 32 + 31) / 32;
    const int64_t block_rows = kGroups * kRows;
    const int64_t steps = (rows + block_rows - 1) / block_rows; // block iterations over one expert
    const int64_t target = std::max<int64_t>(1, int64_t{sm_count} * 3 / max_tiles);
    const int64_t per_block = (steps + target - 1) / target;
    return {slices - 1, 0, static_cast<unsigned>((steps + per_block - 1) / per_block),
            static_cast<unsigned>(32 * slices * kGroups)};
}

// One launch path for both expert products: the decode kernels (one pair per tile) or the token-tile
// kernels, with the same arguments.
template <typename... Args>
Status launch_expert_kernel(const CudaContext& context,
                            bool pdl,
                            int max_shared,
                            const CUfunction (&decode)[4],
                            const CUfunction (&tiled)[3],
                            CUfunction mma,
                            CUfunction mma_small,
                            CUfunction mma_medium,
                            const char* what,
                            int k,
                            int rows,
                            int max_tiles,
                            int tile_size,
                            CUstream stream,
                            const Args&... args) {
    if (OpKernels::is_mma_tile_size(tile_size)) {
        // ops/bf16_mxfp4w_moe_mma.cu, whose tiles and shared memory moe_mma_layout.cuh gives.
        static_assert(OpKernels::kMmaTileSize == tllm_moe_mma::kLargePairs &&
                      OpKernels::kMmaMediumTileSize == tllm_moe_mma::kMediumPairs &&
                      OpKernels::kMmaSmallTileSize == tllm_moe_mma::kSmallPairs);
        const int64_t shared = tllm_moe_mma::shared_bytes(tile_size, k);
        TLLM_CHECK(shared <= max_shared, "{}: k={} needs {} bytes of shared memory", what, k, shared);
        const CUfunction function = tile_size == OpKernels::kMmaSmallTileSize    ? mma_small
                                    : tile_size == OpKernels::kMmaMediumTileSize ? mma_medium
                                                                                 : mma;
        return launch_dependent(context, pdl, function,
                                {ceil_div(rows, tllm_moe_mma::kBlockRows), static_cast<unsigned>(max_tiles)},
                                {tllm_moe_mma::kThreads}, static_cast<unsigned>(shared), stream, args...);
    }
    const int sm_count = context.info().sm_count;
    const bool decoding = tile_size == 1 && k <= 4096;
    const MoeLaunch l = decoding ? moe_decode_launch(k, rows, max_tiles, sm_count)
                                 : moe_launch(tile_size, k, rows, max_tiles, sm_count);
    TLLM_CHECK(static_cast<int>(l.shared) <= max_shared, "{}: k={} needs {} bytes of shared memory", what, k, l.shared);
    return launch_dependent(context, pdl, decoding ? decode[l.variant] : tiled[l.variant],
                            {l.row_blocks, static_cast<unsigned>(max_tiles)}, {l.threads}, l.shared, stream, args...);
}

} // namespace

Status OpKernels::moe_mlp1_swiglu(CUstream stream,
                                  const float* x,
                                  int k,
                                  const uint8_t* blocks,
                                  const uint8_t* scales,
                                  const uint16_t* bias,
                                  int rows,
                                  const int32_t* sorted_pairs,
                                  const MoeTile* tiles,
                                  const int32_t* n_tiles,
                                  int max_tiles,
                                  int tile_size,
                                  int top_k,
                                  float alpha,
                                  float limit,
                                  float* act,
                                  Rounding rounding) const {
    TLLM_CHECK(k % 32 == 0 && rows % 2 == 0 && max_tiles > 0, "moe_mlp1 k={} rows={} tiles={}", k, rows, max_tiles);
    TLLM_CHECK(!is_mma_tile_size(tile_size) || rounding == Rounding::kBf16,
               "moe_mlp1: the tensor-core kernels compute in bf16, not in the f32 reference");
    return launch_expert_kernel(context_, pdl_, max_shared_, mlp1_decode_, mlp1_, mlp1_mma_, mlp1_mma_small_,
                                mlp1_mma_medium_, "moe_mlp1", k, rows, max_tiles, tile_size, stream, x, k, blocks,
                                scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, alpha, limit,
                                static_cast<int>(rounding), act);
}

Status OpKernels::moe_mlp2(CUstream stream,
                           const float* act,
                           int k,
                           const uint8_t* blocks,
                           const uint8_t* scales,
                           const uint16_t* bias,
                           int rows,
                           const int32_t* sorted_pairs,
                           const MoeTile* tiles,
                           const int32_t* n_tiles,
                           int max_tiles,
                           int tile_size,
                           int top_k,
                           float* out) const {
    TLLM_CHECK(k % 32 == 0 && max_tiles > 0, "moe_mlp2 k={} rows={} tiles={}", k, rows, max_tiles);
    return launch_expert_kernel(context_, pdl_, max_shared_, mlp2_decode_, mlp2_, mlp2_mma_, mlp2_mma_small_,
                                mlp2_mma_medium_, "moe_mlp2", k, rows, max_tiles, tile_size, stream, act, k, blocks,
                                scales, bias, rows, sorted_pairs, tiles, n_tiles, top_k, out);
}

Status OpKernels::advance_position(
    CUstream stream, int32_t* positions, const int32_t* tokens, int32_t* history, int capacity) const {
    return launch_dependent(context_, pdl_, advance_, {1}, {32}, 0, stream, positions, tokens, history, capacity);
}

Status
OpKernels::bf16_fill_uniform(CUstream stream, uint16_t* out, uint64_t n, uint64_t seed, float low, float high) const {
    if (n == 0) {
        return {};
    }
    const unsigned blocks = std::min<unsigned>(ceil_div(static_cast<int64_t>(n), kThreads), 65535u);
    return launch(context_.driver(), fill_bf16_, {blocks}, {kThreads}, 0, stream, out, n, seed, low, high);
}

Status OpKernels::mma_peak(CUstream stream, unsigned blocks, int rounds, float* out) const {
    TLLM_CHECK(blocks > 0 && rounds > 0, "mma_peak blocks={} rounds={}", blocks, rounds);
    return launch(context_.driver(), mma_peak_, {blocks}, {kMmaPeakThreads}, 0, stream, rounds, out);
}

Status OpKernels::u8_fill_uniform(
    CUstream stream, uint8_t* out, uint64_t n, uint64_t seed, uint32_t low, uint32_t high) const {
    if (n == 0) {
        return {};
    }
    const unsigned blocks = std::min<unsigned>(ceil_div(static_cast<int64_t>(n), kThreads), 65535u);
    return launch(context_.driver(), fill_u8_, {blocks}, {kThreads}, 0, stream, out, n, seed, low, high);
}

} // namespace tllm::cuda
