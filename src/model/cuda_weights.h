// gpt-oss weights on the GPU, in their checkpoint formats: bf16 matrices and MXFP4 experts are copied
// byte for byte (the experts are never expanded), except that q, k and v are stored as one fused
// [q_width + 2·kv_width, hidden] matrix so that one kernel computes all three. Also the per-sequence
// KV cache on the GPU, and the paged KV memory that many sequences share (issue 13).
#pragma once

#include "core/check.h"
#include "core/result.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/ops.h"
#include "model/config.h"
#include "model/paged_kv_store.h"
#include "model/weights.h"

#include <cstdint>
#include <memory>
#include <tuple>
#include <type_traits>
#include <vector>

namespace tllm {

struct CudaLayerWeights {
    cuda::DeviceBuffer attn_norm;     // [hidden] bf16
    cuda::DeviceBuffer qkv_weight;    // [q_width + 2·kv_width, hidden] bf16
    cuda::DeviceBuffer qkv_bias;      // [q_width + 2·kv_width] bf16
    cuda::DeviceBuffer sinks;         // [n_heads] bf16
    cuda::DeviceBuffer out_weight;    // [hidden, q_width] bf16
    cuda::DeviceBuffer out_bias;      // [hidden] bf16
    cuda::DeviceBuffer mlp_norm;      // [hidden] bf16
    cuda::DeviceBuffer router_weight; // [n_experts, hidden] bf16
    cuda::DeviceBuffer router_bias;   // [n_experts] bf16
    cuda::DeviceBuffer mlp1_blocks;   // [n_experts, 2·intermediate, hidden/32, 16] u8
    cuda::DeviceBuffer mlp1_scales;   // [n_experts, 2·intermediate, hidden/32] u8
    cuda::DeviceBuffer mlp1_bias;     // [n_experts, 2·intermediate] bf16
    cuda::DeviceBuffer mlp2_blocks;   // [n_experts, hidden, intermediate/32, 16] u8
    cuda::DeviceBuffer mlp2_scales;   // [n_experts, hidden, intermediate/32] u8
    cuda::DeviceBuffer mlp2_bias;     // [n_experts, hidden] bf16
};

class CudaWeights {
  public:
    // Bytes the weights take on the GPU.
    static uint64_t device_bytes(const GptOssConfig& config);
    // Copies a loaded checkpoint to the GPU; fails before allocating when the card lacks the memory.
    static Result<std::unique_ptr<CudaWeights>>
    upload(const cuda::CudaContext& context, const ModelWeights& weights, uint64_t reserve_bytes);
    // Random weights of the real shapes made on the GPU (no file): same distributions as `tritonllm
    // synth`, not the same values. For benchmarks.
    static Result<std::unique_ptr<CudaWeights>> synthetic(const cuda::CudaContext& context,
                                                          const cuda::OpKernels& kernels,
                                                          const GptOssConfig& config,
                                                          uint64_t seed,
                                                          uint64_t reserve_bytes);

    const GptOssConfig& config() const { return config_; }
    const CudaLayerWeights& layer(int64_t index) const { return layers_[static_cast<size_t>(index)]; }
    const cuda::DeviceBuffer& embedding() const { return embedding_; }     // [vocab, hidden] bf16
    const cuda::DeviceBuffer& unembedding() const { return unembedding_; } // [vocab, hidden] bf16
    const cuda::DeviceBuffer& final_norm() const { return final_norm_; }   // [hidden] bf16

  private:
    explicit CudaWeights(const GptOssConfig& config) : config_(config) {}
    Status allocate(const cuda::CudaContext& context);

    GptOssConfig config_;
    cuda::DeviceBuffer embedding_;
    cuda::DeviceBuffer unembedding_;
    cuda::DeviceBuffer final_norm_;
    std::vector<CudaLayerWeights> layers_;
};

// One sequence's keys and values for every layer on the GPU, allocated for its whole context up
// front so that pointers captured in a decode graph stay valid.
class CudaKvCache {
  public:
    // dtype: kBF16 (bf16 precision) or kF32 (the f32 reference).
    static Result<std::unique_ptr<CudaKvCache>>
    create(const cuda::CudaContext& context, const GptOssConfig& config, int64_t max_context, DType dtype);
    static uint64_t device_bytes(const GptOssConfig& config, int64_t max_context, DType dtype);

    int64_t length() const { return length_; }
    int64_t max_context() const { return max_context_; }
    void set_length(int64_t length);
    void truncate(int64_t length) { length_ = std::min(length_, std::max<int64_t>(0, length)); }
    DType dtype() const { return dtype_; }
    // What a captured graph holds of the cache: equal identities (even of two caches, one freed before the other was
    // made) mean the same device memory in the same layout, so the graph stays valid.
    using Identity = std::tuple<CUdeviceptr, CUdeviceptr, int64_t, DType>;
    Identity identity() const { return {keys_.ptr(), values_.ptr(), max_context_, dtype_}; }
    // [max_context, n_kv_heads, head_dim] of one layer; T is uint16_t (bf16 bits) or float, as dtype().
    template <typename T> T* keys(int64_t layer) const { return layer_data<T>(keys_, layer); }
    template <typename T> T* values(int64_t layer) const { return layer_data<T>(values_, layer); }

  private:
    CudaKvCache() = default;
    template <typename T> T* layer_data(const cuda::DeviceBuffer& buffer, int64_t layer) const {
        TLLM_CHECK((std::is_same_v<T, float> ? DType::kF32 : DType::kBF16) == dtype_,
                   "KV cache read as the wrong dtype");
        return buffer.as<T>() + layer * layer_elements_;
    }

    DType dtype_ = DType::kBF16;
    int64_t max_context_ = 0;
    int64_t length_ = 0;
    int64_t layer_elements_ = 0;
    cuda::DeviceBuffer keys_;   // [n_layers, max_context, kv_width] dtype_
    cuda::DeviceBuffer values_; // [n_layers, max_context, kv_width] dtype_
};

// The paged KV memory on the GPU, laid out as PagedKvStore's (model/paged_kv_store.h), in bf16: the books are
// runtime/kv_cache_manager.h's, the rows of a step are found through cuda::KvRows.
class CudaPagedKvStore {
  public:
    // dtype: kBF16 (bf16 precision) or kF32 (the f32 reference).
    static Result<std::unique_ptr<CudaPagedKvStore>> create(const cuda::CudaContext& context,
                                                            const GptOssConfig& config,
                                                            int32_t n_blocks,
                                                            int32_t block_tokens,
                                                            DType dtype);
    static uint64_t device_bytes(const GptOssConfig& config, int32_t n_blocks, int32_t block_tokens, DType dtype);

    const PagedKvLayout& layout() const { return layout_; }
    DType dtype() const { return dtype_; }
    // The block past the n_blocks asked for: the padding tokens of a decode graph (CudaForward) write and read
    // there, never in a sequence's blocks.
    int32_t padding_block() const { return layout_.n_blocks - 1; }
    // As CudaKvCache::identity: the device memory and layout a captured graph holds.
    using Identity = std::tuple<CUdeviceptr, CUdeviceptr, int32_t, int32_t>;
    Identity identity() const { return {keys_.ptr(), values_.ptr(), layout_.n_blocks, layout_.block_tokens}; }
    // `layer`'s view: position slot s of block b is row b·layout().block_rows() + s, [n_kv_heads, head_dim] of T,
    // uint16_t (bf16 bits) or float as dtype().
    template <typename T> T* keys(int64_t layer) const { return layer_data<T>(keys_, layer); }
    template <typename T> T* values(int64_t layer) const { return layer_data<T>(values_, layer); }

  private:
    CudaPagedKvStore(PagedKvLayout layout, DType dtype) : layout_(std::move(layout)), dtype_(dtype) {}
    template <typename T> T* layer_data(const cuda::DeviceBuffer& buffer, int64_t layer) const {
        TLLM_CHECK((std::is_same_v<T, float> ? DType::kF32 : DType::kBF16) == dtype_,
                   "paged KV cache read as the wrong dtype");
        return buffer.as<T>() + layout_.layer_offset(layer);
    }
    PagedKvLayout layout_;
    DType dtype_ = DType::kBF16;
    cuda::DeviceBuffer keys_;   // [n_blocks, layers_per_block, block_tokens, kv_width] of dtype_
    cuda::DeviceBuffer values_; // same
};

} // namespace tllm
