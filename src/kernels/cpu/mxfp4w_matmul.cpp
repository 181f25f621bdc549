// y = x·dequant(W)ᵀ + bias with MXFP4 weight rows (32-element blocks along k, one E8M0 scale each).
//
// Codes are looked up as *doubled* E2M1 values {0, 1, 2, 3, 4, 6, 8, 12, ...} so that all are int8, and
// multiplied by the half scale 2^(e−128): the product equals value·2^(e−127) exactly, also at e = 255 where
// 2^(e−127) alone would overflow f32 and at e ≤ 1 where it is subnormal.
//
// Batch 1 (decode) fuses the lookup into the dot product and reads each weight byte once; the block sum
// Σ code·x is scaled once per block, and x is pre-permuted so even and odd codes (low and high nibbles)
// meet contiguous x without an interleave. For n > 1 a block of rows is decoded to f32 once into an
// L2-resident scratch buffer and reused by every token in register tiles of rows x tokens.
#include "core/check.h"
#include "core/dtype.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <bit>
#include <memory>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#define TLLM_HAVE_X86 1
#include <immintrin.h>
#define TLLM_AVX2_FN __attribute__((target("avx2,fma")))
#else
#define TLLM_HAVE_X86 0
#endif

namespace tllm::cpu {
namespace {

constexpr int64_t kRowGrain = 32; // rows per parallel chunk at least
constexpr int64_t kRowBlock = 16; // rows decoded at once for n > 1: 16·2880·4 B = 184 KB, fits L2
constexpr int kTileRows = 4;      // register tile: 4 rows x 3 tokens = 12 accumulators + 3 x + 1 w
constexpr int kTileTokens = 3;
// The fixed-trip loops over lanes, rows and tokens carry `#pragma GCC unroll`: at -O2 GCC leaves them
// rolled, which keeps the accumulators in memory and costs several times the FMA throughput.

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

SimdPath resolve_path(SimdPath path) {
    SimdPath native = detect_simd_path();
    if (path == SimdPath::kAuto) {
        return native;
    }
    TLLM_CHECK(path != SimdPath::kAvx2 || native == SimdPath::kAvx2, "AVX2+FMA path requested on a CPU without it");
    return path;
}

float bias_at(const uint16_t* bias, int64_t row) { return bias != nullptr ? bf16_to_f32(bias[row]) : 0.0f; }

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

// Eight independent partial sums, as the AVX2 lanes; also lets the compiler vectorize.
float dot_portable(const float* a, const float* b, int64_t k) {
    float lanes[8] = {};
    for (int64_t i = 0; i < k; i += 8) {
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) {
            lanes[l] += a[i + l] * b[i + l];
        }
    }
    return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
}

void rows_portable(const float* x,
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
    // [kRowBlock, k] f32; every element is written before it is read, so no zero-fill.
    auto wide = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(kRowBlock * k));
    for (int64_t r0 = begin; r0 < end; r0 += kRowBlock) {
        int64_t rows = std::min(kRowBlock, end - r0);
        decode_portable(blocks + r0 * blocks_per_row * kMxfp4BlockBytes, scales + r0 * blocks_per_row,
                        rows * blocks_per_row, wide.get());
        for (int64_t t = 0; t < n; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
                y[t * m + r0 + r] = dot_portable(wide.get() + r * k, x + t * k, k) + bias_at(bias, r0 + r);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA path.
#if TLLM_HAVE_X86

TLLM_AVX2_FN inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

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

// R decoded rows x T tokens; sums: [R, T]. k is a multiple of 32, so there is no tail.
template <int R, int T> TLLM_AVX2_FN void tile_avx2(const float* w, const float* x, int64_t k, float* sums) {
    __m256 acc[R][T];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            acc[r][t] = _mm256_setzero_ps();
        }
    }
    for (int64_t i = 0; i < k; i += 8) {
        __m256 xv[T];
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            xv[t] = _mm256_loadu_ps(x + t * k + i);
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            __m256 wv = _mm256_loadu_ps(w + r * k + i);
#pragma GCC unroll 8
            for (int t = 0; t < T; ++t) {
                acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            sums[r * T + t] = hsum_avx2(acc[r][t]);
        }
    }
}

using TileFn = void (*)(const float*, const float*, int64_t, float*);
constexpr TileFn kTiles[kTileRows][kTileTokens] = {
    {tile_avx2<1, 1>, tile_avx2<1, 2>, tile_avx2<1, 3>},
    {tile_avx2<2, 1>, tile_avx2<2, 2>, tile_avx2<2, 3>},
    {tile_avx2<3, 1>, tile_avx2<3, 2>, tile_avx2<3, 3>},
    {tile_avx2<4, 1>, tile_avx2<4, 2>, tile_avx2<4, 3>},
};

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
    // [kRowBlock, k] f32; every element is written before it is read, so no zero-fill.
    auto wide = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(kRowBlock * k));
    float sums[kTileRows * kTileTokens];
    for (int64_t r0 = begin; r0 < end; r0 += kRowBlock) {
        int64_t rows = std::min(kRowBlock, end - r0);
        decode_avx2(blocks + r0 * blocks_per_row * kMxfp4BlockBytes, scales + r0 * blocks_per_row,
                    rows * blocks_per_row, wide.get());
        for (int64_t t0 = 0; t0 < n; t0 += kTileTokens) {
            int tokens = static_cast<int>(std::min<int64_t>(kTileTokens, n - t0));
            for (int64_t r1 = 0; r1 < rows; r1 += kTileRows) {
                int tile_rows = static_cast<int>(std::min<int64_t>(kTileRows, rows - r1));
                kTiles[tile_rows - 1][tokens - 1](wide.get() + r1 * k, x + t0 * k, k, sums);
                for (int r = 0; r < tile_rows; ++r) {
                    int64_t row = r0 + r1 + r;
                    float b = bias_at(bias, row);
                    for (int t = 0; t < tokens; ++t) {
                        y[(t0 + t) * m + row] = sums[r * tokens + t] + b;
                    }
                }
            }
        }
    }
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
        rows_portable(x, n, k, blocks, scales, m, bias, y, begin, end);
    });
}

} // namespace tllm::cpu
