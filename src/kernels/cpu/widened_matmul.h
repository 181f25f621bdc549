// Internal to the CPU matrix kernels (bf16w_matmul.cpp, mxfp4w_matmul.cpp): the part of y = x·Wᵀ + bias
// that does not depend on the weight format. For n > 1 a block of rows is widened (bf16) or decoded (MXFP4)
// to f32 once into a small L2-resident scratch buffer and reused for every token; each kernel supplies only
// that widening step, as a callable widen(r0, rows, out) that writes rows [r0, r0 + rows) as [rows, k] f32.
//
// Every output is Σ over 8 lanes (lane l takes k ≡ l mod 8), lanes reduced in a fixed order, then the
// k % 8 tail and the bias: the same order in every path and tiling, so results do not depend on the
// thread count or on n, and the AVX2 and portable paths differ only by FMA-vs-mul+add rounding.
#pragma once

#include "core/check.h"
#include "core/dtype.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cstdint>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#define TLLM_HAVE_X86 1
#include <immintrin.h>
// Per-function target instead of -mavx2 for the whole build: the binary still runs on CPUs without AVX2,
// and resolve_path picks the portable path there.
#define TLLM_AVX2_FN __attribute__((target("avx2,fma")))
#else
#define TLLM_HAVE_X86 0
#endif

namespace tllm::cpu::detail {

constexpr int64_t kRowGrain = 32; // rows per parallel chunk at least: a few KB..100s of KB of weights
constexpr int64_t kRowBlock = 16; // rows widened at once for n > 1: 16·2880·4 B = 184 KB, fits L2
constexpr int kTileRows = 4;      // register tile: 4 rows x 3 tokens = 12 accumulators + 3 x + 1 w
constexpr int kTileTokens = 3;
// The fixed-trip loops over lanes, rows and tokens carry `#pragma GCC unroll`: at -O2 GCC leaves them
// rolled, which keeps the accumulators in memory and costs several times the FMA throughput.

inline SimdPath resolve_path(SimdPath path) {
    SimdPath native = detect_simd_path();
    if (path == SimdPath::kAuto) {
        return native;
    }
    TLLM_CHECK(path != SimdPath::kAvx2 || native == SimdPath::kAvx2, "AVX2+FMA path requested on a CPU without it");
    return path;
}

inline float bias_at(const uint16_t* bias, int64_t row) { return bias != nullptr ? bf16_to_f32(bias[row]) : 0.0f; }

// ---------------------------------------------------------------------------------------------
// Portable path.

// Eight independent partial sums, as the AVX2 lanes; also lets the compiler vectorize.
inline float dot_portable(const float* a, const float* b, int64_t k) {
    float lanes[8] = {};
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) {
            lanes[l] += a[i + l] * b[i + l];
        }
    }
    float sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    for (; i < k; ++i) {
        sum += a[i] * b[i];
    }
    return sum;
}

// Rows [begin, end) of y for all n tokens. A template, not a function pointer, so the widening step is
// inlined into the loop as it was when each kernel had its own copy.
template <class Widen>
void rows_portable(const float* x,
                   int64_t n,
                   int64_t k,
                   int64_t m,
                   const uint16_t* bias,
                   float* y,
                   int64_t begin,
                   int64_t end,
                   Widen&& widen) {
    // [kRowBlock, k] f32; every element is written before it is read, so no zero-fill.
    auto wide = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(kRowBlock * k));
    for (int64_t r0 = begin; r0 < end; r0 += kRowBlock) {
        int64_t rows = std::min(kRowBlock, end - r0);
        widen(r0, rows, wide.get());
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

// Lane sums in the same order as dot_portable: (0+4)+(2+6) + (1+5)+(3+7).
TLLM_AVX2_FN inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// R widened rows x T tokens; sums: [R, T]. The k % 8 tail loop never runs for MXFP4 (k is a multiple of 32).
template <int R, int T> TLLM_AVX2_FN void tile_avx2(const float* w, const float* x, int64_t k, float* sums) {
    __m256 acc[R][T];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
            acc[r][t] = _mm256_setzero_ps();
        }
    }
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
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
            float sum = hsum_avx2(acc[r][t]);
            for (int64_t j = i; j < k; ++j) {
                sum += w[r * k + j] * x[t * k + j];
            }
            sums[r * T + t] = sum;
        }
    }
}

using TileFn = void (*)(const float*, const float*, int64_t, float*);
inline constexpr TileFn kTiles[kTileRows][kTileTokens] = {
    {tile_avx2<1, 1>, tile_avx2<1, 2>, tile_avx2<1, 3>},
    {tile_avx2<2, 1>, tile_avx2<2, 2>, tile_avx2<2, 3>},
    {tile_avx2<3, 1>, tile_avx2<3, 2>, tile_avx2<3, 3>},
    {tile_avx2<4, 1>, tile_avx2<4, 2>, tile_avx2<4, 3>},
};

// Rows [begin, end) of y for n > 1 tokens: each block of rows is widened once, then multiplied in register
// tiles of rows x tokens. Batch 1 is format-specific (it streams the weights without widening) and stays
// in the kernels.
template <class Widen>
TLLM_AVX2_FN void rows_tiled_avx2(const float* x,
                                  int64_t n,
                                  int64_t k,
                                  int64_t m,
                                  const uint16_t* bias,
                                  float* y,
                                  int64_t begin,
                                  int64_t end,
                                  Widen&& widen) {
    // [kRowBlock, k] f32; every element is written before it is read, so no zero-fill.
    auto wide = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(kRowBlock * k));
    float sums[kTileRows * kTileTokens];
    for (int64_t r0 = begin; r0 < end; r0 += kRowBlock) {
        int64_t rows = std::min(kRowBlock, end - r0);
        widen(r0, rows, wide.get());
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

} // namespace tllm::cpu::detail
