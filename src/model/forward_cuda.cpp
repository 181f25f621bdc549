#include "model/forward_cuda.h"

#include "core/check.h"
#include "core/log.h"

#include <algorithm>
#include <numeric>

namespace tllm {
namespace {

struct ScratchSizes {
    uint64_t n, hidden, qkv, q, heads, head_dim, experts, pairs, inter, vocab, tiles;
};

ScratchSizes scratch_sizes(const GptOssConfig& c, int64_t max_step_tokens) {
    const uint64_t n = static_cast<uint64_t>(max_step_tokens);
    const uint64_t pairs = n * static_cast<uint64_t>(c.n_experts_per_token);
    return ScratchSizes{n,
                        static_cast<uint64_t>(c.hidden_size),
                        static_cast<uint64_t>(c.q_width() + 2 * c.kv_width()),
                        static_cast<uint64_t>(c.q_width()),
                        static_cast<uint64_t>(c.n_heads),
                        static_cast<uint64_t>(c.head_dim),
                        static_cast<uint64_t>(c.n_experts),
                        pairs,
                        static_cast<uint64_t>(c.intermediate_size),
                        static_cast<uint64_t>(c.vocab_size),
                        static_cast<uint64_t>(cuda::max_moe_tiles(static_cast<int64_t>(pairs), c.n_experts, 1))};
}

constexpr int kMaxSplits = 64;

// Floats of scratch for the dense products' split k (OpKernels::bf16w_matmul): the widest of QKV, the
// out-projection and the router.
uint64_t split_workspace_floats(const ScratchSizes& s) {
    const int widest = static_cast<int>(std::max({s.qkv, s.hidden, s.experts}));
    return cuda::OpKernels::matmul_split_workspace_floats(static_cast<int>(std::min<uint64_t>(s.n, 64)), widest);
}

// Bytes of cuBLASLt's scratch: the inputs of the widest-k product as bf16, and its own workspace.
uint64_t library_inputs_elements(const ScratchSizes& s) {
    return cuda::OpKernels::matmul_library_input_elements(static_cast<int>(s.n),
                                                          static_cast<int>(std::max(s.hidden, s.q)));
}
uint64_t library_bytes(const ScratchSizes& s) {
    return library_inputs_elements(s) * 2 + cuda::CublasLt::kWorkspaceBytes;
}

} // namespace

uint64_t CudaForward::scratch_bytes(const GptOssConfig& c, int64_t max_step_tokens) {
    const ScratchSizes s = scratch_sizes(c, max_step_tokens);
    const uint64_t floats = s.n * (2 * s.hidden + s.qkv + s.q + s.experts + s.vocab) +
                            s.n * s.heads * kMaxSplits * (2 + s.head_dim) + s.pairs * (2 + s.inter + s.hidden);
    // The per-row sampling buffers (counters, seeds, tokens) and the sampler's state.
    const uint64_t sampling = s.n * (28 + 8 * cuda::OpKernels::kMaxLogprobsTop) +
                              cuda::LogitsSampler::scratch_bytes(std::min<int64_t>(max_step_tokens, 65535));
    return (floats + split_workspace_floats(s)) * 4 + library_bytes(s) + s.tiles * sizeof(cuda::MoeTile) + s.n * 8 +
           s.pairs * 4 + sampling;
}

Result<std::unique_ptr<CudaForward>> CudaForward::create(const cuda::CudaContext& context,
                                                         cuda::KernelRegistry& registry,
                                                         const cuda::OpKernels& kernels,
                                                         const CudaWeights& weights,
                                                         int64_t max_step_tokens) {
    TLLM_CHECK(max_step_tokens > 0, "max_step_tokens {}", max_step_tokens);
    std::unique_ptr<CudaForward> forward(new CudaForward(context, kernels, weights));
    TLLM_ASSIGN_OR_RETURN(forward->stream_, cuda::Stream::create(context));
    TLLM_ASSIGN_OR_RETURN(forward->sampler_, cuda::LogitsSampler::create(context, registry, weights.config().vocab_size,
                                                                         std::min<int64_t>(max_step_tokens, 65535)));
    TLLM_RETURN_IF_ERROR(forward->allocate(max_step_tokens));
    return forward;
}

Status CudaForward::allocate(int64_t max_step_tokens) {
    const GptOssConfig& c = weights_.config();
    const ScratchSizes s = scratch_sizes(c, max_step_tokens);
    max_step_tokens_ = max_step_tokens;
    auto alloc = [&](cuda::DeviceBuffer& buffer, uint64_t bytes) -> Status {
        TLLM_ASSIGN_OR_RETURN(buffer, cuda::DeviceBuffer::allocate(context_, bytes));
        return {};
    };
    TLLM_RETURN_IF_ERROR(alloc(tokens_, s.n * 4));
    TLLM_RETURN_IF_ERROR(alloc(positions_, s.n * 4));
    TLLM_RETURN_IF_ERROR(alloc(residual_, s.n * s.hidden * 4));
    TLLM_RETURN_IF_ERROR(alloc(normed_, s.n * s.hidden * 4));
    TLLM_RETURN_IF_ERROR(alloc(qkv_, s.n * s.qkv * 4));
    TLLM_RETURN_IF_ERROR(alloc(attn_, s.n * s.q * 4));
    TLLM_RETURN_IF_ERROR(alloc(split_partials_, split_workspace_floats(s) * 4));
    if (kernels_.library() != nullptr) {
        TLLM_RETURN_IF_ERROR(alloc(library_inputs_, library_inputs_elements(s) * 2));
        TLLM_RETURN_IF_ERROR(alloc(library_workspace_, cuda::CublasLt::kWorkspaceBytes));
    }
    TLLM_RETURN_IF_ERROR(alloc(partial_stats_, s.n * s.heads * kMaxSplits * 2 * 4));
    TLLM_RETURN_IF_ERROR(alloc(partial_acc_, s.n * s.heads * kMaxSplits * s.head_dim * 4));
    TLLM_RETURN_IF_ERROR(alloc(router_, s.n * s.experts * 4));
    TLLM_RETURN_IF_ERROR(alloc(pair_expert_, s.pairs * 4));
    TLLM_RETURN_IF_ERROR(alloc(pair_weight_, s.pairs * 4));
    TLLM_RETURN_IF_ERROR(alloc(sorted_pairs_, s.pairs * 4));
    TLLM_RETURN_IF_ERROR(alloc(tiles_, s.tiles * sizeof(cuda::MoeTile)));
    TLLM_RETURN_IF_ERROR(alloc(n_tiles_, 4));
    TLLM_RETURN_IF_ERROR(alloc(ticket_, 4));
    const int32_t zero = 0;
    TLLM_RETURN_IF_ERROR(ticket_.upload(&zero, 4));
    const std::vector<int32_t> zeros(static_cast<size_t>(max_step_tokens * c.n_kv_heads), 0);
    TLLM_RETURN_IF_ERROR(alloc(attention_tickets_, zeros.size() * 4));
    TLLM_RETURN_IF_ERROR(attention_tickets_.upload(zeros.data(), zeros.size() * 4));
    TLLM_RETURN_IF_ERROR(alloc(act_, s.pairs * s.inter * 4));
    TLLM_RETURN_IF_ERROR(alloc(expert_out_, s.pairs * s.hidden * 4));
    TLLM_RETURN_IF_ERROR(alloc(logits_, s.n * s.vocab * 4));
    TLLM_RETURN_IF_ERROR(alloc(counter_, 8));
    TLLM_RETURN_IF_ERROR(alloc(row_counters_, s.n * 8));
    TLLM_RETURN_IF_ERROR(alloc(row_seeds_, s.n * 8));
    TLLM_RETURN_IF_ERROR(alloc(row_tokens_, s.n * 4));
    TLLM_RETURN_IF_ERROR(alloc(logprob_rows_, s.n * 4));
    TLLM_RETURN_IF_ERROR(alloc(logprob_values_, s.n * 4));
    TLLM_RETURN_IF_ERROR(alloc(logprob_top_ids_, s.n * cuda::OpKernels::kMaxLogprobsTop * 4));
    TLLM_RETURN_IF_ERROR(alloc(logprob_top_, s.n * cuda::OpKernels::kMaxLogprobsTop * 4));
    const RopeParameters rope = compute_rope_parameters(c);
    concentration_ = rope.concentration;
    TLLM_RETURN_IF_ERROR(alloc(inv_freq_, rope.inv_freq.size() * 4));
    TLLM_RETURN_IF_ERROR(inv_freq_.upload(rope.inv_freq.data(), rope.inv_freq.size() * 4));
    return {};
}

Status CudaForward::enqueue_step(CudaKvCache& cache, int n, bool all_logits, int n_splits, int max_keys) {
    StepKv kv;
    kv.cache = &cache;
    TLLM_RETURN_IF_ERROR(enqueue_layers(kv, n, n_splits, max_keys));
    const int rows = all_logits ? n : 1;
    const int64_t hidden = weights_.config().hidden_size;
    return enqueue_unembedding(normed_.as<float>() + static_cast<int64_t>(n - rows) * hidden, rows,
                               cache.dtype() == DType::kBF16 ? cuda::Rounding::kBf16 : cuda::Rounding::kNone);
}

Status CudaForward::enqueue_unembedding(const float* input, int rows, cuda::Rounding rounding) {
    const GptOssConfig& c = weights_.config();
    return kernels_.bf16w_matmul(stream_.get(), input, rows, static_cast<int>(c.hidden_size),
                                 weights_.unembedding().as<uint16_t>(), static_cast<int>(c.vocab_size), nullptr,
                                 logits_.as<float>(), cuda::MatmulEpilogue::kStore, rounding, matmul_workspace());
}

cuda::MatmulWorkspace CudaForward::matmul_workspace() const {
    return {{split_partials_.as<float>(), split_partials_.bytes() / sizeof(float)},
            {library_inputs_.as<uint16_t>(), library_inputs_.bytes() / sizeof(uint16_t)},
            {library_workspace_.as<uint8_t>(), library_workspace_.bytes()}};
}

Status CudaForward::enqueue_layers(const StepKv& kv, int n, int n_splits, int max_keys) {
    const GptOssConfig& c = weights_.config();
    const cuda::OpKernels& k = kernels_;
    const CUstream stream = stream_.get();
    const int hidden = static_cast<int>(c.hidden_size);
    const int qkv_width = static_cast<int>(c.q_width() + 2 * c.kv_width());
    const int q_width = static_cast<int>(c.q_width());
    const int experts = static_cast<int>(c.n_experts);
    const int top_k = static_cast<int>(c.n_experts_per_token);
    const int inter = static_cast<int>(c.intermediate_size);
    const float eps = c.rms_norm_eps;
    const int32_t* positions = positions_.as<int32_t>();
    float* residual = residual_.as<float>();
    float* normed = normed_.as<float>();
    float* qkv = qkv_.as<float>();
    const bool bf16 = kv.dtype() == DType::kBF16;
    const cuda::Rounding rounding = bf16 ? cuda::Rounding::kBf16 : cuda::Rounding::kNone;
    const int tile_size = k.moe_tile_size(n, top_k, experts, std::max(hidden, inter), rounding);
    const cuda::MatmulWorkspace workspace = matmul_workspace();
    const int max_tiles = static_cast<int>(cuda::max_moe_tiles(int64_t{n} * top_k, experts, tile_size));
    // RoPE with the KV write, then attention, over the cache in its own dtype.
    auto attention = [&](int64_t layer, const CudaLayerWeights& w, auto kv_type) -> Status {
        using KV = decltype(kv_type);
        const int window = c.layer_sliding[static_cast<size_t>(layer)] ? static_cast<int>(c.sliding_window) : 0;
        // A window sees a few key tiles of the split kernel: more splits would only launch blocks that exit.
        const int tile = cuda::OpKernels::decode_key_tile(window, max_keys);
        const int splits = window > 0 ? std::min(n_splits, (window + tile - 1) / tile + 1) : n_splits;
        if (kv.paged != nullptr) {
            const cuda::KvRows& rows = kv.rows[PagedKvLayout::layer_group(c, layer)];
            KV* keys = kv.paged->keys<KV>(layer);
            KV* values = kv.paged->values<KV>(layer);
            TLLM_RETURN_IF_ERROR(k.rope_kv_write_paged(stream, qkv, positions, n, static_cast<int>(c.n_heads),
                                                       static_cast<int>(c.n_kv_heads), static_cast<int>(c.head_dim),
                                                       inv_freq_.as<float>(), concentration_, keys, values, rows));
            // Decode tokens and short chunks (the first split_tokens rows) on the split kernel, prefill runs on the
            // tensor-core prefill kernel: each of its blocks reads a tile of keys once for 128 (token, head) rows.
            // The f32 reference has no prefill kernel: its plan sends every row to the split kernel.
            const int split_tokens = kv.split_tokens < 0 ? n : kv.split_tokens;
            if (split_tokens > 0) {
                TLLM_RETURN_IF_ERROR(k.attention_sinks_paged(
                    stream, qkv, qkv_width, positions, split_tokens, static_cast<int>(c.n_heads),
                    static_cast<int>(c.n_kv_heads), static_cast<int>(c.head_dim), keys, values, w.sinks.as<uint16_t>(),
                    window, c.attention_scale(), splits, partial_stats_.as<float>(), partial_acc_.as<float>(),
                    attention_tickets_.as<int32_t>(), attn_.as<float>(), rows, max_keys));
            }
            if constexpr (std::is_same_v<KV, float>) {
                TLLM_CHECK(kv.prefill_blocks == 0, "a prefill attention plan over an f32 cache");
                return {};
            } else {
                if (kv.prefill_blocks == 0) {
                    return {};
                }
                return k.attention_sinks_prefill_paged(
                    stream, qkv, qkv_width, positions, static_cast<int>(c.n_heads), static_cast<int>(c.n_kv_heads),
                    static_cast<int>(c.head_dim), keys, values, w.sinks.as<uint16_t>(), window, c.attention_scale(),
                    attn_.as<float>(), rows, kv.prefill_plan, kv.prefill_blocks);
            }
        }
        KV* keys = kv.cache->keys<KV>(layer);
        KV* values = kv.cache->values<KV>(layer);
        TLLM_RETURN_IF_ERROR(k.rope_kv_write(stream, qkv, positions, n, static_cast<int>(c.n_heads),
                                             static_cast<int>(c.n_kv_heads), static_cast<int>(c.head_dim),
                                             inv_freq_.as<float>(), concentration_, keys, values));
        return k.attention_sinks(stream, qkv, qkv_width, positions, n, static_cast<int>(c.n_heads),
                                 static_cast<int>(c.n_kv_heads), static_cast<int>(c.head_dim), keys, values,
                                 w.sinks.as<uint16_t>(), window, c.attention_scale(), splits,
                                 partial_stats_.as<float>(), partial_acc_.as<float>(), attention_tickets_.as<int32_t>(),
                                 attn_.as<float>(), max_keys);
    };

    TLLM_RETURN_IF_ERROR(k.embedding_gather(stream, weights_.embedding().as<uint16_t>(), tokens_.as<int32_t>(),
                                            row_tokens_.as<int32_t>(), n, hidden, residual));
    TLLM_RETURN_IF_ERROR(
        k.rmsnorm_rows(stream, residual, n, hidden, weights_.layer(0).attn_norm.as<uint16_t>(), eps, normed, rounding));
    for (int64_t layer = 0; layer < c.n_layers; ++layer) {
        const CudaLayerWeights& w = weights_.layer(layer);
        TLLM_RETURN_IF_ERROR(k.bf16w_matmul(
            stream, normed, n, hidden, w.qkv_weight.as<uint16_t>(), qkv_width, w.qkv_bias.as<uint16_t>(), qkv,
            bf16 ? cuda::MatmulEpilogue::kStoreBf16 : cuda::MatmulEpilogue::kStore, rounding, workspace));
        TLLM_RETURN_IF_ERROR(bf16 ? attention(layer, w, uint16_t{}) : attention(layer, w, float{}));
        TLLM_RETURN_IF_ERROR(k.bf16w_matmul(
            stream, attn_.as<float>(), n, q_width, w.out_weight.as<uint16_t>(), hidden, w.out_bias.as<uint16_t>(),
            residual, bf16 ? cuda::MatmulEpilogue::kResidualBf16 : cuda::MatmulEpilogue::kResidual, rounding,
            workspace));
        if (n == 1) { // decode: norm, router and routing in one launch
            TLLM_RETURN_IF_ERROR(k.norm_router_topk_decode(
                stream, residual, hidden, w.mlp_norm.as<uint16_t>(), eps, normed, w.router_weight.as<uint16_t>(),
                w.router_bias.as<uint16_t>(), experts, top_k, router_.as<float>(), ticket_.as<int32_t>(),
                pair_expert_.as<int32_t>(), pair_weight_.as<float>(), sorted_pairs_.as<int32_t>(),
                tiles_.as<cuda::MoeTile>(), n_tiles_.as<int32_t>(), rounding));
        } else {
            TLLM_RETURN_IF_ERROR(
                k.rmsnorm_rows(stream, residual, n, hidden, w.mlp_norm.as<uint16_t>(), eps, normed, rounding));
            TLLM_RETURN_IF_ERROR(k.bf16w_matmul(stream, normed, n, hidden, w.router_weight.as<uint16_t>(), experts,
                                                w.router_bias.as<uint16_t>(), router_.as<float>(),
                                                cuda::MatmulEpilogue::kStore, rounding, workspace));
            TLLM_RETURN_IF_ERROR(k.topk_route(stream, router_.as<float>(), n, experts, top_k, tile_size,
                                              pair_expert_.as<int32_t>(), pair_weight_.as<float>(),
                                              sorted_pairs_.as<int32_t>(), tiles_.as<cuda::MoeTile>(),
                                              n_tiles_.as<int32_t>()));
        }
        TLLM_RETURN_IF_ERROR(k.moe_mlp1_swiglu(stream, normed, hidden, w.mlp1_blocks.as<uint8_t>(),
                                               w.mlp1_scales.as<uint8_t>(), w.mlp1_bias.as<uint16_t>(), 2 * inter,
                                               sorted_pairs_.as<int32_t>(), tiles_.as<cuda::MoeTile>(),
                                               n_tiles_.as<int32_t>(), max_tiles, tile_size, top_k, c.swiglu_alpha,
                                               c.swiglu_limit, act_.as<float>(), rounding));
        TLLM_RETURN_IF_ERROR(k.moe_mlp2(stream, act_.as<float>(), inter, w.mlp2_blocks.as<uint8_t>(),
                                        w.mlp2_scales.as<uint8_t>(), w.mlp2_bias.as<uint16_t>(), hidden,
                                        sorted_pairs_.as<int32_t>(), tiles_.as<cuda::MoeTile>(), n_tiles_.as<int32_t>(),
                                        max_tiles, tile_size, top_k, expert_out_.as<float>()));
        // The MoE residual update is fused with the next norm: the next layer's, or the final one.
        const uint16_t* next_norm = layer + 1 < c.n_layers ? weights_.layer(layer + 1).attn_norm.as<uint16_t>()
                                                           : weights_.final_norm().as<uint16_t>();
        TLLM_RETURN_IF_ERROR(k.moe_combine_rmsnorm(stream, residual, expert_out_.as<float>(), pair_weight_.as<float>(),
                                                   n, top_k, hidden, next_norm, eps, normed, rounding));
    }
    return {};
}

Status
CudaForward::run(CudaKvCache& cache, std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits) {
    const GptOssConfig& c = weights_.config();
    if (tokens.empty()) {
        return make_error(ErrorCode::kInvalidArgument, "no tokens to process");
    }
    for (int32_t token : tokens) {
        if (token < 0 || token >= c.vocab_size) {
            return make_error(ErrorCode::kInvalidArgument, "token id {} outside vocabulary [0, {})", token,
                              c.vocab_size);
        }
    }
    const int64_t new_length = cache.length() + static_cast<int64_t>(tokens.size());
    if (new_length > cache.max_context()) {
        return make_error(ErrorCode::kContextOverflow, "{} tokens exceed the context of {}", new_length,
                          cache.max_context());
    }
    const size_t vocab = static_cast<size_t>(c.vocab_size);
    logits.clear();
    std::vector<int32_t> positions;
    for (size_t done = 0; done < tokens.size();) {
        const size_t n = std::min<size_t>(tokens.size() - done, static_cast<size_t>(max_step_tokens_));
        positions.resize(n);
        std::iota(positions.begin(), positions.end(), static_cast<int32_t>(cache.length()));
        TLLM_RETURN_IF_ERROR(tokens_.upload(tokens.data() + done, n * 4));
        TLLM_RETURN_IF_ERROR(positions_.upload(positions.data(), n * 4));
        const bool last_chunk = done + n == tokens.size();
        TLLM_RETURN_IF_ERROR(enqueue_step(cache, static_cast<int>(n), all_logits, step_splits(static_cast<int>(n)),
                                          static_cast<int>(cache.length() + static_cast<int64_t>(n))));
        TLLM_RETURN_IF_ERROR(stream_.synchronize());
        cache.set_length(cache.length() + static_cast<int64_t>(n));
        if (all_logits || last_chunk) {
            const size_t rows = all_logits ? n : 1;
            const size_t offset = logits.size();
            logits.resize(offset + rows * vocab);
            TLLM_RETURN_IF_ERROR(logits_.download(logits.data() + offset, rows * vocab * 4));
        }
        done += n;
    }
    return {};
}

int CudaForward::step_splits(int n) const {
    // Enough (token, kv head, split) blocks to fill the card.
    const int blocks = n * static_cast<int>(weights_.config().n_kv_heads);
    return std::clamp((2 * context_.info().sm_count + blocks - 1) / blocks, 1, kMaxSplits);
}

int CudaForward::decode_splits(const CudaKvCache& cache) const {
    // Fixed at capture: enough splits for the longest context the cache can reach.
    return std::clamp(static_cast<int>((cache.max_context() + 63) / 64), 4, kMaxSplits);
}

int CudaForward::decode_key_bound(const CudaKvCache& cache, int64_t position) const {
    return position < cuda::OpKernels::kTensorCoreDecodeKeys ? cuda::OpKernels::kTensorCoreDecodeKeys
                                                             : static_cast<int>(cache.max_context());
}

Status CudaForward::capture_decode(CudaKvCache& cache, const cuda::SampleParams& params, int max_keys) {
    decode_graph_.reset();
    if (history_capacity_ < cache.max_context() + 1) {
        TLLM_ASSIGN_OR_RETURN(history_, cuda::DeviceBuffer::allocate(context_, (cache.max_context() + 1) * 4));
        history_capacity_ = cache.max_context() + 1;
    }
    const CUstream stream = stream_.get();
    TLLM_RETURN_IF_ERROR(cuda::Graph::begin_capture(stream_));
    Status status = enqueue_step(cache, 1, false, decode_splits(cache), max_keys);
    if (status.ok()) {
        status = sampler_->enqueue(stream, logits_.ptr(), 1, params, counter_.ptr(), tokens_.ptr());
    }
    if (status.ok()) {
        status = kernels_.advance_position(stream, positions_.as<int32_t>(), tokens_.as<int32_t>(),
                                           history_.as<int32_t>(), static_cast<int>(history_capacity_));
    }
    Result<cuda::Graph> graph = cuda::Graph::end_capture(stream_);
    TLLM_RETURN_IF_ERROR(status);
    if (!graph.ok()) {
        return graph.error();
    }
    decode_graph_ = std::move(graph.value());
    graph_cache_ = cache.identity();
    graph_params_ = params;
    graph_max_keys_ = max_keys;
    return {};
}

Status CudaForward::decode(CudaKvCache& cache,
                           int32_t token,
                           int64_t steps,
                           const cuda::SampleParams& params,
                           uint64_t counter,
                           std::vector<int32_t>& out) {
    const GptOssConfig& c = weights_.config();
    out.clear();
    if (steps <= 0) {
        return {};
    }
    if (token < 0 || token >= c.vocab_size) {
        return make_error(ErrorCode::kInvalidArgument, "token id {} outside vocabulary [0, {})", token, c.vocab_size);
    }
    if (cache.length() + steps > cache.max_context()) {
        return make_error(ErrorCode::kContextOverflow, "{} tokens exceed the context of {}", cache.length() + steps,
                          cache.max_context());
    }
    const bool same_params = graph_params_.temperature == params.temperature && graph_params_.top_k == params.top_k &&
                             graph_params_.top_p == params.top_p && graph_params_.seed == params.seed;
    bool graph_valid = decode_graph_ && graph_cache_ == cache.identity() && same_params;
    const int32_t position = static_cast<int32_t>(cache.length());
    TLLM_RETURN_IF_ERROR(tokens_.upload(&token, 4));
    TLLM_RETURN_IF_ERROR(positions_.upload(&position, 4));
    TLLM_RETURN_IF_ERROR(counter_.upload(&counter, 8));
    // The graph's tokens, positions and counter live in device memory and advance there, so a graph captured
    // again between replays (a context crossing the short-context kernels' bound) carries on where the last one
    // stopped.
    for (int64_t i = 0; i < steps; ++i) {
        const int bound = decode_key_bound(cache, position + i);
        if (!graph_valid || graph_max_keys_ != bound) {
            if (i > 0) { // the old graph's replays finish before its executable is replaced and capture begins
                TLLM_RETURN_IF_ERROR(stream_.synchronize());
            }
            TLLM_RETURN_IF_ERROR(capture_decode(cache, params, bound));
            graph_valid = true;
        }
        TLLM_RETURN_IF_ERROR(decode_graph_->launch(stream_));
    }
    TLLM_RETURN_IF_ERROR(stream_.synchronize());
    cache.set_length(cache.length() + steps);
    out.resize(static_cast<size_t>(steps));
    return history_.download(out.data(), static_cast<size_t>(steps) * 4, static_cast<size_t>(position + 1) * 4);
}

} // namespace tllm
