// YaRN RoPE on the fresh q and k (CPU reference: kernels/cpu rope_inplace), fused with the KV-cache
// write. qkv: [n, (n_heads + 2·n_kv_heads)·head_dim] f32 holding bf16 values (q, then k, then v).
// Rotated q is written back in place, rounded to bf16; rotated k and v go to the bf16 cache at
// each token's position. rope_kv_write_f32kv is the f32 reference's variant: nothing rounded, f32
// caches. Pairs are half-split (i, i + head_dim/2); the angle is one f32 product
// and cos/sin are scaled by the concentration, as on the CPU.
// rope_kv_write_paged writes to a paged cache (KvRows in common.cuh).
// Grid: (token, ceil(heads · head_dim/2 / 256)); block: 256 threads.
#include "common.cuh"

using namespace tllm_dev;

namespace {

template <typename KV>
__device__ __forceinline__ void rope_kv(float* qkv,
                                        const i32* positions, // [n]
                                        int n_heads,
                                        int n_kv_heads,
                                        int head_dim,
                                        const float* inv_freq, // [head_dim/2]
                                        float concentration,
                                        KV* k_cache, // rows of [n_kv_heads, head_dim], placed by `rows`
                                        KV* v_cache,
                                        KvRows rows) {
    grid_dependency_wait();
    allow_dependents();
    const int t = blockIdx.x;
    const int half = head_dim / 2;
    const int heads = n_heads + 2 * n_kv_heads;
    const int width = heads * head_dim;
    const int kv_width = n_kv_heads * head_dim;
    // One thread per (head, pair), spread over blockIdx.y: at decode the whole launch is one token.
    const int index = blockIdx.y * blockDim.x + threadIdx.x;
    if (index >= heads * half) {
        return;
    }
    const int h = index / half;
    const int i = index - h * half;
    float* v = qkv + static_cast<i64>(t) * width + h * head_dim;
    const i64 position = positions[t];
    if (h >= n_heads + n_kv_heads) {
        KV* dst = v_cache + rows.row(t, static_cast<int>(position)) * kv_width + (h - n_heads - n_kv_heads) * head_dim;
        kv_store(dst + i, v[i]);
        kv_store(dst + i + half, v[i + half]);
        return;
    }
    const float angle = static_cast<float>(position) * inv_freq[i];
    const float c = cosf(angle) * concentration;
    const float s = sinf(angle) * concentration;
    const float x1 = v[i];
    const float x2 = v[i + half];
    const float y1 = x1 * c - x2 * s;
    const float y2 = x2 * c + x1 * s;
    if (h < n_heads) {
        v[i] = kv_round(k_cache, y1);
        v[i + half] = kv_round(k_cache, y2);
    } else {
        KV* dst = k_cache + rows.row(t, static_cast<int>(position)) * kv_width + (h - n_heads) * head_dim;
        kv_store(dst + i, y1);
        kv_store(dst + i + half, y2);
    }
}

} // namespace

#define TLLM_ROPE_KV_WRITE(NAME, KV)                                                                                   \
    TLLM_KERNEL void NAME(float* qkv, const i32* positions, int n_heads, int n_kv_heads, int head_dim,                 \
                          const float* inv_freq, float concentration, KV* k_cache, KV* v_cache) {                      \
        rope_kv<KV>(qkv, positions, n_heads, n_kv_heads, head_dim, inv_freq, concentration, k_cache, v_cache,          \
                    KvRows{nullptr, nullptr, 1, 1});                                                                   \
    }
TLLM_ROPE_KV_WRITE(rope_kv_write, u16)
TLLM_ROPE_KV_WRITE(rope_kv_write_f32kv, float)

// The paged cache's variants: k and v rows go where `rows` places each token's position.
#define TLLM_ROPE_KV_WRITE_PAGED(NAME, KV)                                                                             \
    TLLM_KERNEL void NAME(float* qkv, const i32* positions, int n_heads, int n_kv_heads, int head_dim,                 \
                          const float* inv_freq, float concentration, KV* k_cache, KV* v_cache, KvRows rows) {         \
        rope_kv<KV>(qkv, positions, n_heads, n_kv_heads, head_dim, inv_freq, concentration, k_cache, v_cache, rows);   \
    }
TLLM_ROPE_KV_WRITE_PAGED(rope_kv_write_paged, u16)
TLLM_ROPE_KV_WRITE_PAGED(rope_kv_write_paged_f32kv, float)
