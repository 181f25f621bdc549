// Synthetic gpt-oss checkpoints: the real tensor names, shapes, dtypes and sharding with seeded
// random values, so that every test and benchmark can run without the real weights. Each value is
// a pure function of (seed, canonical weight, layer, element index), so both layouts of one seed
// hold identical weights and any slice can be generated independently.
#pragma once

#include "core/result.h"
#include "model/checkpoint_layout.h"
#include "model/config.h"

#include <cstdint>
#include <span>
#include <string>

namespace tllm {

struct SynthOptions {
    CheckpointLayout layout = CheckpointLayout::kOriginal;
    uint64_t seed = 0;
    // Shards are cut at tensor boundaries once a shard passes this size; one shard is written as
    // model.safetensors, several as model-0000i-of-0000N.safetensors plus an index.
    uint64_t max_shard_bytes = 0; // 0: the layout's default (original 14e9, hf 5e9, as published)
};

Status
write_synthetic_checkpoint(const GptOssConfig& config, const SynthOptions& options, const std::string& directory);

// Fills `out` with bytes [offset, offset + out.size()) of the canonical weight (canonical layout,
// row-major, little-endian).
void synth_weight_bytes(
    const GptOssConfig& config, uint64_t seed, WeightKind kind, int64_t layer, uint64_t offset, std::span<uint8_t> out);

// The value distributions behind synth_weight_bytes, for generators elsewhere (the GPU's synthetic
// weights): bf16 weights are uniform in a range; MXFP4 codes are uniform bytes and scales are the
// E8M0 centre −1, 0 or +1 for the product's fan-in.
struct SynthRange {
    float low;
    float high;
};
SynthRange synth_bf16_range(const GptOssConfig& config, WeightKind kind);
uint8_t synth_scale_centre(int64_t fan_in);

} // namespace tllm
