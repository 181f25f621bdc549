// Runtime choice of the matrix kernels' vector path. The build targets generic x86-64, so AVX2+FMA
// code lives in functions compiled for that target and is only entered after this check.
#include "kernels/cpu/ops.h"

namespace tllm::cpu {

SimdPath detect_simd_path() {
#if defined(__x86_64__) || defined(__i386__)
    // Both are needed: the kernels use 256-bit integer shuffles (AVX2) and fused multiply-adds (FMA).
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return SimdPath::kAvx2;
    }
#endif
    return SimdPath::kPortable;
}

const char* simd_path_name(SimdPath path) {
    switch (path) {
    case SimdPath::kAuto:
        return "auto";
    case SimdPath::kPortable:
        return "portable";
    case SimdPath::kAvx2:
        return "avx2";
    }
    return "unknown";
}

} // namespace tllm::cpu
