// A gpt-oss checkpoint loaded from disk: config, memory-mapped shards and typed views of every
// weight, validated against the config. Views point into the maps; nothing is copied.
#pragma once

#include "core/result.h"
#include "core/tensor.h"
#include "model/checkpoint_layout.h"
#include "model/config.h"
#include "model/safetensors.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace tllm {

inline constexpr size_t kNumWeightKinds = static_cast<size_t>(WeightKind::kMlp2Bias) + 1;

class ModelWeights {
  public:
    // `directory` is a model root holding config.json and safetensors shards (either layout), or an
    // original/ folder. A root without config.json but with original/config.json uses original/.
    static Result<std::unique_ptr<ModelWeights>> load(const std::string& directory);

    const GptOssConfig& config() const { return config_; }
    CheckpointLayout layout() const { return layout_; }
    const std::string& directory() const { return directory_; }
    const TensorView& global(WeightKind kind) const { return globals_[static_cast<size_t>(kind)]; }
    const TensorView& layer(int64_t layer, WeightKind kind) const {
        return layers_[static_cast<size_t>(layer)][static_cast<size_t>(kind)];
    }
    // Bytes of every stored tensor (what the checkpoint occupies).
    uint64_t total_bytes() const { return total_bytes_; }

  private:
    ModelWeights() = default;

    std::string directory_;
    GptOssConfig config_;
    CheckpointLayout layout_ = CheckpointLayout::kOriginal;
    SafetensorsCheckpoint checkpoint_;
    std::array<TensorView, kNumWeightKinds> globals_{};
    std::vector<std::array<TensorView, kNumWeightKinds>> layers_;
    uint64_t total_bytes_ = 0;
};

// Finds the directory that holds config.json (the given one, or its original/ folder).
Result<std::string> resolve_model_directory(const std::string& directory);

} // namespace tllm
