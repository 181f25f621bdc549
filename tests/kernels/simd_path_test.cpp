// detect_simd_path and simd_path_name.
#include "kernel_test_util.h"

#include <string>

namespace tllm::cpu {
namespace {

TEST(SimdPath, DetectionFollowsCpuFeatures) {
    SimdPath path = detect_simd_path();
    EXPECT_NE(path, SimdPath::kAuto); // kAuto must resolve to a concrete path
#if defined(__x86_64__) || defined(__i386__)
    bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    EXPECT_EQ(path == SimdPath::kAvx2, avx2_fma);
#else
    EXPECT_EQ(path, SimdPath::kPortable);
#endif
}

TEST(SimdPath, NamesAreDistinct) {
    EXPECT_EQ(std::string(simd_path_name(SimdPath::kAuto)), "auto");
    EXPECT_EQ(std::string(simd_path_name(SimdPath::kPortable)), "portable");
    EXPECT_EQ(std::string(simd_path_name(SimdPath::kAvx2)), "avx2");
}

TEST(SimdPath, AutoGivesTheDetectedPathsResult) {
    // The matrix kernels resolve kAuto through detect_simd_path: same numbers, bit for bit.
    ThreadPool pool(1);
    Rng rng(3);
    const int64_t k = 64, m = 10;
    std::vector<float> x = test_util::random_floats(rng, k, -1.0f, 1.0f);
    std::vector<uint16_t> w = test_util::random_bf16(rng, m * k, -1.0f, 1.0f);
    std::vector<float> y_auto(m), y_detected(m);
    bf16w_matmul(pool, x.data(), 1, k, w.data(), m, nullptr, y_auto.data(), SimdPath::kAuto);
    bf16w_matmul(pool, x.data(), 1, k, w.data(), m, nullptr, y_detected.data(), detect_simd_path());
    for (int64_t i = 0; i < m; ++i) {
        ASSERT_EQ(y_auto[i], y_detected[i]) << "row " << i;
    }
}

} // namespace
} // namespace tllm::cpu
