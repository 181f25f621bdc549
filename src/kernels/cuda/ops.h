// Host launchers for the gpt-oss kernels in ops/*.cu: one function per op, shapes checked, kernels
// resolved once from the registry. Pointers are device addresses; shapes and dtypes are written
// as in kernels/cpu/ops.h, which holds the CPU reference of each op. Every call only enqueues work
// on `stream`, so a sequence of calls can be captured into a CUDA graph.
#pragma once

#include "core/result.h"
#include "kernels/cuda/cublaslt.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/kernel_registry.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

namespace tllm::cuda {

enum class MatmulEpilogue : int {
    kStore = 0,        // y = x·Wᵀ + bias
    kStoreBf16 = 1,    // y = round_bf16(x·Wᵀ + bias)
    kResidualBf16 = 2, // y = round_bf16(y + x·Wᵀ + bias)
    kResidual = 3,     // y = y + x·Wᵀ + bias (the f32 reference)
};

// Where a step rounds activations: kBf16 where the model keeps bf16 tensors (and bf16 KV caches),
// kNone in the f32 reference (docs/precision.md), whose KV caches are f32.
enum class Rounding : int { kNone = 0, kBf16 = 1 };

// A group of at most `tile_size` (token, slot) pairs routed to one expert (ops/f32_topk_route.cu).
struct MoeTile {
    int32_t expert;
    int32_t first; // into sorted_pairs
    int32_t count;
    int32_t pad;
};

// The most tiles n_pairs pairs can need: every expert's last tile may be partial.
inline int64_t max_moe_tiles(int64_t n_pairs, int64_t n_experts, int64_t tile_size) {
    return std::min(n_pairs, n_pairs / tile_size + std::min(n_experts, n_pairs)); // a tile holds a pair at least
}

// Where each token's positions live in a paged KV cache (device side: ops/common.cuh's KvRows): token t's block
// table starts at tables[table_offset[t]]; position p is row table[p / block_tokens]·block_rows + p % block_tokens
// of the cache's rows ([n_kv_heads, head_dim] bf16 each). Device pointers; a batch's tokens may belong to
// different sequences.
struct KvRows {
    const int32_t* tables = nullptr;       // [Σ blocks] i32
    const int32_t* table_offset = nullptr; // [n] i32
    int32_t block_tokens = 1;
    int32_t block_rows = 1;
};
static_assert(sizeof(KvRows) == 24, "KvRows must match the device struct");

// Device scratch of the dense products (OpKernels::bf16w_matmul); empty spans turn off what needs them.
struct MatmulWorkspace {
    std::span<float> splits;    // split k's partial sums on the mma.sync tiles: matmul_split_workspace_floats
    std::span<uint16_t> inputs; // x as bf16 for cuBLASLt: n·k (matmul_library_input_elements)
    std::span<uint8_t> library; // cuBLASLt's own: CublasLt::kWorkspaceBytes
};

class OpKernels {
  public:
    // Opens cuBLASLt too where the machine has it (the dense products of steps of several tokens); without it the
    // mma.sync tiles compute them.
    static Result<std::unique_ptr<OpKernels>> create(KernelRegistry& registry);

    const CudaContext& context() const { return context_; }
    // Pairs per expert tile of the tensor-core expert kernels (ops/bf16_mxfp4w_moe_mma.cu).
    static constexpr int kMmaTileSize = 64;
    // The same kernels' tiles for steps where experts see a few pairs each (batched decode).
    static constexpr int kMmaSmallTileSize = 16;
    static constexpr int kMmaMediumTileSize = 32;
    // Whether a tile size is one of the tensor-core expert kernels' (bf16 precision only).
    static constexpr bool is_mma_tile_size(int tile_size) {
        return tile_size == kMmaTileSize || tile_size == kMmaMediumTileSize || tile_size == kMmaSmallTileSize;
    }
    // Pairs per expert tile for a step of n_tokens (top_k of n_experts each) whose expert inputs are k wide: 1 for
    // decode (each expert sees one pair); in bf16 precision, for the tensor-core kernels, kMmaSmallTileSize while
    // experts average at most 8 pairs, kMmaMediumTileSize while they average at most 32, else kMmaTileSize; in the
    // f32 reference 8, or 4 where shared memory cannot hold 8 rows of x. The expert products pick their kernels by
    // the tile size.
    int moe_tile_size(int n_tokens, int top_k, int n_experts, int k, Rounding rounding) const;

    // residual[t, :] = table[tokens[t], :]   table: [vocab, d] bf16; tokens: [n] i32; residual: [n, d] f32
    // A negative tokens[t] = −1 − r is fed_back[r] (a token sampled on the device by the step before).
    Status embedding_gather(CUstream stream,
                            const uint16_t* table,
                            const int32_t* tokens,
                            const int32_t* fed_back,
                            int n,
                            int d,
                            float* residual) const;
    // out[t] = round_bf16(rmsnorm(x[t]) · scale)   x: [n, d] f32; scale: [d] bf16; out: [n, d] f32
    Status rmsnorm_rows(CUstream stream,
                        const float* x,
                        int n,
                        int d,
                        const uint16_t* scale,
                        float eps,
                        float* out,
                        Rounding rounding = Rounding::kBf16) const;
    // residual[t] = round_bf16(residual[t] + Σ_s weights[t, s]·expert_out[t·top_k + s]); out[t] = rmsnorm(residual[t])
    Status moe_combine_rmsnorm(CUstream stream,
                               float* residual,
                               const float* expert_out,
                               const float* weights,
                               int n,
                               int top_k,
                               int d,
                               const uint16_t* scale,
                               float eps,
                               float* out,
                               Rounding rounding = Rounding::kBf16) const;
    // y[n, m] (see MatmulEpilogue) from x: [n, k] f32, w: [m, k] bf16, bias: [m] bf16 or nullptr.
    // `inputs` kBf16 says x holds bf16 values (the bf16 precision): products library_takes() then run on cuBLASLt where
    // it opened and the workspace has room (x packed to bf16, exactly; bias, rounding and the residual around it:
    // ops/bf16w_matmul_library.cu), other steps of several tokens on the mma.sync tiles (ops/bf16w_matmul_mma.cu),
    // exactly too; kNone (the f32 reference) keeps CUDA cores. workspace.splits lets a tile product of too few blocks
    // for the card split k over more blocks.
    Status bf16w_matmul(CUstream stream,
                        const float* x,
                        int n,
                        int k,
                        const uint16_t* w,
                        int m,
                        const uint16_t* bias,
                        float* y,
                        MatmulEpilogue epilogue,
                        Rounding inputs,
                        const MatmulWorkspace& workspace = {}) const;
    // Floats of workspace.splits with which bf16w_matmul splits every product of up to n_tokens tokens and m rows
    // as far as it would.
    static size_t matmul_split_workspace_floats(int n_tokens, int m) {
        return static_cast<size_t>(kMaxMatmulSplits) * static_cast<size_t>(std::min(n_tokens, 64)) *
               static_cast<size_t>(m);
    }
    static constexpr int kMaxMatmulSplits = 16;
    // Elements of workspace.inputs for products of up to n_tokens tokens and k inputs.
    static size_t matmul_library_input_elements(int n_tokens, int k) {
        return static_cast<size_t>(n_tokens) * static_cast<size_t>(k);
    }
    // cuBLASLt, or null where it did not open.
    const CublasLt* library() const { return library_.get(); }
    // Which bf16 products go to cuBLASLt: from 2 tokens and 64K outputs. Smaller ones keep decode's matvec and the
    // tiles, which need no pack and epilogue launches around them (`bench --gemm`, H100: the router's 32 rows up to
    // 2048 tokens, the out-projection at 8 tokens). Tests and the benchmark move the lines to compare both paths.
    struct LibraryRule {
        int min_tokens = 2;
        int64_t min_outputs = 64 * 1024; // n·m
    };
    bool library_takes(int n, int m) const {
        return library_ != nullptr && n >= library_rule_.min_tokens && int64_t{n} * m >= library_rule_.min_outputs &&
               m % 4 == 0;
    }
    LibraryRule library_rule() const { return library_rule_; }
    void set_library_rule(LibraryRule rule) { library_rule_ = rule; }
    // Rotates q in place (rounded to bf16) and writes rotated k and v to the caches at positions[t].
    //   qkv: [n, (n_heads + 2·n_kv_heads)·head_dim] f32; inv_freq: [head_dim/2] f32;
    //   k_cache, v_cache: [capacity, n_kv_heads, head_dim] bf16, or f32 for the f32 reference (q not rounded)
    template <typename KV>
    Status rope_kv_write(CUstream stream,
                         float* qkv,
                         const int32_t* positions,
                         int n,
                         int n_heads,
                         int n_kv_heads,
                         int head_dim,
                         const float* inv_freq,
                         float concentration,
                         KV* k_cache,
                         KV* v_cache) const;
    // Attention with sinks (kernels/cpu attention_sinks) for n tokens: q: [n, q_stride] f32 with head h at
    // h·head_dim (q may sit inside the qkv rows); out: [n, n_heads, head_dim] f32 rounded to bf16;
    // partial_stats: [n, n_heads, n_splits, 2] f32, partial_acc: [n, n_heads, n_splits, head_dim] f32;
    // tickets: [n, n_kv_heads] i32, 0 before the call and 0 again after it (one launch, split-K).
    // With f32 caches (the f32 reference) the output is not rounded. Prefill steps over bf16 caches
    // (n ≥ 8, head_dim 64 or 128) run on tensor cores and leave the partials and tickets unused.
    // max_keys bounds the keys any token of the call attends (its position + 1): decode over fewer than
    // kTensorCoreDecodeKeys (after the window) takes the CUDA-core tiled kernel, which costs less per block than the
    // tensor-core one at short contexts; a captured graph must be re-captured when its bound crosses that line.
    static constexpr int kTensorCoreDecodeKeys = 2048;
    // The most splits a call may ask for: the tensor-core kernel merges them in its stages' shared memory.
    static constexpr int kMaxAttentionSplits = 256;
    // Keys per tile of the decode kernel attention_sinks picks: splits start on tile boundaries, so a window needs
    // no more than window / tile + 1 splits.
    static int decode_key_tile(int window, int max_keys);
    template <typename KV>
    Status attention_sinks(CUstream stream,
                           const float* q,
                           int q_stride,
                           const int32_t* positions,
                           int n,
                           int n_heads,
                           int n_kv_heads,
                           int head_dim,
                           const KV* k_cache,
                           const KV* v_cache,
                           const uint16_t* sinks,
                           int window,
                           float scale,
                           int n_splits,
                           float* partial_stats,
                           float* partial_acc,
                           int32_t* tickets,
                           float* out,
                           int max_keys = std::numeric_limits<int>::max()) const;
    // The paged cache's variants (issue 13): rope_kv_write and attention_sinks with each token's positions placed by
    // `rows`, for any mix of decode and prefill tokens. bf16 caches: attention on the split kernels (head_dim 64 or
    // 128, at most 16 query heads per kv head, max_keys as above). f32 caches (the f32 reference): the per-key split
    // kernel, any head_dim up to 128 and up to 32 query heads per kv head.
    template <typename KV>
    Status rope_kv_write_paged(CUstream stream,
                               float* qkv,
                               const int32_t* positions,
                               int n,
                               int n_heads,
                               int n_kv_heads,
                               int head_dim,
                               const float* inv_freq,
                               float concentration,
                               KV* k_cache,
                               KV* v_cache,
                               const KvRows& rows) const;
    template <typename KV>
    Status attention_sinks_paged(CUstream stream,
                                 const float* q,
                                 int q_stride,
                                 const int32_t* positions,
                                 int n,
                                 int n_heads,
                                 int n_kv_heads,
                                 int head_dim,
                                 const KV* k_cache,
                                 const KV* v_cache,
                                 const uint16_t* sinks,
                                 int window,
                                 float scale,
                                 int n_splits,
                                 float* partial_stats,
                                 float* partial_acc,
                                 int32_t* tickets,
                                 float* out,
                                 const KvRows& rows,
                                 int max_keys = std::numeric_limits<int>::max()) const;
    // Prefill attention on tensor cores over the paged cache (bf16, head_dim 64 or 128), for runs of at least
    // kPrefillAttentionTokens consecutive step tokens of one sequence each: every token of a run finds its keys
    // through the block table of the run's first token. `plan` (device, from prefill_attention_plan) lists the
    // kernel's blocks; tokens outside the runs are left alone (attention_sinks_paged takes them).
    static constexpr int kPrefillAttentionTokens = 8;
    struct PrefillRun {
        int32_t first_token;    // step row of the run's first token
        int32_t n_tokens;       // at least kPrefillAttentionTokens
        int32_t first_position; // the positions are first_position, first_position + 1, …
    };
    // The blocks of the prefill attention kernel over `runs`: 4 i32 each (first token, tokens, row block, 0), those
    // whose tokens see the most keys first.
    static std::vector<int32_t> prefill_attention_plan(std::span<const PrefillRun> runs, int group, int head_dim);
    Status attention_sinks_prefill_paged(CUstream stream,
                                         const float* q,
                                         int q_stride,
                                         const int32_t* positions,
                                         int n_heads,
                                         int n_kv_heads,
                                         int head_dim,
                                         const uint16_t* k_cache,
                                         const uint16_t* v_cache,
                                         const uint16_t* sinks,
                                         int window,
                                         float scale,
                                         float* out,
                                         const KvRows& rows,
                                         const int32_t* plan,
                                         int plan_blocks) const;
    // Top-k routing and expert tiles; see ops/f32_topk_route.cu. logits: [n, n_experts] f32.
    Status topk_route(CUstream stream,
                      const float* logits,
                      int n,
                      int n_experts,
                      int top_k,
                      int tile_size,
                      int32_t* pair_expert,
                      float* pair_weight,
                      int32_t* sorted_pairs,
                      MoeTile* tiles,
                      int32_t* n_tiles) const;
    // Log-probabilities of n_rows sampled rows (ops/f32_logits_logprobs.cu; CPU reference: cpu::logits_logprobs):
    // row r reads logits row rows[r] ([vocab] f32) and that row's sampled token tokens[rows[r]]; logprob[r] is the
    // token's, top_ids[r, :top] and top_logprobs[r, :top] the `top` likeliest's (top ≤ kMaxLogprobsTop).
    static constexpr int kMaxLogprobsTop = 20;
    Status logits_logprobs(CUstream stream,
                           const float* logits,
                           int vocab,
                           const int32_t* rows,
                           int n_rows,
                           const int32_t* tokens,
                           int top,
                           float* logprob,
                           int32_t* top_ids,
                           float* top_logprobs) const;
    // Decode (one token): normed = round_bf16(rmsnorm(residual)·scale), router logits, top-k routing and
    // one tile per chosen expert, in one launch (ops/f32_topk_route.cu). residual, normed: [d] f32;
    // logits: [n_experts] f32 out; ticket: one i32 that is 0 before and after.
    Status norm_router_topk_decode(CUstream stream,
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
                                   Rounding rounding = Rounding::kBf16) const;
    // act[p, i] = round_bf16(swiglu(x[p / top_k] · W1[e]ᵀ + b1[e]))   x: [n, k]; act: [n·top_k, rows/2]
    Status moe_mlp1_swiglu(CUstream stream,
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
                           Rounding rounding = Rounding::kBf16) const;
    // out[p, r] = act[p] · W2[e]ᵀ[r] + b2[e][r]   act: [n·top_k, k]; out: [n·top_k, rows]
    Status moe_mlp2(CUstream stream,
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
                    float* out) const;
    // history[positions[0] + 1] = tokens[0]; positions[0] += 1 (the last node of a decode graph).
    Status
    advance_position(CUstream stream, int32_t* positions, const int32_t* tokens, int32_t* history, int capacity) const;
    // The mma.sync peak: `blocks` blocks of 256 threads, each warp `rounds` rounds of kMmaPeakChains MMAs of
    // m16n8k16 (4096 flops each); out: [blocks · 256] f32, each 16 · rounds · kMmaPeakChains · 4
    // (ops/bf16_mma_peak.cu).
    static constexpr int kMmaPeakChains = 8;
    static constexpr unsigned kMmaPeakThreads = 256;
    Status mma_peak(CUstream stream, unsigned blocks, int rounds, float* out) const;
    // Random fills for synthetic weights (ops/u8_bf16_fill_random.cu).
    Status bf16_fill_uniform(CUstream stream, uint16_t* out, uint64_t n, uint64_t seed, float low, float high) const;
    Status u8_fill_uniform(CUstream stream, uint8_t* out, uint64_t n, uint64_t seed, uint32_t low, uint32_t high) const;

  private:
    explicit OpKernels(const CudaContext& context) : context_(context) {}
    Status resolve(KernelRegistry& registry);

    Status library_matmul(CUstream stream,
                          const float* x,
                          int n,
                          int k,
                          const uint16_t* w,
                          int m,
                          const uint16_t* bias,
                          float* y,
                          MatmulEpilogue epilogue,
                          const MatmulWorkspace& workspace) const;

    const CudaContext& context_;
    std::unique_ptr<CublasLt> library_;
    LibraryRule library_rule_;
    CUfunction logprobs_ = nullptr;
    CUfunction library_pack_ = nullptr;
    CUfunction library_epilogue_ = nullptr;
    int max_shared_ = 48 * 1024;
    bool pdl_ = false; // programmatic dependent launch (sm_90+)
    CUfunction embedding_ = nullptr;
    CUfunction advance_ = nullptr;
    CUfunction rmsnorm_ = nullptr;
    CUfunction combine_rmsnorm_ = nullptr;
    CUfunction matmul_[3] = {};       // tiles of 1, 4, 8 tokens
    CUfunction matmul_mma_ = nullptr; // tiles of 64 tokens on tensor cores
    CUfunction matmul_split_reduce_ = nullptr;
    CUfunction rope_ = nullptr;
    CUfunction rope_f32kv_ = nullptr;
    CUfunction attention_split_ = nullptr;
    CUfunction attention_split_f32kv_ = nullptr;
    // The split decode kernel for bf16 caches with head_dim 64 or 128 (attention_sinks, attention_sinks_paged):
    // the CUDA-core tiles or the tensor cores by decode_key_tile, with its block and dynamic shared memory.
    struct SplitLaunch {
        CUfunction function;
        Dim3 block;
        unsigned shared_bytes;
    };
    SplitLaunch split_launch(bool paged, int head_dim, unsigned group, int window, int max_keys) const;
    CUfunction attention_split_mma_[2] = {};       // bf16 caches, head_dim 64, 128: the tensor-core split kernel
    CUfunction attention_split_mma_paged_[2] = {}; // paged bf16 caches, head_dim 64, 128
    CUfunction attention_split_tiled_[2] = {};     // the CUDA-core tiled split kernel, for short contexts
    CUfunction attention_split_tiled_paged_[2] = {};
    CUfunction rope_paged_ = nullptr;
    CUfunction rope_paged_f32kv_ = nullptr;
    CUfunction attention_split_paged_f32kv_ = nullptr; // f32 paged caches, any head_dim up to 128
    CUfunction attention_prefill_[2] = {};             // tensor cores, bf16 caches: head_dim 64, 128
    CUfunction route_ = nullptr;
    CUfunction route_decode_ = nullptr;
    CUfunction mlp1_[3] = {}; // tiles of 1, 4, 8 pairs on CUDA cores
    CUfunction mlp2_[3] = {};
    CUfunction mlp1_mma_ = nullptr; // tiles of kMmaTileSize pairs on tensor cores (bf16 precision)
    CUfunction mlp2_mma_ = nullptr;
    CUfunction mlp1_mma_small_ = nullptr; // tiles of kMmaSmallTileSize pairs
    CUfunction mlp2_mma_small_ = nullptr;
    CUfunction mlp1_mma_medium_ = nullptr; // tiles of kMmaMediumTileSize pairs
    CUfunction mlp2_mma_medium_ = nullptr;
    CUfunction matvec_[4] = {};      // decode: 4, 8, 12, 16 loads of 16 bytes per lane (k ≤ 1024 … 4096)
    CUfunction mlp1_decode_[4] = {}; // decode: 1 to 4 MXFP4 blocks per lane (k ≤ 1024 … 4096)
    CUfunction mlp2_decode_[4] = {};
    CUfunction mma_peak_ = nullptr;
    CUfunction fill_bf16_ = nullptr;
    CUfunction fill_u8_ = nullptr;
};

} // namespace tllm::cuda
