// y = x·Wᵀ + bias with bf16 weight rows. At batch 1 the weights are streamed once straight from the
// map (memory-bound); for several tokens a block of rows is widened to f32 once into a small scratch
// buffer that stays in L2 and is reused for every token, in tiles of several rows x several tokens.
//
// Every output is Σ over 8 lanes (lane l takes k ≡ l mod 8), lanes reduced in a fixed order, then the
// k % 8 tail and the bias: the same order in every path and tiling, so results do not depend on the
// thread count or on n, and the AVX2 and portable paths differ only by FMA-vs-mul+add rounding.
#include "core/check.h"
#include "core/dtype.h"
#include "kernels/cpu/ops.h"

#include <algorithm>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#define TLLM_HAVE_X86 1
#include <immintrin.h>
#define TLLM_AVX2_FN __attribute__((target("avx2,fma")))
#else
#define TLLM_HAVE_X86 0
#endif

namespace tllm::cpu {
namespace {

constexpr int64_t kRowGrain = 32; // rows per parallel chunk at least: a few KB..100s of KB of weights
constexpr int64_t kRowBlock = 16; // rows widened at once for n > 1: 16·2880·4 B = 184 KB, fits L2
constexpr int kTileRows = 4;      // register tile: 4 rows x 3 tokens = 12 accumulators + 3 x + 1 w
constexpr int kTileTokens = 3;
// The fixed-trip loops over lanes, rows and tokens carry `#pragma GCC unroll`: at -O2 GCC leaves them
// rolled, which keeps the accumulators in memory and costs several times the FMA throughput.

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

void widen_portable(const uint16_t* w, int64_t count, float* out) {
    for (int64_t i = 0; i < count; ++i) {
        out[i] = bf16_to_f32(w[i]);
    }
}

// Eight independent partial sums, as the AVX2 lanes; also lets the compiler vectorize.
float dot_portable(const float* a, const float* b, int64_t k) {
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

void rows_portable(const float* x,
                   int64_t n,
                   int64_t k,
                   const uint16_t* w,
                   int64_t m,
                   const uint16_t* bias,
                   float* y,
                   int64_t begin,
                   int64_t end) {
    // [kRowBlock, k] f32; every element is written before it is read, so no zero-fill.
    auto wide = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(kRowBlock * k));
    for (int64_t r0 = begin; r0 < end; r0 += kRowBlock) {
        int64_t rows = std::min(kRowBlock, end - r0);
        widen_portable(w + r0 * k, rows * k, wide.get());
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

TLLM_AVX2_FN inline __m256 load_bf16x8(const uint16_t* p) {
    __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
}

TLLM_AVX2_FN void widen_avx2(const uint16_t* w, int64_t count, float* out) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) {
        _mm256_storeu_ps(out + i, load_bf16x8(w + i));
    }
    for (; i < count; ++i) {
        out[i] = bf16_to_f32(w[i]);
    }
}

// Batch 1: R bf16 rows read straight from the weights against one token. R independent FMA chains
// keep the loads in flight; the weights are touched exactly once.
template <int R> TLLM_AVX2_FN void rows_x1_avx2(const uint16_t* w, int64_t k, const float* x, float* out) {
    __m256 acc[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        acc[r] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            acc[r] = _mm256_fmadd_ps(load_bf16x8(w + r * k + i), xv, acc[r]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        float sum = hsum_avx2(acc[r]);
        for (int64_t j = i; j < k; ++j) {
            sum += bf16_to_f32(w[r * k + j]) * x[j];
        }
        out[r] = sum;
    }
}

// R widened rows x T tokens; sums: [R, T].
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
constexpr TileFn kTiles[kTileRows][kTileTokens] = {
    {tile_avx2<1, 1>, tile_avx2<1, 2>, tile_avx2<1, 3>},
    {tile_avx2<2, 1>, tile_avx2<2, 2>, tile_avx2<2, 3>},
    {tile_avx2<3, 1>, tile_avx2<3, 2>, tile_avx2<3, 3>},
    {tile_avx2<4, 1>, tile_avx2<4, 2>, tile_avx2<4, 3>},
};

TLLM_AVX2_FN void rows_avx2(const float* x,
                            int64_t n,
                            int64_t k,
                            const uint16_t* w,
                            int64_t m,
                            const uint16_t* bias,
                            float* y,
                            int64_t begin,
                            int64_t end) {
    if (n == 1) {
        int64_t row = begin;
        for (; row + 4 <= end; row += 4) {
            rows_x1_avx2<4>(w + row * k, k, x, y + row);
        }
        switch (end - row) {
        case 3:
            rows_x1_avx2<3>(w + row * k, k, x, y + row);
            break;
        case 2:
            rows_x1_avx2<2>(w + row * k, k, x, y + row);
            break;
        case 1:
            rows_x1_avx2<1>(w + row * k, k, x, y + row);
            break;
        default:
            break;
        }
        for (row = begin; row < end; ++row) {
            y[row] += bias_at(bias, row);
        }
        return;
    }
    // [kRowBlock, k] f32; every element is written before it is read, so no zero-fill.
    auto wide = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(kRowBlock * k));
    float sums[kTileRows * kTileTokens];
    for (int64_t r0 = begin; r0 < end; r0 += kRowBlock) {
        int64_t rows = std::min(kRowBlock, end - r0);
        widen_avx2(w + r0 * k, rows * k, wide.get());
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

void bf16w_matmul(ThreadPool& pool,
                  const float* x,
                  int64_t n,
                  int64_t k,
                  const uint16_t* w,
                  int64_t m,
                  const uint16_t* bias,
                  float* y,
                  SimdPath path) {
    TLLM_CHECK(n >= 0 && k >= 0 && m >= 0, "bad shape n={} k={} m={}", n, k, m);
    if (n == 0 || m == 0) {
        return;
    }
    path = resolve_path(path);
    pool.parallel_for(m, kRowGrain, [&](int64_t begin, int64_t end) {
#if TLLM_HAVE_X86
        if (path == SimdPath::kAvx2) {
            rows_avx2(x, n, k, w, m, bias, y, begin, end);
            return;
        }
#endif
        rows_portable(x, n, k, w, m, bias, y, begin, end);
    });
}

} // namespace tllm::cpu
