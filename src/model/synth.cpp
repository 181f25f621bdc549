#include "model/synth.h"

#include "core/check.h"
#include "core/dtype.h"
#include "core/log.h"
#include "core/random.h"
#include "model/safetensors.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace tllm {
namespace {

// A counter-based generator: the hash of (stream key, index). Addressable, so slices are cheap.
uint64_t hash_index(uint64_t key, uint64_t index) {
    uint64_t state = key ^ (index * 0xd1b54a32d192ed03ull);
    return splitmix64(state);
}

uint64_t stream_key(uint64_t seed, WeightKind kind, int64_t layer) {
    uint64_t state = seed;
    uint64_t a = splitmix64(state);
    state = a ^ (static_cast<uint64_t>(kind) + 1) * 0x9e3779b97f4a7c15ull;
    uint64_t b = splitmix64(state);
    state = b ^ (static_cast<uint64_t>(layer) + 1) * 0xc2b2ae3d27d4eb4full;
    return splitmix64(state);
}

// Value ranges chosen so activations stay O(1) through the layers, attention is far from uniform,
// sinks matter, and routing has clear (but not degenerate) preferences, as in a trained model.
} // namespace

SynthRange synth_bf16_range(const GptOssConfig& c, WeightKind kind) {
    auto fan_in = [](int64_t n) {
        float a = std::sqrt(3.0f / static_cast<float>(n)); // unit output variance for unit inputs
        return SynthRange{-a, a};
    };
    switch (kind) {
    case WeightKind::kEmbedding:
        return {-1.0f, 1.0f};
    case WeightKind::kUnembedding:
    case WeightKind::kQWeight:
    case WeightKind::kKWeight:
    case WeightKind::kVWeight:
    case WeightKind::kRouterWeight:
        return fan_in(c.hidden_size);
    case WeightKind::kOutWeight:
        return fan_in(c.q_width());
    case WeightKind::kFinalNorm:
    case WeightKind::kAttnNorm:
    case WeightKind::kMlpNorm:
        return {0.5f, 1.5f};
    case WeightKind::kSinks:
        return {-1.0f, 3.0f};
    case WeightKind::kQBias:
    case WeightKind::kKBias:
    case WeightKind::kVBias:
    case WeightKind::kOutBias:
    case WeightKind::kRouterBias:
    case WeightKind::kMlp1Bias:
    case WeightKind::kMlp2Bias:
        return {-0.25f, 0.25f};
    default:
        TLLM_UNREACHABLE("not a bf16 weight");
    }
}

// E8M0 exponent centre so that MXFP4 weights have about unit output variance for unit inputs:
// random E2M1 codes have RMS sqrt(68.5/8) ≈ 2.93.
uint8_t synth_scale_centre(int64_t fan_in) {
    double target = 1.0 / (std::sqrt(static_cast<double>(fan_in)) * 2.93);
    return static_cast<uint8_t>(127 + static_cast<int>(std::lround(std::log2(target))));
}

void synth_weight_bytes(const GptOssConfig& config,
                        uint64_t seed,
                        WeightKind kind,
                        int64_t layer,
                        uint64_t offset,
                        std::span<uint8_t> out) {
    const uint64_t key = stream_key(seed, kind, layer);
    switch (kind) {
    case WeightKind::kMlp1Blocks:
    case WeightKind::kMlp2Blocks: {
        uint64_t word_index = ~uint64_t{0};
        uint64_t word = 0;
        for (size_t i = 0; i < out.size(); ++i) {
            uint64_t byte_index = offset + i;
            if (byte_index / 8 != word_index) {
                word_index = byte_index / 8;
                word = hash_index(key, word_index);
            }
            out[i] = static_cast<uint8_t>(word >> (8 * (byte_index % 8)));
        }
        return;
    }
    case WeightKind::kMlp1Scales:
    case WeightKind::kMlp2Scales: {
        int64_t fan_in = kind == WeightKind::kMlp1Scales ? config.hidden_size : config.intermediate_size;
        uint8_t centre = synth_scale_centre(fan_in);
        for (size_t i = 0; i < out.size(); ++i) {
            out[i] = static_cast<uint8_t>(centre - 1 + static_cast<int>(hash_index(key, offset + i) % 3));
        }
        return;
    }
    default:
        break;
    }
    // bf16: element e occupies bytes [2e, 2e + 2).
    const SynthRange range = synth_bf16_range(config, kind);
    auto value_bits = [&](uint64_t element) {
        float u = static_cast<float>(hash_index(key, element) >> 40) * (1.0f / 16777216.0f);
        return f32_to_bf16_bits(range.low + (range.high - range.low) * u);
    };
    size_t i = 0;
    while (i < out.size()) {
        uint64_t byte_index = offset + i;
        uint16_t bits = value_bits(byte_index / 2);
        if (byte_index % 2 == 0) {
            out[i++] = static_cast<uint8_t>(bits & 0xff);
            if (i < out.size()) {
                out[i++] = static_cast<uint8_t>(bits >> 8);
            }
        } else {
            out[i++] = static_cast<uint8_t>(bits >> 8);
        }
    }
}

Status
write_synthetic_checkpoint(const GptOssConfig& config, const SynthOptions& options, const std::string& directory) {
    TLLM_RETURN_IF_ERROR(config.validate());
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(directory, ec);
    if (ec) {
        return make_error(ErrorCode::kIoError, "{}: cannot create directory: {}", directory, ec.message());
    }
    const CheckpointLayout layout = options.layout;
    const uint64_t max_shard_bytes =
        options.max_shard_bytes
            ? options.max_shard_bytes
            : (layout == CheckpointLayout::kOriginal ? uint64_t{14'000'000'000} : uint64_t{5'000'000'000});

    // Each stored tensor is generated from the canonical weights it is made of (the fused qkv
    // concatenates the q, k and v projections).
    struct Part {
        WeightKind kind;
        int64_t layer;
        uint64_t n_bytes;
    };
    auto parts_of = [&](const StoredTensor& stored) {
        std::vector<Part> parts;
        auto add = [&](WeightKind kind, int64_t layer) {
            CanonicalLocation location = locate_weight(config, layout, kind, layer);
            parts.push_back(
                {kind, layer, static_cast<uint64_t>(shape_numel(location.shape)) * dtype_size(location.dtype)});
        };
        for (WeightKind kind : global_weight_kinds()) {
            if (locate_weight(config, layout, kind, 0).stored_name == stored.name) {
                add(kind, 0);
                return parts;
            }
        }
        for (int64_t layer = 0; layer < config.n_layers; ++layer) {
            for (WeightKind kind : layer_weight_kinds()) {
                if (locate_weight(config, layout, kind, layer).stored_name == stored.name) {
                    add(kind, layer); // layer_weight_kinds() lists q, k, v in stored order
                }
            }
            if (!parts.empty()) {
                return parts;
            }
        }
        TLLM_UNREACHABLE("stored tensor {} maps to no weight", stored.name);
    };

    std::vector<SafetensorsWriter> shards(1);
    uint64_t shard_bytes = 0;
    std::vector<std::pair<std::string, size_t>> tensor_shard; // name -> shard index
    for (const StoredTensor& stored : layout_tensors(config, layout)) {
        std::vector<Part> parts = parts_of(stored);
        uint64_t n_bytes = static_cast<uint64_t>(shape_numel(stored.shape)) * dtype_size(stored.dtype);
        if (shard_bytes > 0 && shard_bytes + n_bytes > max_shard_bytes) {
            shards.emplace_back();
            shard_bytes = 0;
        }
        shard_bytes += n_bytes;
        const uint64_t seed = options.seed;
        shards.back().add(stored.name, stored.dtype, stored.shape,
                          [&config, seed, parts](uint64_t offset, std::span<uint8_t> out) {
                              uint64_t part_begin = 0;
                              for (const Part& part : parts) {
                                  uint64_t part_end = part_begin + part.n_bytes;
                                  uint64_t begin = std::max(offset, part_begin);
                                  uint64_t end = std::min<uint64_t>(offset + out.size(), part_end);
                                  if (begin < end) {
                                      synth_weight_bytes(config, seed, part.kind, part.layer, begin - part_begin,
                                                         out.subspan(begin - offset, end - begin));
                                  }
                                  part_begin = part_end;
                              }
                          });
        tensor_shard.emplace_back(stored.name, shards.size() - 1);
    }

    auto shard_name = [&](size_t index) {
        if (shards.size() == 1) {
            return std::string("model.safetensors");
        }
        return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, shards.size());
    };
    uint64_t total = 0;
    for (size_t i = 0; i < shards.size(); ++i) {
        shards[i].set_metadata("format", "pt");
        std::string path = (fs::path(directory) / shard_name(i)).string();
        TLLM_LOG_INFO("writing {} ({:.2f} GB)", path, static_cast<double>(shards[i].data_bytes()) / 1e9);
        TLLM_RETURN_IF_ERROR(shards[i].write(path));
        total += shards[i].data_bytes();
    }
    if (shards.size() > 1) {
        nlohmann::json index;
        index["metadata"] = {{"total_size", total}};
        for (const auto& [name, shard] : tensor_shard) {
            index["weight_map"][name] = shard_name(shard);
        }
        std::string text = index.dump(2) + "\n";
        TLLM_RETURN_IF_ERROR(write_file_atomically((fs::path(directory) / "model.safetensors.index.json").string(),
                                                   {reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
    }
    std::string config_text =
        config.to_json(layout == CheckpointLayout::kOriginal ? ConfigForm::kOriginal : ConfigForm::kHuggingFace);
    TLLM_RETURN_IF_ERROR(
        write_file_atomically((fs::path(directory) / "config.json").string(),
                              {reinterpret_cast<const uint8_t*>(config_text.data()), config_text.size()}));
    return {};
}

} // namespace tllm
