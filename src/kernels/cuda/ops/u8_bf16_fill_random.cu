// Counter-based random fill: element i depends only on (seed, i), so synthetic weights can be made
// directly on the GPU in any order and checked bit for bit against fill_random_reference.h.
#include "common.cuh"

namespace {

// The i-th output of splitmix64 started at `seed` (core/random.h's splitmix64 after i + 1 steps).
__device__ __forceinline__ u64 counter_hash(u64 seed, u64 i) {
    u64 z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

} // namespace

TLLM_KERNEL void bf16_fill_uniform(u16* out, u64 n, u64 seed, float low, float high) {
    const float span = high - low;
    const u64 stride = static_cast<u64>(gridDim.x) * blockDim.x;
    for (u64 i = static_cast<u64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        // 24 bits make u exact in float; an explicit fma keeps the result identical to the host's std::fma
        // whatever the compiler's contraction choices.
        const float u = static_cast<float>(static_cast<u32>(counter_hash(seed, i) >> 40)) * (1.0f / 16777216.0f);
        out[i] = tllm_dev::f32_to_bf16(__fmaf_rn(span, u, low));
    }
}

// Uniform over [low, high] inclusive, by multiply-shift of the top 32 bits (bias below 2^-24 for a byte range).
TLLM_KERNEL void u8_fill_uniform(u8* out, u64 n, u64 seed, u32 low, u32 high) {
    const u64 range = static_cast<u64>(high) - low + 1;
    const u64 stride = static_cast<u64>(gridDim.x) * blockDim.x;
    for (u64 i = static_cast<u64>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        out[i] = static_cast<u8>(low + static_cast<u32>(((counter_hash(seed, i) >> 32) * range) >> 32));
    }
}
