// Shared helpers for the CPU kernel tests: seeded inputs and the list of SIMD paths to exercise.
#pragma once

#include "core/dtype.h"
#include "core/random.h"
#include "kernels/cpu/ops.h"

#include <cstdint>
#include <gtest/gtest.h>
#include <vector>

namespace tllm::cpu::test_util {

// y[n, m] = x[n, k] · w[m, k]ᵀ
struct MatmulShape {
    int64_t n, k, m;
};

inline std::vector<float> random_floats(Rng& rng, int64_t count, float low, float high) {
    std::vector<float> out(static_cast<size_t>(count));
    for (auto& v : out) {
        v = rng.uniform(low, high);
    }
    return out;
}

inline std::vector<uint16_t> random_bf16(Rng& rng, int64_t count, float low, float high) {
    std::vector<uint16_t> out(static_cast<size_t>(count));
    for (auto& v : out) {
        v = f32_to_bf16_bits(rng.uniform(low, high));
    }
    return out;
}

inline std::vector<uint8_t> random_bytes(Rng& rng, int64_t count, int low = 0, int high = 255) {
    std::vector<uint8_t> out(static_cast<size_t>(count));
    for (auto& v : out) {
        v = static_cast<uint8_t>(low + static_cast<int>(rng.next() % static_cast<uint64_t>(high - low + 1)));
    }
    return out;
}

inline bool cpu_has_avx2() { return detect_simd_path() == SimdPath::kAvx2; }

// Skips the calling test when it asks for AVX2 on a CPU without it.
#define TLLM_SKIP_IF_NO_PATH(path)                                                                                     \
    do {                                                                                                               \
        if ((path) == ::tllm::cpu::SimdPath::kAvx2 && !::tllm::cpu::test_util::cpu_has_avx2()) {                       \
            GTEST_SKIP() << "CPU lacks AVX2+FMA";                                                                      \
        }                                                                                                              \
    } while (0)

inline std::string path_param_name(const ::testing::TestParamInfo<SimdPath>& info) {
    return simd_path_name(info.param);
}

} // namespace tllm::cpu::test_util
