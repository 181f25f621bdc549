#include "model/forward_cpu.h"

#include "core/check.h"

#include <algorithm>
#include <type_traits>

namespace tllm {
namespace {

const uint16_t* bf16_data(const TensorView& view) {
    TLLM_CHECK(view.dtype == DType::kBF16, "expected bf16 weight");
    return view.as<uint16_t>();
}

template <typename T> void ensure_size(std::vector<T>& values, size_t n) {
    if (values.size() < n) {
        values.resize(n);
    }
}

} // namespace

const char* precision_name(Precision precision) { return precision == Precision::kF32 ? "f32" : "bf16"; }

CpuForward::CpuForward(const ModelWeights& weights, ThreadPool& pool, cpu::SimdPath simd, Precision precision)
    : weights_(weights), config_(weights.config()), pool_(pool), simd_(simd), precision_(precision),
      rope_(compute_rope_parameters(weights.config())) {}

float CpuForward::store(float value) const { return precision_ == Precision::kBf16 ? round_to_bf16(value) : value; }

void CpuForward::round_stored(std::vector<float>& values, size_t n) const {
    if (precision_ == Precision::kBf16) {
        for (size_t i = 0; i < n; ++i) {
            values[i] = round_to_bf16(values[i]);
        }
    }
}

namespace {

// Rows of the unembedding a request asks for.
size_t logit_rows(const ForwardRequest& request) {
    return request.logits == nullptr ? 0 : request.all_logits ? request.tokens.size() : 1;
}

} // namespace

Status CpuForward::run(std::span<ForwardRequest> requests) {
    const GptOssConfig& c = config_;
    int64_t n_tokens = 0;
    int64_t n_logit_rows = 0;
    for (size_t r = 0; r < requests.size(); ++r) {
        const ForwardRequest& request = requests[r];
        const bool paged = request.paged.store != nullptr;
        TLLM_CHECK(paged != (request.cache != nullptr), "request {} needs one cache (contiguous or paged)", r);
        const DType kv_dtype = paged ? request.paged.store->dtype() : request.cache->dtype();
        TLLM_CHECK(kv_dtype == kv_cache_dtype(precision_), "request {}: {} KV cache for {} precision", r,
                   dtype_name(kv_dtype), precision_name(precision_));
        if (request.tokens.empty()) {
            return make_error(ErrorCode::kInvalidArgument, "request {}: no tokens to process", r);
        }
        for (int32_t token : request.tokens) {
            if (token < 0 || token >= c.vocab_size) {
                return make_error(ErrorCode::kInvalidArgument, "request {}: token id {} outside vocabulary [0, {})", r,
                                  token, c.vocab_size);
            }
        }
        if (paged) { // the scheduler's books cover the step: a table too short is a bug, not input
            const int64_t end = request.paged.start + static_cast<int64_t>(request.tokens.size());
            TLLM_CHECK(request.paged.tables.size() == 2, "request {}: {} block tables", r, request.paged.tables.size());
            for (const std::span<const int32_t> table : request.paged.tables) {
                TLLM_CHECK(static_cast<int64_t>(table.size()) * request.paged.store->block_tokens() >= end,
                           "request {}: block table of {} blocks for position {}", r, table.size(), end - 1);
            }
            n_tokens += static_cast<int64_t>(request.tokens.size());
            n_logit_rows += static_cast<int64_t>(logit_rows(request));
            continue;
        }
        int64_t new_length = request.cache->length() + static_cast<int64_t>(request.tokens.size());
        if (new_length > request.cache->max_context()) {
            return make_error(ErrorCode::kContextOverflow, "request {}: {} tokens exceed the context of {}", r,
                              new_length, request.cache->max_context());
        }
        n_tokens += static_cast<int64_t>(request.tokens.size());
        n_logit_rows += static_cast<int64_t>(logit_rows(request));
    }
    if (n_tokens == 0) {
        return {};
    }

    const size_t n = static_cast<size_t>(n_tokens);
    const size_t hidden = static_cast<size_t>(c.hidden_size);
    ensure_size(residual_, n * hidden);
    std::vector<int32_t> positions(n);
    {
        const TensorView& embedding = weights_.global(WeightKind::kEmbedding);
        size_t row = 0;
        for (ForwardRequest& request : requests) {
            const int64_t start = request.cache != nullptr ? request.cache->length() : request.paged.start;
            if (request.cache != nullptr) {
                request.cache->reserve(start + static_cast<int64_t>(request.tokens.size()));
            }
            for (size_t t = 0; t < request.tokens.size(); ++t, ++row) {
                positions[row] = static_cast<int32_t>(start + static_cast<int64_t>(t));
                const uint16_t* source = bf16_data(embedding) + static_cast<size_t>(request.tokens[t]) * hidden;
                for (size_t i = 0; i < hidden; ++i) {
                    residual_[row * hidden + i] = bf16_to_f32(source[i]);
                }
            }
        }
    }

    for (int64_t layer = 0; layer < c.n_layers; ++layer) {
        attention_block(layer, requests, positions);
        moe_block(layer, n_tokens);
    }

    // Final norm and unembedding, only for the rows whose logits are wanted.
    std::vector<float> selected(static_cast<size_t>(n_logit_rows) * hidden);
    {
        size_t row = 0;
        size_t out_row = 0;
        for (const ForwardRequest& request : requests) {
            size_t count = request.tokens.size();
            size_t first = request.all_logits ? row : row + count - 1;
            size_t rows = logit_rows(request);
            std::copy_n(residual_.begin() + static_cast<std::ptrdiff_t>(first * hidden), rows * hidden,
                        selected.begin() + static_cast<std::ptrdiff_t>(out_row * hidden));
            row += count;
            out_row += rows;
        }
    }
    std::vector<float> logits(static_cast<size_t>(n_logit_rows * c.vocab_size));
    if (n_logit_rows > 0) {
        cpu::rmsnorm(selected.data(), bf16_data(weights_.global(WeightKind::kFinalNorm)), n_logit_rows, c.hidden_size,
                     c.rms_norm_eps, selected.data());
        round_stored(selected, selected.size());
        cpu::bf16w_matmul(pool_, selected.data(), n_logit_rows, c.hidden_size,
                          bf16_data(weights_.global(WeightKind::kUnembedding)), c.vocab_size, nullptr, logits.data(),
                          simd_);
    }
    size_t out_row = 0;
    for (ForwardRequest& request : requests) {
        const size_t rows = logit_rows(request);
        if (request.logits != nullptr) {
            auto begin = logits.begin() + static_cast<std::ptrdiff_t>(out_row * static_cast<size_t>(c.vocab_size));
            request.logits->assign(begin,
                                   begin + static_cast<std::ptrdiff_t>(rows * static_cast<size_t>(c.vocab_size)));
        }
        out_row += rows;
        if (request.cache != nullptr) {
            request.cache->set_length(request.cache->length() + static_cast<int64_t>(request.tokens.size()));
        }
    }
    return {};
}

template <typename T>
void CpuForward::write_and_attend(
    int64_t layer, ForwardRequest& request, size_t row, const int32_t* positions, float* out) {
    const GptOssConfig& c = config_;
    const size_t kv_width = static_cast<size_t>(c.kv_width());
    const int64_t count = static_cast<int64_t>(request.tokens.size());
    const int64_t window = c.layer_sliding[static_cast<size_t>(layer)] ? c.sliding_window : 0;
    auto to_cache = [](float value) {
        if constexpr (std::is_same_v<T, uint16_t>) {
            return f32_to_bf16_bits(value);
        } else {
            return value;
        }
    };
    PagedKvStore* store = request.paged.store;
    T* keys = store != nullptr ? store->keys<T>(layer) : request.cache->keys<T>(layer);
    T* values = store != nullptr ? store->values<T>(layer) : request.cache->values<T>(layer);
    const std::span<const int32_t> table =
        store != nullptr ? request.paged.tables[static_cast<size_t>(PagedKvStore::layer_group(c, layer))]
                         : std::span<const int32_t>{};
    for (int64_t t = 0; t < count; ++t) {
        const int64_t position = positions[t];
        int64_t cache_row = position;
        if (store != nullptr) {
            const int32_t block = table[static_cast<size_t>(position / store->block_tokens())];
            TLLM_CHECK(block >= 0, "position {} written to a released block", position);
            cache_row = block * store->block_rows() + position % store->block_tokens();
        }
        for (size_t i = 0; i < kv_width; ++i) {
            keys[static_cast<size_t>(cache_row) * kv_width + i] =
                to_cache(k_[(row + static_cast<size_t>(t)) * kv_width + i]);
            values[static_cast<size_t>(cache_row) * kv_width + i] =
                to_cache(v_[(row + static_cast<size_t>(t)) * kv_width + i]);
        }
    }
    const float* q_rows = q_.data() + row * static_cast<size_t>(c.q_width());
    const uint16_t* sinks = bf16_data(weights_.layer(layer, WeightKind::kSinks));
    if (store != nullptr) {
        cpu::attention_sinks_paged<T>(pool_, q_rows, positions, count, c.n_heads, c.n_kv_heads, c.head_dim, keys,
                                      values, table.data(), store->block_tokens(), store->block_rows(), sinks, window,
                                      c.attention_scale(), out);
    } else {
        cpu::attention_sinks(pool_, q_rows, positions, count, c.n_heads, c.n_kv_heads, c.head_dim, keys, values, sinks,
                             window, c.attention_scale(), out);
    }
}

void CpuForward::attention_block(int64_t layer,
                                 std::span<ForwardRequest> requests,
                                 std::span<const int32_t> positions) {
    const GptOssConfig& c = config_;
    const int64_t n = static_cast<int64_t>(positions.size());
    const size_t hidden = static_cast<size_t>(c.hidden_size);
    const size_t q_width = static_cast<size_t>(c.q_width());
    const size_t kv_width = static_cast<size_t>(c.kv_width());
    auto w = [&](WeightKind kind) { return bf16_data(weights_.layer(layer, kind)); };

    ensure_size(normed_, static_cast<size_t>(n) * hidden);
    cpu::rmsnorm(residual_.data(), w(WeightKind::kAttnNorm), n, c.hidden_size, c.rms_norm_eps, normed_.data());
    round_stored(normed_, static_cast<size_t>(n) * hidden);

    ensure_size(q_, static_cast<size_t>(n) * q_width);
    ensure_size(k_, static_cast<size_t>(n) * kv_width);
    ensure_size(v_, static_cast<size_t>(n) * kv_width);
    cpu::bf16w_matmul(pool_, normed_.data(), n, c.hidden_size, w(WeightKind::kQWeight), c.q_width(),
                      w(WeightKind::kQBias), q_.data(), simd_);
    cpu::bf16w_matmul(pool_, normed_.data(), n, c.hidden_size, w(WeightKind::kKWeight), c.kv_width(),
                      w(WeightKind::kKBias), k_.data(), simd_);
    cpu::bf16w_matmul(pool_, normed_.data(), n, c.hidden_size, w(WeightKind::kVWeight), c.kv_width(),
                      w(WeightKind::kVBias), v_.data(), simd_);
    // The projections are bf16 tensors in the model; RoPE then rotates those values.
    round_stored(q_, static_cast<size_t>(n) * q_width);
    round_stored(k_, static_cast<size_t>(n) * kv_width);
    round_stored(v_, static_cast<size_t>(n) * kv_width);
    cpu::rope_inplace(q_.data(), positions.data(), n, c.n_heads, c.head_dim, rope_.inv_freq.data(),
                      rope_.concentration);
    cpu::rope_inplace(k_.data(), positions.data(), n, c.n_kv_heads, c.head_dim, rope_.inv_freq.data(),
                      rope_.concentration);
    round_stored(q_, static_cast<size_t>(n) * q_width);

    ensure_size(attn_, static_cast<size_t>(n) * q_width);
    size_t row = 0;
    for (ForwardRequest& request : requests) {
        float* out_rows = attn_.data() + row * q_width;
        if (precision_ == Precision::kBf16) {
            write_and_attend<uint16_t>(layer, request, row, positions.data() + row, out_rows);
        } else {
            write_and_attend<float>(layer, request, row, positions.data() + row, out_rows);
        }
        row += request.tokens.size();
    }
    round_stored(attn_, static_cast<size_t>(n) * q_width);

    ensure_size(projected_, static_cast<size_t>(n) * hidden);
    cpu::bf16w_matmul(pool_, attn_.data(), n, c.q_width(), w(WeightKind::kOutWeight), c.hidden_size,
                      w(WeightKind::kOutBias), projected_.data(), simd_);
    if (observer_ != nullptr) {
        observer_->attention_output(layer, {projected_.data(), static_cast<size_t>(n) * hidden});
    }
    for (size_t i = 0; i < static_cast<size_t>(n) * hidden; ++i) {
        residual_[i] = store(residual_[i] + projected_[i]);
    }
}

void CpuForward::moe_block(int64_t layer, int64_t n_tokens) {
    const GptOssConfig& c = config_;
    const size_t n = static_cast<size_t>(n_tokens);
    const size_t hidden = static_cast<size_t>(c.hidden_size);
    const size_t inter = static_cast<size_t>(c.intermediate_size);
    const size_t top_k = static_cast<size_t>(c.n_experts_per_token);
    auto layer_weight = [&](WeightKind kind) -> const TensorView& { return weights_.layer(layer, kind); };

    cpu::rmsnorm(residual_.data(), bf16_data(layer_weight(WeightKind::kMlpNorm)), n_tokens, c.hidden_size,
                 c.rms_norm_eps, normed_.data());
    round_stored(normed_, n * hidden);

    ensure_size(router_, n * static_cast<size_t>(c.n_experts));
    cpu::bf16w_matmul(pool_, normed_.data(), n_tokens, c.hidden_size,
                      bf16_data(layer_weight(WeightKind::kRouterWeight)), c.n_experts,
                      bf16_data(layer_weight(WeightKind::kRouterBias)), router_.data(), simd_);
    if (observer_ != nullptr) {
        observer_->router_logits(layer, {router_.data(), n * static_cast<size_t>(c.n_experts)});
    }
    ensure_size(expert_ids_, n * top_k);
    ensure_size(expert_weights_, n * top_k);
    cpu::topk_softmax(router_.data(), n_tokens, c.n_experts, c.n_experts_per_token, expert_ids_.data(),
                      expert_weights_.data());

    // Group (token, slot) pairs by expert so each expert's weights are read once per step.
    std::vector<std::vector<size_t>> routed(static_cast<size_t>(c.n_experts)); // expert -> token*top_k + slot
    for (size_t pair = 0; pair < n * top_k; ++pair) {
        routed[static_cast<size_t>(expert_ids_[pair])].push_back(pair);
    }
    ensure_size(moe_sum_, n * hidden);
    std::fill_n(moe_sum_.begin(), n * hidden, 0.0f);

    const TensorView& mlp1_blocks = layer_weight(WeightKind::kMlp1Blocks);
    const TensorView& mlp1_scales = layer_weight(WeightKind::kMlp1Scales);
    const TensorView& mlp1_bias = layer_weight(WeightKind::kMlp1Bias);
    const TensorView& mlp2_blocks = layer_weight(WeightKind::kMlp2Blocks);
    const TensorView& mlp2_scales = layer_weight(WeightKind::kMlp2Scales);
    const TensorView& mlp2_bias = layer_weight(WeightKind::kMlp2Bias);
    for (int64_t expert = 0; expert < c.n_experts; ++expert) {
        const std::vector<size_t>& pairs = routed[static_cast<size_t>(expert)];
        if (pairs.empty()) {
            continue;
        }
        const size_t count = pairs.size();
        ensure_size(expert_in_, count * hidden);
        for (size_t i = 0; i < count; ++i) {
            size_t token = pairs[i] / top_k;
            std::copy_n(normed_.begin() + static_cast<std::ptrdiff_t>(token * hidden), hidden,
                        expert_in_.begin() + static_cast<std::ptrdiff_t>(i * hidden));
        }
        ensure_size(expert_h_, count * 2 * inter);
        ensure_size(expert_act_, count * inter);
        ensure_size(expert_out_, count * hidden);
        cpu::mxfp4w_matmul(pool_, expert_in_.data(), static_cast<int64_t>(count), c.hidden_size,
                           mlp1_blocks.slice0(expert).as<uint8_t>(), mlp1_scales.slice0(expert).as<uint8_t>(),
                           2 * c.intermediate_size, mlp1_bias.slice0(expert).as<uint16_t>(), expert_h_.data(), simd_);
        cpu::swiglu_interleaved(expert_h_.data(), static_cast<int64_t>(count), c.intermediate_size, c.swiglu_alpha,
                                c.swiglu_limit, expert_act_.data());
        round_stored(expert_act_, count * inter);
        cpu::mxfp4w_matmul(pool_, expert_act_.data(), static_cast<int64_t>(count), c.intermediate_size,
                           mlp2_blocks.slice0(expert).as<uint8_t>(), mlp2_scales.slice0(expert).as<uint8_t>(),
                           c.hidden_size, mlp2_bias.slice0(expert).as<uint16_t>(), expert_out_.data(), simd_);
        for (size_t i = 0; i < count; ++i) {
            size_t token = pairs[i] / top_k;
            float weight = expert_weights_[pairs[i]];
            float* sum = moe_sum_.data() + token * hidden;
            const float* out = expert_out_.data() + i * hidden;
            for (size_t j = 0; j < hidden; ++j) {
                sum[j] += weight * out[j];
            }
        }
    }
    if (observer_ != nullptr) {
        observer_->moe_output(layer, {moe_sum_.data(), n * hidden});
    }
    for (size_t i = 0; i < n * hidden; ++i) {
        residual_[i] = store(residual_[i] + moe_sum_[i]);
    }
}

} // namespace tllm
