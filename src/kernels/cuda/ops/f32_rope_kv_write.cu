// YaRN RoPE on the fresh q and k (CPU reference: kernels/cpu rope_inplace), fused with the KV-cache
// write. qkv: [n, (n_heads + 2·n_kv_heads)·head_dim] f32 holding bf16 values (q, then k, then v).
// Rotated q is written back in place, rounded to bf16; rotated k and v go to the bf16 cache at
// each token's position. Pairs are half-split (i, i + head_dim/2); the angle is one f32 product
// and cos/sin are scaled by the concentration, as on the CPU.
// Grid: (token, ceil(heads · head_dim/2 / 256)); block: 256 threads.
#include "common.cuh"

using namespace tllm_dev;

TLLM_KERNEL void rope_kv_write(float* qkv,
                               const i32* positions, // [n]
                               int n_heads,
                               int n_kv_heads,
                               int head_dim,
                               const float* inv_freq, // [head_dim/2]
                               float concentration,
                               u16* k_cache, // [capacity, n_kv_heads, head_dim]
                               u16* v_cache) {
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
        u16* dst = v_cache + position * kv_width + (h - n_heads - n_kv_heads) * head_dim;
        dst[i] = f32_to_bf16(v[i]);
        dst[i + half] = f32_to_bf16(v[i + half]);
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
        v[i] = round_bf16(y1);
        v[i + half] = round_bf16(y2);
    } else {
        u16* dst = k_cache + position * kv_width + (h - n_heads) * head_dim;
        dst[i] = f32_to_bf16(y1);
        dst[i + half] = f32_to_bf16(y2);
    }
}
