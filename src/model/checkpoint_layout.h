// The tensor names and shapes of a gpt-oss checkpoint in its two published layouts.
#pragma once

#include "core/dtype.h"
#include "core/tensor.h"
#include "model/config.h"

#include <string>
#include <vector>

namespace tllm {

enum class CheckpointLayout {
    kOriginal,    // OpenAI's original/: fused qkv, block.N.*
    kHuggingFace, // model.layers.N.*, separate q/k/v projections
};

const char* layout_name(CheckpointLayout layout); // "original" / "hf"

// One tensor as stored. A canonical tensor (e.g. a layer's q projection) may be a row range of a
// stored one (the original layout's fused qkv): `canonical_rows` says which rows of which stored
// tensor hold it.
struct StoredTensor {
    std::string name;
    DType dtype;
    Shape shape;
};

// Every tensor the layout stores for `config`, in file order (the order the reference writes).
std::vector<StoredTensor> layout_tensors(const GptOssConfig& config, CheckpointLayout layout);

// Canonical weights, layout-independent. Each maps to a stored name and a row offset in it.
enum class WeightKind {
    kEmbedding,    // [vocab, hidden] bf16
    kUnembedding,  // [vocab, hidden] bf16
    kFinalNorm,    // [hidden] bf16
    kAttnNorm,     // [hidden] bf16
    kQWeight,      // [q_width, hidden] bf16
    kKWeight,      // [kv_width, hidden] bf16
    kVWeight,      // [kv_width, hidden] bf16
    kQBias,        // [q_width] bf16
    kKBias,        // [kv_width] bf16
    kVBias,        // [kv_width] bf16
    kSinks,        // [n_heads] bf16
    kOutWeight,    // [hidden, q_width] bf16
    kOutBias,      // [hidden] bf16
    kMlpNorm,      // [hidden] bf16
    kRouterWeight, // [n_experts, hidden] bf16
    kRouterBias,   // [n_experts] bf16
    kMlp1Blocks,   // [n_experts, 2·intermediate, hidden/32, 16] u8 (rows interleave gate, linear)
    kMlp1Scales,   // [n_experts, 2·intermediate, hidden/32] u8
    kMlp1Bias,     // [n_experts, 2·intermediate] bf16
    kMlp2Blocks,   // [n_experts, hidden, intermediate/32, 16] u8
    kMlp2Scales,   // [n_experts, hidden, intermediate/32] u8
    kMlp2Bias,     // [n_experts, hidden] bf16
};

struct CanonicalLocation {
    std::string stored_name;
    int64_t row_offset = 0; // first row (outermost index) inside the stored tensor
    DType dtype;
    Shape shape; // the canonical tensor's shape
};

// layer is ignored for the global tensors (embedding, unembedding, final norm).
CanonicalLocation locate_weight(const GptOssConfig& config, CheckpointLayout layout, WeightKind kind, int64_t layer);

// Every canonical weight of one layer, and the global ones.
std::vector<WeightKind> layer_weight_kinds();
std::vector<WeightKind> global_weight_kinds();

} // namespace tllm
