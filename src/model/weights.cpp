#include "model/weights.h"

#include "core/log.h"

#include <filesystem>
#include <set>

namespace tllm {

Result<std::string> resolve_model_directory(const std::string& directory) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(directory, ec)) {
        return make_error(ErrorCode::kNotFound, "{}: not a directory", directory);
    }
    if (fs::exists(fs::path(directory) / "config.json", ec)) {
        return directory;
    }
    fs::path original = fs::path(directory) / "original";
    if (fs::exists(original / "config.json", ec)) {
        return original.string();
    }
    return make_error(ErrorCode::kNotFound, "{}: no config.json here or in original/ (is this a gpt-oss model?)",
                      directory);
}

Result<std::unique_ptr<ModelWeights>> ModelWeights::load(const std::string& requested_directory) {
    TLLM_ASSIGN_OR_RETURN(std::string directory, resolve_model_directory(requested_directory));
    const std::string config_path = (std::filesystem::path(directory) / "config.json").string();
    TLLM_ASSIGN_OR_RETURN(GptOssConfig config, load_config_file(config_path));
    TLLM_ASSIGN_OR_RETURN(SafetensorsCheckpoint checkpoint, SafetensorsCheckpoint::open_directory(directory));

    std::unique_ptr<ModelWeights> weights(new ModelWeights());
    weights->directory_ = directory;
    weights->config_ = config;
    if (checkpoint.find("embedding.weight") != nullptr) {
        weights->layout_ = CheckpointLayout::kOriginal;
    } else if (checkpoint.find("model.embed_tokens.weight") != nullptr) {
        weights->layout_ = CheckpointLayout::kHuggingFace;
    } else {
        return make_error(ErrorCode::kNotFound,
                          "{}: neither \"embedding.weight\" (original layout) nor \"model.embed_tokens.weight\" "
                          "(Hugging Face layout) is in the checkpoint",
                          directory);
    }
    const CheckpointLayout layout = weights->layout_;

    // Every stored tensor must be exactly as the layout says, and nothing else may be there.
    std::set<std::string> expected_names;
    for (const StoredTensor& expected : layout_tensors(config, layout)) {
        expected_names.insert(expected.name);
        const SafetensorsFile* file = nullptr;
        const SafetensorsTensorInfo* info = checkpoint.find(expected.name, &file);
        if (info == nullptr) {
            return make_error(ErrorCode::kNotFound, "{}: missing tensor \"{}\" ({} {}, {} layout)", directory,
                              expected.name, dtype_name(expected.dtype), shape_to_string(expected.shape),
                              layout_name(layout));
        }
        if (info->dtype != expected.dtype) {
            return make_error(ErrorCode::kDtypeMismatch, "{}: tensor \"{}\" has dtype {}, expected {}", file->path(),
                              expected.name, dtype_name(info->dtype), dtype_name(expected.dtype));
        }
        if (info->shape != expected.shape) {
            return make_error(ErrorCode::kShapeMismatch, "{}: tensor \"{}\" has shape {}, expected {} for {}",
                              file->path(), expected.name, shape_to_string(info->shape),
                              shape_to_string(expected.shape), config_path);
        }
        weights->total_bytes_ += info->end - info->begin;
    }
    for (const std::string& name : checkpoint.tensor_names()) {
        if (!expected_names.contains(name)) {
            const SafetensorsFile* file = nullptr;
            checkpoint.find(name, &file);
            return make_error(ErrorCode::kInvalidArgument,
                              "{}: unexpected tensor \"{}\" (not part of a {}-layer {} layout checkpoint)",
                              file->path(), name, config.n_layers, layout_name(layout));
        }
    }

    auto view_of = [&](WeightKind kind, int64_t layer) {
        CanonicalLocation location = locate_weight(config, layout, kind, layer);
        const SafetensorsFile* file = nullptr;
        const SafetensorsTensorInfo* info = checkpoint.find(location.stored_name, &file);
        TensorView stored = file->view(*info);
        TensorView view;
        view.dtype = location.dtype;
        view.shape = location.shape;
        size_t row_bytes = stored.n_bytes() / static_cast<size_t>(stored.shape[0]);
        view.data = static_cast<const uint8_t*>(stored.data) + static_cast<size_t>(location.row_offset) * row_bytes;
        return view;
    };
    for (WeightKind kind : global_weight_kinds()) {
        weights->globals_[static_cast<size_t>(kind)] = view_of(kind, 0);
    }
    weights->layers_.resize(static_cast<size_t>(config.n_layers));
    for (int64_t layer = 0; layer < config.n_layers; ++layer) {
        for (WeightKind kind : layer_weight_kinds()) {
            weights->layers_[static_cast<size_t>(layer)][static_cast<size_t>(kind)] = view_of(kind, layer);
        }
    }
    weights->checkpoint_ = std::move(checkpoint);
    TLLM_LOG_INFO("loaded {} ({} layout, {} layers, {} experts, {:.2f} GB)", directory, layout_name(layout),
                  config.n_layers, config.n_experts, static_cast<double>(weights->total_bytes_) / 1e9);
    return weights;
}

} // namespace tllm
