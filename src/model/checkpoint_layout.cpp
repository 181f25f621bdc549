#include "model/checkpoint_layout.h"

#include "core/check.h"

#include <fmt/format.h>

namespace tllm {
namespace {

Shape canonical_shape(const GptOssConfig& c, WeightKind kind) {
    const int64_t e = c.n_experts, h = c.hidden_size, i = c.intermediate_size;
    switch (kind) {
    case WeightKind::kEmbedding:
    case WeightKind::kUnembedding:
        return {c.vocab_size, h};
    case WeightKind::kFinalNorm:
    case WeightKind::kAttnNorm:
    case WeightKind::kMlpNorm:
    case WeightKind::kOutBias:
        return {h};
    case WeightKind::kQWeight:
        return {c.q_width(), h};
    case WeightKind::kKWeight:
    case WeightKind::kVWeight:
        return {c.kv_width(), h};
    case WeightKind::kQBias:
        return {c.q_width()};
    case WeightKind::kKBias:
    case WeightKind::kVBias:
        return {c.kv_width()};
    case WeightKind::kSinks:
        return {c.n_heads};
    case WeightKind::kOutWeight:
        return {h, c.q_width()};
    case WeightKind::kRouterWeight:
        return {e, h};
    case WeightKind::kRouterBias:
        return {e};
    case WeightKind::kMlp1Blocks:
        return {e, 2 * i, h / kMxfp4BlockSize, kMxfp4BlockBytes};
    case WeightKind::kMlp1Scales:
        return {e, 2 * i, h / kMxfp4BlockSize};
    case WeightKind::kMlp1Bias:
        return {e, 2 * i};
    case WeightKind::kMlp2Blocks:
        return {e, h, i / kMxfp4BlockSize, kMxfp4BlockBytes};
    case WeightKind::kMlp2Scales:
        return {e, h, i / kMxfp4BlockSize};
    case WeightKind::kMlp2Bias:
        return {e, h};
    }
    TLLM_UNREACHABLE("unknown weight kind");
}

DType canonical_dtype(WeightKind kind) {
    switch (kind) {
    case WeightKind::kMlp1Blocks:
    case WeightKind::kMlp1Scales:
    case WeightKind::kMlp2Blocks:
    case WeightKind::kMlp2Scales:
        return DType::kU8;
    default:
        return DType::kBF16;
    }
}

std::string original_name(WeightKind kind, int64_t layer, int64_t& row_offset, const GptOssConfig& c) {
    row_offset = 0;
    const std::string block = fmt::format("block.{}.", layer);
    switch (kind) {
    case WeightKind::kEmbedding:
        return "embedding.weight";
    case WeightKind::kUnembedding:
        return "unembedding.weight";
    case WeightKind::kFinalNorm:
        return "norm.scale";
    case WeightKind::kAttnNorm:
        return block + "attn.norm.scale";
    case WeightKind::kQWeight:
        return block + "attn.qkv.weight";
    case WeightKind::kKWeight:
        row_offset = c.q_width();
        return block + "attn.qkv.weight";
    case WeightKind::kVWeight:
        row_offset = c.q_width() + c.kv_width();
        return block + "attn.qkv.weight";
    case WeightKind::kQBias:
        return block + "attn.qkv.bias";
    case WeightKind::kKBias:
        row_offset = c.q_width();
        return block + "attn.qkv.bias";
    case WeightKind::kVBias:
        row_offset = c.q_width() + c.kv_width();
        return block + "attn.qkv.bias";
    case WeightKind::kSinks:
        return block + "attn.sinks";
    case WeightKind::kOutWeight:
        return block + "attn.out.weight";
    case WeightKind::kOutBias:
        return block + "attn.out.bias";
    case WeightKind::kMlpNorm:
        return block + "mlp.norm.scale";
    case WeightKind::kRouterWeight:
        return block + "mlp.gate.weight";
    case WeightKind::kRouterBias:
        return block + "mlp.gate.bias";
    case WeightKind::kMlp1Blocks:
        return block + "mlp.mlp1_weight.blocks";
    case WeightKind::kMlp1Scales:
        return block + "mlp.mlp1_weight.scales";
    case WeightKind::kMlp1Bias:
        return block + "mlp.mlp1_bias";
    case WeightKind::kMlp2Blocks:
        return block + "mlp.mlp2_weight.blocks";
    case WeightKind::kMlp2Scales:
        return block + "mlp.mlp2_weight.scales";
    case WeightKind::kMlp2Bias:
        return block + "mlp.mlp2_bias";
    }
    TLLM_UNREACHABLE("unknown weight kind");
}

std::string hf_name(WeightKind kind, int64_t layer) {
    const std::string prefix = fmt::format("model.layers.{}.", layer);
    switch (kind) {
    case WeightKind::kEmbedding:
        return "model.embed_tokens.weight";
    case WeightKind::kUnembedding:
        return "lm_head.weight";
    case WeightKind::kFinalNorm:
        return "model.norm.weight";
    case WeightKind::kAttnNorm:
        return prefix + "input_layernorm.weight";
    case WeightKind::kQWeight:
        return prefix + "self_attn.q_proj.weight";
    case WeightKind::kKWeight:
        return prefix + "self_attn.k_proj.weight";
    case WeightKind::kVWeight:
        return prefix + "self_attn.v_proj.weight";
    case WeightKind::kQBias:
        return prefix + "self_attn.q_proj.bias";
    case WeightKind::kKBias:
        return prefix + "self_attn.k_proj.bias";
    case WeightKind::kVBias:
        return prefix + "self_attn.v_proj.bias";
    case WeightKind::kSinks:
        return prefix + "self_attn.sinks";
    case WeightKind::kOutWeight:
        return prefix + "self_attn.o_proj.weight";
    case WeightKind::kOutBias:
        return prefix + "self_attn.o_proj.bias";
    case WeightKind::kMlpNorm:
        return prefix + "post_attention_layernorm.weight";
    case WeightKind::kRouterWeight:
        return prefix + "mlp.router.weight";
    case WeightKind::kRouterBias:
        return prefix + "mlp.router.bias";
    case WeightKind::kMlp1Blocks:
        return prefix + "mlp.experts.gate_up_proj_blocks";
    case WeightKind::kMlp1Scales:
        return prefix + "mlp.experts.gate_up_proj_scales";
    case WeightKind::kMlp1Bias:
        return prefix + "mlp.experts.gate_up_proj_bias";
    case WeightKind::kMlp2Blocks:
        return prefix + "mlp.experts.down_proj_blocks";
    case WeightKind::kMlp2Scales:
        return prefix + "mlp.experts.down_proj_scales";
    case WeightKind::kMlp2Bias:
        return prefix + "mlp.experts.down_proj_bias";
    }
    TLLM_UNREACHABLE("unknown weight kind");
}

} // namespace

const char* layout_name(CheckpointLayout layout) { return layout == CheckpointLayout::kOriginal ? "original" : "hf"; }

std::vector<WeightKind> layer_weight_kinds() {
    return {WeightKind::kAttnNorm,   WeightKind::kQWeight,    WeightKind::kKWeight,    WeightKind::kVWeight,
            WeightKind::kQBias,      WeightKind::kKBias,      WeightKind::kVBias,      WeightKind::kSinks,
            WeightKind::kOutWeight,  WeightKind::kOutBias,    WeightKind::kMlpNorm,    WeightKind::kRouterWeight,
            WeightKind::kRouterBias, WeightKind::kMlp1Blocks, WeightKind::kMlp1Scales, WeightKind::kMlp1Bias,
            WeightKind::kMlp2Blocks, WeightKind::kMlp2Scales, WeightKind::kMlp2Bias};
}

std::vector<WeightKind> global_weight_kinds() {
    return {WeightKind::kEmbedding, WeightKind::kFinalNorm, WeightKind::kUnembedding};
}

CanonicalLocation locate_weight(const GptOssConfig& config, CheckpointLayout layout, WeightKind kind, int64_t layer) {
    CanonicalLocation location;
    location.dtype = canonical_dtype(kind);
    location.shape = canonical_shape(config, kind);
    if (layout == CheckpointLayout::kOriginal) {
        location.stored_name = original_name(kind, layer, location.row_offset, config);
    } else {
        location.stored_name = hf_name(kind, layer);
    }
    return location;
}

std::vector<StoredTensor> layout_tensors(const GptOssConfig& config, CheckpointLayout layout) {
    std::vector<StoredTensor> tensors;
    auto add_stored = [&](WeightKind kind, int64_t layer) {
        CanonicalLocation location = locate_weight(config, layout, kind, layer);
        if (location.row_offset != 0) {
            return; // a later part of a fused tensor: stored once, under its first part
        }
        Shape shape = location.shape;
        if (layout == CheckpointLayout::kOriginal && (kind == WeightKind::kQWeight || kind == WeightKind::kQBias)) {
            shape[0] = config.q_width() + 2 * config.kv_width();
        }
        tensors.push_back({location.stored_name, location.dtype, shape});
    };
    add_stored(WeightKind::kEmbedding, 0);
    for (int64_t layer = 0; layer < config.n_layers; ++layer) {
        for (WeightKind kind : layer_weight_kinds()) {
            add_stored(kind, layer);
        }
    }
    add_stored(WeightKind::kFinalNorm, 0);
    add_stored(WeightKind::kUnembedding, 0);
    return tensors;
}

} // namespace tllm
