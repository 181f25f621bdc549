// Host reference of ops/u8_bf16_fill_random.cu: the same counter hash and rounding, element by element, so
// GPU-made synthetic data can be checked (and reproduced on the CPU) bit for bit.
#pragma once

#include "core/dtype.h"

#include <cmath>
#include <cstdint>

namespace tllm::cuda {

// The i-th output of splitmix64 started at `seed`.
inline uint64_t fill_counter_hash(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// bf16_fill_uniform's element i, as bf16 bits.
inline uint16_t bf16_fill_uniform_at(uint64_t seed, uint64_t i, float low, float high) {
    const float u = static_cast<float>(static_cast<uint32_t>(fill_counter_hash(seed, i) >> 40)) * (1.0f / 16777216.0f);
    return f32_to_bf16_bits(std::fma(high - low, u, low));
}

// u8_fill_uniform's element i, in [low, high].
inline uint8_t u8_fill_uniform_at(uint64_t seed, uint64_t i, uint32_t low, uint32_t high) {
    const uint64_t range = static_cast<uint64_t>(high) - low + 1;
    return static_cast<uint8_t>(low + static_cast<uint32_t>(((fill_counter_hash(seed, i) >> 32) * range) >> 32));
}

} // namespace tllm::cuda
