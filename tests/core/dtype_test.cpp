#include "core/dtype.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <limits>

namespace tllm {
namespace {

// Reference rounding: pick the nearer of the two bf16 neighbours, ties to the even mantissa.
uint16_t reference_round(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    uint16_t down = static_cast<uint16_t>(bits >> 16);
    uint16_t up = static_cast<uint16_t>(down + 1);
    double d_down = std::fabs(static_cast<double>(bf16_to_f32(down)) - value);
    double d_up = std::fabs(static_cast<double>(bf16_to_f32(up)) - value);
    if (d_down < d_up) {
        return down;
    }
    if (d_up < d_down) {
        return up;
    }
    return (down & 1) ? up : down;
}

TEST(Bf16, RoundsToNearestEvenOnEveryPattern) {
    // Every 16-bit upper half with a spread of lower halves, including the exact ties (0x8000).
    for (uint32_t upper = 0; upper < 0x10000; upper += 7) {
        for (uint32_t lower : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) {
            uint32_t bits = (upper << 16) | lower;
            float value;
            std::memcpy(&value, &bits, 4);
            if (std::isnan(value) || std::isinf(value)) {
                continue;
            }
            uint16_t expected = reference_round(value);
            if (std::isinf(bf16_to_f32(expected)) && !std::isinf(value)) {
                EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16_bits(value)))) << std::hex << bits;
                continue;
            }
            ASSERT_EQ(f32_to_bf16_bits(value), expected) << std::hex << "bits 0x" << bits;
        }
    }
}

TEST(Bf16, KeepsNaNAndInfinity) {
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()))));
    EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16_bits(std::numeric_limits<float>::infinity()))));
    EXPECT_EQ(f32_to_bf16_bits(-0.0f), 0x8000);
    EXPECT_EQ(round_to_bf16(1.0f + 1.0f / 256.0f), 1.0f);      // tie -> even (1.0)
    EXPECT_EQ(round_to_bf16(1.0f + 3.0f / 256.0f), 1.015625f); // tie -> even (1 + 4/256)
}

TEST(Mxfp4, E2m1TableAndE8m0Scale) {
    // OCP E2M1: sign bit 3, exponent bits 2..1, mantissa bit 0, bias 1, subnormal at exponent 0.
    for (int nibble = 0; nibble < 16; ++nibble) {
        int sign = nibble >> 3, exponent = (nibble >> 1) & 3, mantissa = nibble & 1;
        double magnitude = exponent == 0 ? 0.5 * mantissa : std::ldexp(1.0 + 0.5 * mantissa, exponent - 1);
        EXPECT_EQ(kE2m1Values[nibble], static_cast<float>(sign ? -magnitude : magnitude)) << nibble;
        EXPECT_EQ(std::signbit(kE2m1Values[nibble]), sign == 1) << nibble;
    }
    EXPECT_EQ(e8m0_to_f32(127), 1.0f);
    EXPECT_EQ(e8m0_to_f32(120), 1.0f / 128.0f);
    EXPECT_EQ(e8m0_to_f32(130), 8.0f);
    EXPECT_EQ(e8m0_to_f32(0), std::ldexp(1.0f, -127));
}

TEST(DType, NamesRoundTrip) {
    for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kU8, DType::kI8, DType::kI32, DType::kI64,
                        DType::kF64, DType::kBool}) {
        auto parsed = dtype_from_name(dtype_name(dtype));
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(*parsed, dtype);
    }
    EXPECT_FALSE(dtype_from_name("FP4").has_value());
    EXPECT_EQ(dtype_size(DType::kBF16), 2u);
}

} // namespace
} // namespace tllm
