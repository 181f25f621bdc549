// The two kernels around a dense product that cuBLASLt computes (kernels/cuda/cublaslt.h; CPU reference:
// kernels/cpu bf16w_matmul, the same as ops/bf16w_matmul_mma.cu's):
//   bf16w_matmul_library_pack:     xb[i] = bf16(x[i]), exact: in bf16 precision x holds bf16 values
//   bf16w_matmul_library_epilogue: y = round_if(y + bias[col], round) in place, after the library wrote
//                                  y = x·Wᵀ (or y + x·Wᵀ for the residual update)
// Grid-stride loops over groups of 8 (pack) and 4 (epilogue) elements; block: 256 threads.
#include "common.cuh"

using namespace tllm_dev;

// x: [count] f32 holding bf16 values; xb: [count] bf16. count is a multiple of 8, both 16-byte aligned.
TLLM_KERNEL void __launch_bounds__(256) bf16w_matmul_library_pack(const float* x, i64 count, u16* xb) {
    grid_dependency_wait();
    allow_dependents();
    const i64 groups = count / 8;
    for (i64 g = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x; g < groups;
         g += static_cast<i64>(gridDim.x) * blockDim.x) {
        const float4 lo = reinterpret_cast<const float4*>(x)[2 * g];
        const float4 hi = reinterpret_cast<const float4*>(x)[2 * g + 1];
        // The high half of a bf16 value's f32 bits is the bf16 itself.
        uint4 packed;
        packed.x = __byte_perm(__float_as_uint(lo.x), __float_as_uint(lo.y), 0x7632);
        packed.y = __byte_perm(__float_as_uint(lo.z), __float_as_uint(lo.w), 0x7632);
        packed.z = __byte_perm(__float_as_uint(hi.x), __float_as_uint(hi.y), 0x7632);
        packed.w = __byte_perm(__float_as_uint(hi.z), __float_as_uint(hi.w), 0x7632);
        reinterpret_cast<uint4*>(xb)[g] = packed;
    }
}

// y: [n, m] f32 (m a multiple of 4, 16-byte aligned); bias: [m] bf16 or null.
TLLM_KERNEL void __launch_bounds__(256)
    bf16w_matmul_library_epilogue(float* y, i64 n, int m, const u16* bias, int round) {
    grid_dependency_wait();
    allow_dependents();
    const i64 groups = n * m / 4;
    for (i64 g = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x; g < groups;
         g += static_cast<i64>(gridDim.x) * blockDim.x) {
        float4 v = reinterpret_cast<float4*>(y)[g];
        if (bias != nullptr) {
            const int col = static_cast<int>((4 * g) % m);
            v.x += bf16_to_f32(bias[col]);
            v.y += bf16_to_f32(bias[col + 1]);
            v.z += bf16_to_f32(bias[col + 2]);
            v.w += bf16_to_f32(bias[col + 3]);
        }
        v.x = round_if(v.x, round);
        v.y = round_if(v.y, round);
        v.z = round_if(v.z, round);
        v.w = round_if(v.w, round);
        reinterpret_cast<float4*>(y)[g] = v;
    }
}
