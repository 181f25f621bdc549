// CPU kernels: the reference backend every GPU kernel is checked against, and the engine for
// machines without a GPU. Activations are float32 (already rounded to bf16 values where the model
// stores bf16); weights are used in their checkpoint formats (bf16, MXFP4) straight from the map.
// Every function is deterministic for a given thread count; calls may run concurrently on distinct
// outputs only with distinct pools (ThreadPool::parallel_for is not reentrant).
#pragma once

#include "core/thread_pool.h"

#include <cstdint>

namespace tllm::cpu {

// Which vector path the matrix kernels use. kAuto picks AVX2+FMA when the CPU has it.
enum class SimdPath { kAuto, kPortable, kAvx2 };
// The path kAuto resolves to on this CPU.
SimdPath detect_simd_path();
const char* simd_path_name(SimdPath path);

// y[n, m] = x[n, k] · W[m, k]ᵀ + bias[m]
//   x: [n, k] f32; w: [m, k] bf16 bits; bias: [m] bf16 bits or nullptr; y: [n, m] f32.
// Accumulates in f32. Rows of W are split over the pool; each weight row is read once for all n.
void bf16w_matmul(ThreadPool& pool,
                  const float* x,
                  int64_t n,
                  int64_t k,
                  const uint16_t* w,
                  int64_t m,
                  const uint16_t* bias,
                  float* y,
                  SimdPath path = SimdPath::kAuto);

// y[n, m] = x[n, k] · dequant(W)[m, k]ᵀ + bias[m], W in MXFP4 (see core/dtype.h):
//   blocks: [m, k/32, 16] u8 (element 2j in the low nibble of byte j); scales: [m, k/32] u8 E8M0;
//   bias: [m] bf16 bits or nullptr; k % 32 == 0.
void mxfp4w_matmul(ThreadPool& pool,
                   const float* x,
                   int64_t n,
                   int64_t k,
                   const uint8_t* blocks,
                   const uint8_t* scales,
                   int64_t m,
                   const uint16_t* bias,
                   float* y,
                   SimdPath path = SimdPath::kAuto);

// out[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + eps) · scale[:], computed in f32 (x: [n, d] f32,
// scale: [d] bf16 bits, out: [n, d] f32; out may alias x).
void rmsnorm(const float* x, const uint16_t* scale, int64_t n, int64_t d, float eps, float* out);

// YaRN rotary embedding, half-split pairs (i, i + head_dim/2), applied in place:
//   x: [n_tokens, n_heads, head_dim] f32; positions: [n_tokens];
//   inv_freq: [head_dim/2] f32; concentration multiplies both cos and sin.
// y_i = x_i·c − x_{i+h}·s; y_{i+h} = x_{i+h}·c + x_i·s with c = cos(p·inv_freq_i)·conc, s likewise.
void rope_inplace(float* x,
                  const int32_t* positions,
                  int64_t n_tokens,
                  int64_t n_heads,
                  int64_t head_dim,
                  const float* inv_freq,
                  float concentration);

// Grouped-query attention with one learned sink logit per query head:
//   q: [n_tokens, n_heads, head_dim] f32 (rotated); positions: [n_tokens] absolute positions;
//   k_cache, v_cache: [n_ctx, n_kv_heads, head_dim] bf16 bits holding every key up to max(positions);
//   sinks: [n_heads] bf16 bits; out: [n_tokens, n_heads, head_dim] f32.
// Token at position p, head h attends keys j with j <= p and, when window > 0, p − j < window,
// from kv head h / (n_heads / n_kv_heads). Scores are scale·q·k; the sink joins the softmax's
// denominator (not multiplied by scale) and contributes no value.
void attention_sinks(ThreadPool& pool,
                     const float* q,
                     const int32_t* positions,
                     int64_t n_tokens,
                     int64_t n_heads,
                     int64_t n_kv_heads,
                     int64_t head_dim,
                     const uint16_t* k_cache,
                     const uint16_t* v_cache,
                     const uint16_t* sinks,
                     int64_t window,
                     float scale,
                     float* out);
// The same over an f32 cache (the float32 reference precision).
void attention_sinks(ThreadPool& pool,
                     const float* q,
                     const int32_t* positions,
                     int64_t n_tokens,
                     int64_t n_heads,
                     int64_t n_kv_heads,
                     int64_t head_dim,
                     const float* k_cache,
                     const float* v_cache,
                     const uint16_t* sinks,
                     int64_t window,
                     float scale,
                     float* out);
// The same over a paged cache (runtime/kv_cache_manager.h): position j of the sequence is row
// block_table[j / block_tokens]·block_rows + j % block_tokens of k_cache and v_cache (rows of [n_kv_heads,
// head_dim], KvT bf16 bits or f32; block_rows ≥ block_tokens, more where a block holds several layers). Entries of
// block_table for positions no token attends to may be −1 (blocks a sliding window released). Sums run in the same
// order as above, so the result equals the contiguous cache's bit for bit.
template <typename KvT>
void attention_sinks_paged(ThreadPool& pool,
                           const float* q,
                           const int32_t* positions,
                           int64_t n_tokens,
                           int64_t n_heads,
                           int64_t n_kv_heads,
                           int64_t head_dim,
                           const KvT* k_cache,
                           const KvT* v_cache,
                           const int32_t* block_table,
                           int64_t block_tokens,
                           int64_t block_rows,
                           const uint16_t* sinks,
                           int64_t window,
                           float scale,
                           float* out);

// Router: per token, the top `k` of `n_experts` logits, sorted descending (ties: lower index
// first, as torch.topk), and weights = softmax over those k logits only.
//   logits: [n_tokens, n_experts] f32; expert_ids: [n_tokens, k] i32; weights: [n_tokens, k] f32.
void topk_softmax(
    const float* logits, int64_t n_tokens, int64_t n_experts, int64_t k, int32_t* expert_ids, float* weights);

// Log-probabilities of one row of logits (the log-softmax, its sum in double): returns the token's; top_ids and
// top_logprobs get the `top` likeliest tokens' (most likely first, ties: lower id; top ≤ vocab).
//   logits: [vocab] f32; top_ids: [top] i32; top_logprobs: [top] f32.
float logits_logprobs(
    const float* logits, int64_t vocab, int32_t token, int64_t top, int32_t* top_ids, float* top_logprobs);

// gpt-oss clamped SwiGLU over interleaved rows: h: [n, 2·d] f32 with gate = h[2i], linear = h[2i+1];
//   gate = min(gate, limit); linear = clamp(linear, −limit, limit);
//   out[i] = gate·σ(alpha·gate)·(linear + 1); out: [n, d] f32.
void swiglu_interleaved(const float* h, int64_t n, int64_t d, float alpha, float limit, float* out);

} // namespace tllm::cpu
