#include "model/cuda_weights.h"

#include "core/check.h"
#include "core/log.h"
#include "model/synth.h"

namespace tllm {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

struct LayerSizes {
    uint64_t hidden_bf16, qkv_rows, qkv_weight, sinks, out_weight, router_weight, router_bias;
    uint64_t mlp1_blocks, mlp1_scales, mlp1_bias, mlp2_blocks, mlp2_scales, mlp2_bias;
};

LayerSizes layer_sizes(const GptOssConfig& c) {
    const uint64_t hidden = static_cast<uint64_t>(c.hidden_size);
    const uint64_t experts = static_cast<uint64_t>(c.n_experts);
    const uint64_t inter = static_cast<uint64_t>(c.intermediate_size);
    const uint64_t qkv_rows = static_cast<uint64_t>(c.q_width() + 2 * c.kv_width());
    return LayerSizes{
        .hidden_bf16 = hidden * 2,
        .qkv_rows = qkv_rows,
        .qkv_weight = qkv_rows * hidden * 2,
        .sinks = static_cast<uint64_t>(c.n_heads) * 2,
        .out_weight = hidden * static_cast<uint64_t>(c.q_width()) * 2,
        .router_weight = experts * hidden * 2,
        .router_bias = experts * 2,
        .mlp1_blocks = experts * 2 * inter * (hidden / 32) * 16,
        .mlp1_scales = experts * 2 * inter * (hidden / 32),
        .mlp1_bias = experts * 2 * inter * 2,
        .mlp2_blocks = experts * hidden * (inter / 32) * 16,
        .mlp2_scales = experts * hidden * (inter / 32),
        .mlp2_bias = experts * hidden * 2,
    };
}

Status check_memory(const cuda::CudaContext& context, uint64_t needed, const char* what) {
    TLLM_ASSIGN_OR_RETURN(auto memory, context.memory_info());
    if (needed > memory.first) {
        return make_error(ErrorCode::kOutOfMemory,
                          "{} needs {:.2f} GiB of GPU memory but {} has {:.2f} GiB free of {:.2f} GiB; use a shorter "
                          "context (-c) or a larger card",
                          what, static_cast<double>(needed) / kGiB, context.info().name,
                          static_cast<double>(memory.first) / kGiB, static_cast<double>(memory.second) / kGiB);
    }
    return {};
}

Status upload_view(cuda::DeviceBuffer& buffer, const TensorView& view, size_t offset = 0) {
    return buffer.upload(view.data, view.n_bytes(), offset);
}

} // namespace

uint64_t CudaWeights::device_bytes(const GptOssConfig& c) {
    const LayerSizes s = layer_sizes(c);
    const uint64_t per_layer = 2 * s.hidden_bf16 + s.qkv_weight + s.qkv_rows * 2 + s.sinks + s.out_weight +
                               s.hidden_bf16 + s.router_weight + s.router_bias + s.mlp1_blocks + s.mlp1_scales +
                               s.mlp1_bias + s.mlp2_blocks + s.mlp2_scales + s.mlp2_bias;
    const uint64_t vocab_matrix = static_cast<uint64_t>(c.vocab_size) * static_cast<uint64_t>(c.hidden_size) * 2;
    return per_layer * static_cast<uint64_t>(c.n_layers) + 2 * vocab_matrix + s.hidden_bf16;
}

Status CudaWeights::allocate(const cuda::CudaContext& context) {
    const GptOssConfig& c = config_;
    const LayerSizes s = layer_sizes(c);
    const uint64_t vocab_matrix = static_cast<uint64_t>(c.vocab_size) * static_cast<uint64_t>(c.hidden_size) * 2;
    auto alloc = [&](cuda::DeviceBuffer& buffer, uint64_t bytes) -> Status {
        TLLM_ASSIGN_OR_RETURN(buffer, cuda::DeviceBuffer::allocate(context, bytes));
        return {};
    };
    TLLM_RETURN_IF_ERROR(alloc(embedding_, vocab_matrix));
    TLLM_RETURN_IF_ERROR(alloc(unembedding_, vocab_matrix));
    TLLM_RETURN_IF_ERROR(alloc(final_norm_, s.hidden_bf16));
    layers_.resize(static_cast<size_t>(c.n_layers));
    for (CudaLayerWeights& l : layers_) {
        TLLM_RETURN_IF_ERROR(alloc(l.attn_norm, s.hidden_bf16));
        TLLM_RETURN_IF_ERROR(alloc(l.qkv_weight, s.qkv_weight));
        TLLM_RETURN_IF_ERROR(alloc(l.qkv_bias, s.qkv_rows * 2));
        TLLM_RETURN_IF_ERROR(alloc(l.sinks, s.sinks));
        TLLM_RETURN_IF_ERROR(alloc(l.out_weight, s.out_weight));
        TLLM_RETURN_IF_ERROR(alloc(l.out_bias, s.hidden_bf16));
        TLLM_RETURN_IF_ERROR(alloc(l.mlp_norm, s.hidden_bf16));
        TLLM_RETURN_IF_ERROR(alloc(l.router_weight, s.router_weight));
        TLLM_RETURN_IF_ERROR(alloc(l.router_bias, s.router_bias));
        TLLM_RETURN_IF_ERROR(alloc(l.mlp1_blocks, s.mlp1_blocks));
        TLLM_RETURN_IF_ERROR(alloc(l.mlp1_scales, s.mlp1_scales));
        TLLM_RETURN_IF_ERROR(alloc(l.mlp1_bias, s.mlp1_bias));
        TLLM_RETURN_IF_ERROR(alloc(l.mlp2_blocks, s.mlp2_blocks));
        TLLM_RETURN_IF_ERROR(alloc(l.mlp2_scales, s.mlp2_scales));
        TLLM_RETURN_IF_ERROR(alloc(l.mlp2_bias, s.mlp2_bias));
    }
    return {};
}

Result<std::unique_ptr<CudaWeights>>
CudaWeights::upload(const cuda::CudaContext& context, const ModelWeights& weights, uint64_t reserve_bytes) {
    const GptOssConfig& c = weights.config();
    TLLM_RETURN_IF_ERROR(check_memory(context, device_bytes(c) + reserve_bytes, "the model's weights"));
    std::unique_ptr<CudaWeights> out(new CudaWeights(c));
    TLLM_RETURN_IF_ERROR(out->allocate(context));
    TLLM_RETURN_IF_ERROR(upload_view(out->embedding_, weights.global(WeightKind::kEmbedding)));
    TLLM_RETURN_IF_ERROR(upload_view(out->unembedding_, weights.global(WeightKind::kUnembedding)));
    TLLM_RETURN_IF_ERROR(upload_view(out->final_norm_, weights.global(WeightKind::kFinalNorm)));
    for (int64_t i = 0; i < c.n_layers; ++i) {
        CudaLayerWeights& l = out->layers_[static_cast<size_t>(i)];
        auto w = [&](WeightKind kind) -> const TensorView& { return weights.layer(i, kind); };
        TLLM_RETURN_IF_ERROR(upload_view(l.attn_norm, w(WeightKind::kAttnNorm)));
        // q, k and v rows one after the other: the fused matrix of the original layout.
        const TensorView& q = w(WeightKind::kQWeight);
        const TensorView& k = w(WeightKind::kKWeight);
        TLLM_RETURN_IF_ERROR(upload_view(l.qkv_weight, q));
        TLLM_RETURN_IF_ERROR(upload_view(l.qkv_weight, k, q.n_bytes()));
        TLLM_RETURN_IF_ERROR(upload_view(l.qkv_weight, w(WeightKind::kVWeight), q.n_bytes() + k.n_bytes()));
        const TensorView& qb = w(WeightKind::kQBias);
        const TensorView& kb = w(WeightKind::kKBias);
        TLLM_RETURN_IF_ERROR(upload_view(l.qkv_bias, qb));
        TLLM_RETURN_IF_ERROR(upload_view(l.qkv_bias, kb, qb.n_bytes()));
        TLLM_RETURN_IF_ERROR(upload_view(l.qkv_bias, w(WeightKind::kVBias), qb.n_bytes() + kb.n_bytes()));
        TLLM_RETURN_IF_ERROR(upload_view(l.sinks, w(WeightKind::kSinks)));
        TLLM_RETURN_IF_ERROR(upload_view(l.out_weight, w(WeightKind::kOutWeight)));
        TLLM_RETURN_IF_ERROR(upload_view(l.out_bias, w(WeightKind::kOutBias)));
        TLLM_RETURN_IF_ERROR(upload_view(l.mlp_norm, w(WeightKind::kMlpNorm)));
        TLLM_RETURN_IF_ERROR(upload_view(l.router_weight, w(WeightKind::kRouterWeight)));
        TLLM_RETURN_IF_ERROR(upload_view(l.router_bias, w(WeightKind::kRouterBias)));
        TLLM_RETURN_IF_ERROR(upload_view(l.mlp1_blocks, w(WeightKind::kMlp1Blocks)));
        TLLM_RETURN_IF_ERROR(upload_view(l.mlp1_scales, w(WeightKind::kMlp1Scales)));
        TLLM_RETURN_IF_ERROR(upload_view(l.mlp1_bias, w(WeightKind::kMlp1Bias)));
        TLLM_RETURN_IF_ERROR(upload_view(l.mlp2_blocks, w(WeightKind::kMlp2Blocks)));
        TLLM_RETURN_IF_ERROR(upload_view(l.mlp2_scales, w(WeightKind::kMlp2Scales)));
        TLLM_RETURN_IF_ERROR(upload_view(l.mlp2_bias, w(WeightKind::kMlp2Bias)));
    }
    TLLM_LOG_INFO("weights on {}: {:.2f} GiB", context.info().name, static_cast<double>(device_bytes(c)) / kGiB);
    return out;
}

Result<std::unique_ptr<CudaWeights>> CudaWeights::synthetic(const cuda::CudaContext& context,
                                                            const cuda::OpKernels& kernels,
                                                            const GptOssConfig& c,
                                                            uint64_t seed,
                                                            uint64_t reserve_bytes) {
    TLLM_RETURN_IF_ERROR(check_memory(context, device_bytes(c) + reserve_bytes, "the synthetic model's weights"));
    std::unique_ptr<CudaWeights> out(new CudaWeights(c));
    TLLM_RETURN_IF_ERROR(out->allocate(context));
    uint64_t stream_index = 0;
    // Each tensor gets its own stream of the counter hash.
    auto bf16 = [&](const cuda::DeviceBuffer& buffer, WeightKind kind) -> Status {
        const SynthRange range = synth_bf16_range(c, kind);
        return kernels.bf16_fill_uniform(nullptr, buffer.as<uint16_t>(), buffer.bytes() / 2,
                                         seed * 0x100000001b3ull + ++stream_index, range.low, range.high);
    };
    auto codes = [&](const cuda::DeviceBuffer& buffer) -> Status {
        return kernels.u8_fill_uniform(nullptr, buffer.as<uint8_t>(), buffer.bytes(),
                                       seed * 0x100000001b3ull + ++stream_index, 0, 255);
    };
    auto scales = [&](const cuda::DeviceBuffer& buffer, int64_t fan_in) -> Status {
        const uint32_t centre = synth_scale_centre(fan_in);
        return kernels.u8_fill_uniform(nullptr, buffer.as<uint8_t>(), buffer.bytes(),
                                       seed * 0x100000001b3ull + ++stream_index, centre - 1, centre + 1);
    };
    TLLM_RETURN_IF_ERROR(bf16(out->embedding_, WeightKind::kEmbedding));
    TLLM_RETURN_IF_ERROR(bf16(out->unembedding_, WeightKind::kUnembedding));
    TLLM_RETURN_IF_ERROR(bf16(out->final_norm_, WeightKind::kFinalNorm));
    for (CudaLayerWeights& l : out->layers_) {
        TLLM_RETURN_IF_ERROR(bf16(l.attn_norm, WeightKind::kAttnNorm));
        TLLM_RETURN_IF_ERROR(bf16(l.qkv_weight, WeightKind::kQWeight));
        TLLM_RETURN_IF_ERROR(bf16(l.qkv_bias, WeightKind::kQBias));
        TLLM_RETURN_IF_ERROR(bf16(l.sinks, WeightKind::kSinks));
        TLLM_RETURN_IF_ERROR(bf16(l.out_weight, WeightKind::kOutWeight));
        TLLM_RETURN_IF_ERROR(bf16(l.out_bias, WeightKind::kOutBias));
        TLLM_RETURN_IF_ERROR(bf16(l.mlp_norm, WeightKind::kMlpNorm));
        TLLM_RETURN_IF_ERROR(bf16(l.router_weight, WeightKind::kRouterWeight));
        TLLM_RETURN_IF_ERROR(bf16(l.router_bias, WeightKind::kRouterBias));
        TLLM_RETURN_IF_ERROR(codes(l.mlp1_blocks));
        TLLM_RETURN_IF_ERROR(scales(l.mlp1_scales, c.hidden_size));
        TLLM_RETURN_IF_ERROR(bf16(l.mlp1_bias, WeightKind::kMlp1Bias));
        TLLM_RETURN_IF_ERROR(codes(l.mlp2_blocks));
        TLLM_RETURN_IF_ERROR(scales(l.mlp2_scales, c.intermediate_size));
        TLLM_RETURN_IF_ERROR(bf16(l.mlp2_bias, WeightKind::kMlp2Bias));
    }
    TLLM_CU_RETURN(context.driver(), cuCtxSynchronize());
    TLLM_LOG_INFO("synthetic weights on {}: {:.2f} GiB (random values, seed {})", context.info().name,
                  static_cast<double>(device_bytes(c)) / kGiB, seed);
    return out;
}

uint64_t CudaKvCache::device_bytes(const GptOssConfig& c, int64_t max_context, DType dtype) {
    return 2 * static_cast<uint64_t>(c.n_layers) * static_cast<uint64_t>(max_context) *
           static_cast<uint64_t>(c.kv_width()) * dtype_size(dtype);
}

Result<std::unique_ptr<CudaKvCache>>
CudaKvCache::create(const cuda::CudaContext& context, const GptOssConfig& c, int64_t max_context, DType dtype) {
    TLLM_CHECK(max_context > 0, "KV cache of {} positions", max_context);
    TLLM_CHECK(dtype == DType::kBF16 || dtype == DType::kF32, "KV cache dtype {}", dtype_name(dtype));
    TLLM_RETURN_IF_ERROR(check_memory(context, device_bytes(c, max_context, dtype),
                                      fmt::format("a KV cache of {} positions", max_context).c_str()));
    std::unique_ptr<CudaKvCache> cache(new CudaKvCache());
    cache->dtype_ = dtype;
    cache->max_context_ = max_context;
    cache->layer_elements_ = max_context * c.kv_width();
    const uint64_t bytes = device_bytes(c, max_context, dtype) / 2;
    TLLM_ASSIGN_OR_RETURN(cache->keys_, cuda::DeviceBuffer::allocate(context, bytes));
    TLLM_ASSIGN_OR_RETURN(cache->values_, cuda::DeviceBuffer::allocate(context, bytes));
    return cache;
}

void CudaKvCache::set_length(int64_t length) {
    TLLM_CHECK(length >= 0 && length <= max_context_, "KV cache length {} outside [0, {}]", length, max_context_);
    length_ = length;
}

uint64_t
CudaPagedKvStore::device_bytes(const GptOssConfig& config, int32_t n_blocks, int32_t block_tokens, DType dtype) {
    return 2 * static_cast<uint64_t>(PagedKvLayout(config, n_blocks + 1, block_tokens).elements()) * dtype_size(dtype);
}

Result<std::unique_ptr<CudaPagedKvStore>> CudaPagedKvStore::create(
    const cuda::CudaContext& context, const GptOssConfig& config, int32_t n_blocks, int32_t block_tokens, DType dtype) {
    TLLM_CHECK(dtype == DType::kBF16 || dtype == DType::kF32, "paged KV cache of {}", dtype_name(dtype));
    const uint64_t bytes = device_bytes(config, n_blocks, block_tokens, dtype);
    TLLM_RETURN_IF_ERROR(check_memory(
        context, bytes, fmt::format("a paged KV cache of {} blocks of {} tokens", n_blocks, block_tokens).c_str()));
    std::unique_ptr<CudaPagedKvStore> store(
        new CudaPagedKvStore(PagedKvLayout(config, n_blocks + 1, block_tokens), dtype));
    TLLM_ASSIGN_OR_RETURN(store->keys_, cuda::DeviceBuffer::allocate(context, bytes / 2));
    TLLM_ASSIGN_OR_RETURN(store->values_, cuda::DeviceBuffer::allocate(context, bytes / 2));
    return store;
}

} // namespace tllm
