// Element types of checkpoints and activations, and their scalar conversions.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tllm {

enum class DType { kF32, kF16, kBF16, kU8, kI8, kI32, kI64, kF64, kBool };

std::string_view dtype_name(DType dtype); // safetensors spelling: "F32", "BF16", "U8", ...
std::optional<DType> dtype_from_name(std::string_view name);
size_t dtype_size(DType dtype);

// bf16 is stored as the upper 16 bits of an IEEE float.
struct bf16 {
    uint16_t bits;
};

inline float bf16_to_f32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }
inline float bf16_to_f32(bf16 value) { return bf16_to_f32(value.bits); }

// Round to nearest, ties to even, as torch's .to(torch.bfloat16) does; NaN stays a quiet NaN.
inline uint16_t f32_to_bf16_bits(float value) {
    uint32_t bits = std::bit_cast<uint32_t>(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return static_cast<uint16_t>((bits >> 16) | 0x0040u);
    }
    uint32_t rounding_bias = 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>((bits + rounding_bias) >> 16);
}
inline bf16 f32_to_bf16(float value) { return bf16{f32_to_bf16_bits(value)}; }
// Rounds a float to the nearest bf16 value and returns it as a float.
inline float round_to_bf16(float value) { return bf16_to_f32(f32_to_bf16_bits(value)); }

// MXFP4 (OCP microscaling): blocks of 32 E2M1 values along the input dimension, two per byte
// (element 2j in the low nibble of byte j, 2j+1 in the high nibble), one E8M0 scale per block.
inline constexpr int kMxfp4BlockSize = 32;
inline constexpr int kMxfp4BlockBytes = 16;

// E2M1 nibble -> value, index = nibble.
inline constexpr float kE2m1Values[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                                          -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// E8M0: 2^(e - 127). 255 is NaN in the OCP spec; the reference (ldexp) does not special-case it.
inline float e8m0_to_f32(uint8_t exponent) { return std::ldexp(1.0f, static_cast<int>(exponent) - 127); }

} // namespace tllm
