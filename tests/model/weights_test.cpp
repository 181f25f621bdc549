// Loading checkpoints in both layouts, and every kind of bad checkpoint giving one clear error.
#include "model/safetensors.h"
#include "model/weights.h"
#include "test_models.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace tllm {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Writes the tiny config's checkpoint tensor by tensor, letting a test alter one.
struct Mutation {
    std::string drop = {};    // tensor to leave out
    std::string extra = {};   // tensor to add
    std::string reshape = {}; // tensor whose first dimension gets +1
    std::string retype = {};  // tensor stored as F32 instead
};

void write_mutated(const std::string& directory, const Mutation& mutation) {
    GptOssConfig config = testing::golden_config("tiny");
    fs::create_directories(directory);
    SafetensorsWriter writer;
    for (StoredTensor tensor : layout_tensors(config, CheckpointLayout::kOriginal)) {
        if (tensor.name == mutation.drop) {
            continue;
        }
        if (tensor.name == mutation.reshape) {
            tensor.shape[0] += 1;
        }
        if (tensor.name == mutation.retype) {
            tensor.dtype = DType::kF32;
        }
        writer.add(tensor.name, tensor.dtype, tensor.shape,
                   [](uint64_t, std::span<uint8_t> out) { std::fill(out.begin(), out.end(), uint8_t{0x3c}); });
    }
    if (!mutation.extra.empty()) {
        writer.add(mutation.extra, DType::kBF16, {4},
                   [](uint64_t, std::span<uint8_t> out) { std::fill(out.begin(), out.end(), uint8_t{0}); });
    }
    ASSERT_TRUE(writer.write(directory + "/model.safetensors").ok());
    std::ofstream(directory + "/config.json") << config.to_json(ConfigForm::kOriginal);
}

Error load_error(const std::string& directory) {
    auto weights = ModelWeights::load(directory);
    EXPECT_FALSE(weights.ok());
    return weights.ok() ? Error(ErrorCode::kInternal, "loaded") : weights.error();
}

void expect_error(const Error& error, ErrorCode code, std::initializer_list<std::string> fragments) {
    EXPECT_EQ(error.code(), code) << error.to_string();
    for (const std::string& fragment : fragments) {
        EXPECT_NE(error.message().find(fragment), std::string::npos)
            << "missing '" << fragment << "' in " << error.message();
    }
}

TEST(Weights, LoadsBothLayoutsShardedOrNot) {
    TempDir dir;
    GptOssConfig config = testing::golden_config("tiny");
    testing::write_synthetic(config, CheckpointLayout::kOriginal, 1, dir / "original");
    testing::write_synthetic(config, CheckpointLayout::kHuggingFace, 1, dir / "hf", /*max_shard_bytes=*/200'000);
    ASSERT_TRUE(fs::exists(dir / "hf/model.safetensors.index.json"));
    ASSERT_TRUE(fs::exists(dir / "original/model.safetensors"));
    auto original = ModelWeights::load(dir / "original");
    ASSERT_TRUE(original.ok()) << original.error().to_string();
    auto hf = ModelWeights::load(dir / "hf");
    ASSERT_TRUE(hf.ok()) << hf.error().to_string();
    EXPECT_EQ((*original)->layout(), CheckpointLayout::kOriginal);
    EXPECT_EQ((*hf)->layout(), CheckpointLayout::kHuggingFace);
    // The same seed gives the same canonical weights in both layouts, byte for byte.
    for (int64_t layer = 0; layer < config.n_layers; ++layer) {
        for (WeightKind kind : layer_weight_kinds()) {
            const TensorView& a = (*original)->layer(layer, kind);
            const TensorView& b = (*hf)->layer(layer, kind);
            ASSERT_EQ(a.shape, b.shape);
            ASSERT_EQ(std::memcmp(a.data, b.data, a.n_bytes()), 0) << "layer " << layer << " kind " << int(kind);
        }
    }
    // A model root whose config lives in original/ resolves to it.
    fs::create_directories(dir / "root");
    fs::rename(dir / "original", dir / "root/original");
    auto root = ModelWeights::load(dir / "root");
    ASSERT_TRUE(root.ok()) << root.error().to_string();
    EXPECT_EQ((*root)->layout(), CheckpointLayout::kOriginal);
}

TEST(Weights, EmptyOrMissingDirectory) {
    TempDir dir;
    expect_error(load_error(dir.path()), ErrorCode::kNotFound, {dir.path(), "config.json"});
    expect_error(load_error(dir / "nope"), ErrorCode::kNotFound, {"not a directory"});
    std::ofstream(dir / "config.json") << testing::golden_config("tiny").to_json(ConfigForm::kOriginal);
    expect_error(load_error(dir.path()), ErrorCode::kNotFound, {dir.path()});
}

TEST(Weights, MalformedConfig) {
    TempDir dir;
    write_mutated(dir.path(), {});
    std::ofstream(dir / "config.json") << "{\"num_experts\": 6, ";
    expect_error(load_error(dir.path()), ErrorCode::kInvalidArgument, {"config.json", "JSON"});
}

TEST(Weights, MissingTensor) {
    TempDir dir;
    write_mutated(dir.path(), {.drop = "block.1.attn.sinks"});
    expect_error(load_error(dir.path()), ErrorCode::kNotFound, {"block.1.attn.sinks", "missing"});
}

TEST(Weights, ExtraTensor) {
    TempDir dir;
    write_mutated(dir.path(), {.extra = "block.7.attn.sinks"});
    expect_error(load_error(dir.path()), ErrorCode::kInvalidArgument, {"block.7.attn.sinks", "model.safetensors"});
}

TEST(Weights, WrongShape) {
    TempDir dir;
    write_mutated(dir.path(), {.reshape = "block.2.mlp.mlp1_weight.blocks"});
    expect_error(load_error(dir.path()), ErrorCode::kShapeMismatch,
                 {"block.2.mlp.mlp1_weight.blocks", "model.safetensors", "[7, 192, 4, 16]", "[6, 192, 4, 16]"});
}

TEST(Weights, WrongDtype) {
    TempDir dir;
    write_mutated(dir.path(), {.retype = "block.0.attn.qkv.weight"});
    expect_error(load_error(dir.path()), ErrorCode::kDtypeMismatch, {"block.0.attn.qkv.weight", "F32", "BF16"});
}

TEST(Weights, TruncatedShard) {
    TempDir dir;
    write_mutated(dir.path(), {});
    fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 100);
    expect_error(load_error(dir.path()), ErrorCode::kCorruptFile, {"model.safetensors"});
}

} // namespace
} // namespace tllm
