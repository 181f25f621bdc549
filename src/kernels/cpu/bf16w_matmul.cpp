// y = x·Wᵀ + bias with bf16 weight rows. At batch 1 the weights are streamed once straight from the
// map (memory-bound); for several tokens a block of rows is widened to f32 once into a small scratch
// buffer that stays in L2 and is reused for every token, in tiles of several rows x several tokens
// (the format-independent loops and the summation order are in widened_matmul.h; this file only widens).
#include "core/check.h"
#include "core/dtype.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/widened_matmul.h"

namespace tllm::cpu {
namespace {

using namespace detail;

// ---------------------------------------------------------------------------------------------
// Portable path.

void widen_portable(const uint16_t* w, int64_t count, float* out) {
    for (int64_t i = 0; i < count; ++i) {
        out[i] = bf16_to_f32(w[i]);
    }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA path.
#if TLLM_HAVE_X86

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
    // The lambda carries the AVX2 target too, or GCC could not inline widen_avx2 into it.
    rows_tiled_avx2(x, n, k, m, bias, y, begin, end,
                    [&](int64_t r0, int64_t rows, float* out) TLLM_AVX2_FN { widen_avx2(w + r0 * k, rows * k, out); });
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
        rows_portable(x, n, k, m, bias, y, begin, end,
                      [&](int64_t r0, int64_t rows, float* out) { widen_portable(w + r0 * k, rows * k, out); });
    });
}

} // namespace tllm::cpu
