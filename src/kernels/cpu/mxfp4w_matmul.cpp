// y = x·dequant(W)ᵀ + bias with MXFP4 weight rows (32-element blocks along k, one E8M0 scale each).
//
// Codes are looked up as *doubled* E2M1 values {0, 1, 2, 3, 4, 6, 8, 12, ...} so that all are int8, and
// multiplied by the half scale 2^(e−128): the product equals value·2^(e−127) exactly, also at e = 255 where
// 2^(e−127) alone would overflow f32 and at e ≤ 1 where it is subnormal.
//
// Batch 1 (decode) fuses the lookup into the dot product and reads each weight byte once; the block sum
// Σ code·x is scaled once per block, and x is pre-permuted so even and odd codes (low and high nibbles)
// meet contiguous x without an interleave. For n > 1 a block of rows is decoded to f32 once into an
// L2-resident scratch buffer and reused by every token in register tiles of rows x tokens (those loops,
// shared with the bf16 kernel, are in widened_matmul.h; this file only decodes).
#include "core/check.h"
#include "core/dtype.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/widened_matmul.h"

#include <bit>
#include <vector>

namespace tllm::cpu {
namespace {

using namespace detail;

// Twice the E2M1 values of core/dtype.h, index = nibble (−0 becomes 0: a zero weight either way).
alignas(16) constexpr int8_t kE2m1Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// 2^(e − 128) built from its bits, exact for every e; ldexp per block would cost a libm call.
constexpr float half_scale(uint8_t e) {
    if (e >= 2) {
        return std::bit_cast<float>(static_cast<uint32_t>(e - 1) << 23);
    }
    return std::bit_cast<float>(0x00200000u << e); // subnormal 2^-128 (e = 0) or 2^-127 (e = 1)
}
static_assert(half_scale(128) == 1.0f && half_scale(255) == 0x1p127f && half_scale(0) == 0x1p-128f);

// ---------------------------------------------------------------------------------------------
// Portable path.

// Rows are contiguous in blocks/scales, so a run of rows decodes as one flat run of blocks.
void decode_portable(const uint8_t* blocks, const uint8_t* scales, int64_t n_blocks, float* out) {
    for (int64_t b = 0; b < n_blocks; ++b) {
        float hs = half_scale(scales[b]);
        const uint8_t* bytes = blocks + b * kMxfp4BlockBytes;
        float* dst = out + b * kMxfp4BlockSize;
        for (int j = 0; j < kMxfp4BlockBytes; ++j) {
            dst[2 * j] = static_cast<float>(kE2m1Doubled[bytes[j] & 0x0f]) * hs;
            dst[2 * j + 1] = static_cast<float>(kE2m1Doubled[bytes[j] >> 4]) * hs;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA path.
#if TLLM_HAVE_X86

// Low 8 int8 of v as 8 floats.
TLLM_AVX2_FN inline __m256 cvt_lo8(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }
TLLM_AVX2_FN inline __m256 cvt_hi8(__m128i v) { return cvt_lo8(_mm_unpackhi_epi64(v, v)); }

// Two consecutive blocks (lane 0 = first) looked up as doubled codes: even elements in *even, odd in *odd.
TLLM_AVX2_FN inline void lookup2_avx2(const uint8_t* bytes, __m256i* even, __m256i* odd) {
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kE2m1Doubled)));
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
    *even = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low4));
    *odd = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
}

TLLM_AVX2_FN inline void lookup1_avx2(const uint8_t* bytes, __m128i* even, __m128i* odd) {
    const __m128i lut = _mm_load_si128(reinterpret_cast<const __m128i*>(kE2m1Doubled));
    const __m128i low4 = _mm_set1_epi8(0x0f);
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
    *even = _mm_shuffle_epi8(lut, _mm_and_si128(v, low4));
    *odd = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(v, 4), low4));
}

// acc += half_scale · Σ code·x over one block; xp is the block's x permuted to [evens, odds].
TLLM_AVX2_FN inline __m256 block_fma(__m128i even, __m128i odd, const float* xp, float hs, __m256 acc) {
    __m256 s = _mm256_mul_ps(cvt_lo8(even), _mm256_loadu_ps(xp));
    s = _mm256_fmadd_ps(cvt_hi8(even), _mm256_loadu_ps(xp + 8), s);
    s = _mm256_fmadd_ps(cvt_lo8(odd), _mm256_loadu_ps(xp + 16), s);
    s = _mm256_fmadd_ps(cvt_hi8(odd), _mm256_loadu_ps(xp + 24), s);
    return _mm256_fmadd_ps(s, _mm256_set1_ps(hs), acc);
}

// Dequantize-first variant of block_fma for the scale bytes where a weight itself can overflow to ±inf
// (e >= 253): the reference dequantizes before multiplying, so x must not rescue such a weight.
constexpr uint8_t kOverflowScale = 253;

TLLM_AVX2_FN inline __m256 block_fma_dequantized(__m128i even, __m128i odd, const float* xp, float hs, __m256 acc) {
    __m256 scale = _mm256_set1_ps(hs);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(cvt_lo8(even), scale), _mm256_loadu_ps(xp), acc);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(cvt_hi8(even), scale), _mm256_loadu_ps(xp + 8), acc);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(cvt_lo8(odd), scale), _mm256_loadu_ps(xp + 16), acc);
    return _mm256_fmadd_ps(_mm256_mul_ps(cvt_hi8(odd), scale), _mm256_loadu_ps(xp + 24), acc);
}

TLLM_AVX2_FN inline __m256 any_block_fma(__m128i even, __m128i odd, const float* xp, uint8_t e, __m256 acc) {
    if (e >= kOverflowScale) [[unlikely]] {
        return block_fma_dequantized(even, odd, xp, half_scale(e), acc);
    }
    return block_fma(even, odd, xp, half_scale(e), acc);
}

// Batch 1: one row against the permuted token, reading each weight byte once.
TLLM_AVX2_FN float row_x1_avx2(const uint8_t* blocks, const uint8_t* scales, int64_t n_blocks, const float* xp) {
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= n_blocks; b += 2) {
        __m256i even, odd;
        lookup2_avx2(blocks + b * kMxfp4BlockBytes, &even, &odd);
        acc = any_block_fma(_mm256_castsi256_si128(even), _mm256_castsi256_si128(odd), xp + b * kMxfp4BlockSize,
                            scales[b], acc);
        acc = any_block_fma(_mm256_extracti128_si256(even, 1), _mm256_extracti128_si256(odd, 1),
                            xp + (b + 1) * kMxfp4BlockSize, scales[b + 1], acc);
    }
    if (b < n_blocks) {
        __m128i even, odd;
        lookup1_avx2(blocks + b * kMxfp4BlockBytes, &even, &odd);
        acc = any_block_fma(even, odd, xp + b * kMxfp4BlockSize, scales[b], acc);
    }
    return hsum_avx2(acc);
}

// Stores one decoded block in natural order: lo = elements 0..15, hi = 16..31 as int8 codes.
TLLM_AVX2_FN inline void store_block(__m128i lo, __m128i hi, float hs, float* dst) {
    __m256 scale = _mm256_set1_ps(hs);
    _mm256_storeu_ps(dst, _mm256_mul_ps(cvt_lo8(lo), scale));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(cvt_hi8(lo), scale));
    _mm256_storeu_ps(dst + 16, _mm256_mul_ps(cvt_lo8(hi), scale));
    _mm256_storeu_ps(dst + 24, _mm256_mul_ps(cvt_hi8(hi), scale));
}

TLLM_AVX2_FN void decode_avx2(const uint8_t* blocks, const uint8_t* scales, int64_t n_blocks, float* out) {
    int64_t b = 0;
    for (; b + 2 <= n_blocks; b += 2) {
        __m256i even, odd;
        lookup2_avx2(blocks + b * kMxfp4BlockBytes, &even, &odd);
        // Re-interleave within each 128-bit lane (= block): lo = elements 0..15, hi = 16..31.
        __m256i lo = _mm256_unpacklo_epi8(even, odd);
        __m256i hi = _mm256_unpackhi_epi8(even, odd);
        store_block(_mm256_castsi256_si128(lo), _mm256_castsi256_si128(hi), half_scale(scales[b]),
                    out + b * kMxfp4BlockSize);
        store_block(_mm256_extracti128_si256(lo, 1), _mm256_extracti128_si256(hi, 1), half_scale(scales[b + 1]),
                    out + (b + 1) * kMxfp4BlockSize);
    }
    if (b < n_blocks) {
        __m128i even, odd;
        lookup1_avx2(blocks + b * kMxfp4BlockBytes, &even, &odd);
        store_block(_mm_unpacklo_epi8(even, odd), _mm_unpackhi_epi8(even, odd), half_scale(scales[b]),
                    out + b * kMxfp4BlockSize);
    }
}

// x_perm: [k] = per block, x's even elements then its odd ones (matching lookup's even/odd split).
void permute_x(const float* x, int64_t k, float* x_perm) {
    for (int64_t b = 0; b < k; b += kMxfp4BlockSize) {
        for (int j = 0; j < kMxfp4BlockSize / 2; ++j) {
            x_perm[b + j] = x[b + 2 * j];
            x_perm[b + kMxfp4BlockSize / 2 + j] = x[b + 2 * j + 1];
        }
    }
}

TLLM_AVX2_FN void rows_avx2(const float* x,
                            const float* x_perm,
                            int64_t n,
                            int64_t k,
                            const uint8_t* blocks,
                            const uint8_t* scales,
                            int64_t m,
                            const uint16_t* bias,
                            float* y,
                            int64_t begin,
                            int64_t end) {
    int64_t blocks_per_row = k / kMxfp4BlockSize;
    if (n == 1) {
        for (int64_t row = begin; row < end; ++row) {
            y[row] = row_x1_avx2(blocks + row * blocks_per_row * kMxfp4BlockBytes, scales + row * blocks_per_row,
                                 blocks_per_row, x_perm) +
                     bias_at(bias, row);
        }
        return;
    }
    // The lambda carries the AVX2 target too, or GCC could not inline decode_avx2 into it.
    rows_tiled_avx2(x, n, k, m, bias, y, begin, end, [&](int64_t r0, int64_t rows, float* out) TLLM_AVX2_FN {
        decode_avx2(blocks + r0 * blocks_per_row * kMxfp4BlockBytes, scales + r0 * blocks_per_row,
                    rows * blocks_per_row, out);
    });
}

#endif // TLLM_HAVE_X86

} // namespace

void mxfp4w_matmul(ThreadPool& pool,
                   const float* x,
                   int64_t n,
                   int64_t k,
                   const uint8_t* blocks,
                   const uint8_t* scales,
                   int64_t m,
                   const uint16_t* bias,
                   float* y,
                   SimdPath path) {
    TLLM_CHECK(n >= 0 && k >= 0 && m >= 0, "bad shape n={} k={} m={}", n, k, m);
    TLLM_CHECK(k % kMxfp4BlockSize == 0, "MXFP4 k={} is not a multiple of {}", k, kMxfp4BlockSize);
    if (n == 0 || m == 0) {
        return;
    }
    path = resolve_path(path);
#if TLLM_HAVE_X86
    if (path == SimdPath::kAvx2) {
        std::vector<float> x_perm; // [k] f32, only for the fused batch-1 kernel
        if (n == 1) {
            x_perm.resize(static_cast<size_t>(k));
            permute_x(x, k, x_perm.data());
        }
        pool.parallel_for(m, kRowGrain, [&](int64_t begin, int64_t end) {
            rows_avx2(x, x_perm.data(), n, k, blocks, scales, m, bias, y, begin, end);
        });
        return;
    }
#endif
    pool.parallel_for(m, kRowGrain, [&](int64_t begin, int64_t end) {
        int64_t blocks_per_row = k / kMxfp4BlockSize;
        rows_portable(x, n, k, m, bias, y, begin, end, [&](int64_t r0, int64_t rows, float* out) {
            decode_portable(blocks + r0 * blocks_per_row * kMxfp4BlockBytes, scales + r0 * blocks_per_row,
                            rows * blocks_per_row, out);
        });
    });
}

} // namespace tllm::cpu
