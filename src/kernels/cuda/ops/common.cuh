// Shared device helpers for every kernel module. Kernel sources include nothing but this header:
// they are compiled both by nvcc (embedded CUBIN) and by NVRTC at run time, where no standard or
// CUDA headers are available, so bf16 is handled as raw bits.
#pragma once

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef long long i64;

#define TLLM_KERNEL extern "C" __global__

namespace tllm_dev {

// A group of at most tile_size (token, slot) pairs routed to one expert: made by f32_topk_route.cu,
// consumed by mxfp4w_moe_matmul.cu; the host mirror is kernels/cuda/ops.h's MoeTile.
struct MoeTile {
    int expert;
    int first; // index into sorted_pairs
    int count;
    int pad;
};

// Where a token's positions live in a KV cache (host mirror: kernels/cuda/ops.h's KvRows). Contiguous when tables
// is null: row = position. Paged (runtime/kv_cache_manager.h): token t's block table starts at
// tables[table_offset[t]], and row = table[position / block_tokens] · block_rows + position % block_tokens.
struct KvRows {
    const int* tables;
    const int* table_offset;
    int block_tokens;
    int block_rows;
    __device__ __forceinline__ i64 row(int t, int position) const {
        if (tables == nullptr) {
            return position;
        }
        const int block = tables[table_offset[t] + position / block_tokens];
        return static_cast<i64>(block) * block_rows + position % block_tokens;
    }
};

__device__ __forceinline__ float bf16_to_f32(u16 bits) { return __uint_as_float(static_cast<u32>(bits) << 16); }

// Round to nearest even, NaN kept quiet: the same rounding as core/dtype.h's f32_to_bf16_bits.
__device__ __forceinline__ u16 f32_to_bf16(float value) {
    u32 bits = __float_as_uint(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return static_cast<u16>((bits >> 16) | 0x40u);
    }
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<u16>(bits >> 16);
}

__device__ __forceinline__ float round_bf16(float value) { return bf16_to_f32(f32_to_bf16(value)); }

// Two bf16 in one word, `lo` in the low half (the element order of mma fragments and of memory).
__device__ __forceinline__ u32 pack_bf16(float lo, float hi) {
    return static_cast<u32>(f32_to_bf16(lo)) | (static_cast<u32>(f32_to_bf16(hi)) << 16);
}

// Two finite f32 rounded to nearest-even bf16 in one instruction (sm_80 and newer), `lo` in the low half.
__device__ __forceinline__ u32 pack_bf16_rn(float lo, float hi) {
    u32 packed;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(packed) : "f"(hi), "f"(lo));
    return packed;
}

// d = a·b + d for one 16×8 tile on tensor cores (sm_80 and newer): a 16×16 row-major, b 16×8 column-major,
// bf16 pairs in u32, f32 accumulation.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const u32 (&a)[4], u32 b0, u32 b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Half of an MXFP4 block's E8M0 scale, 2^(e−128): MXFP4 codes are used doubled (the integers 0..12, so that
// products with them are exact), and this undoes the doubling. Exact for every e, subnormal results included.
__device__ __forceinline__ float mxfp4_half_scale(u32 e) {
    return e >= 2 ? __uint_as_float((e - 1) << 23) : __uint_as_float(0x00200000u << e);
}

// gpt-oss's clamped SwiGLU of one (gate, linear) pair. fminf/fmaxf would drop a NaN; torch's clamp keeps it, as
// the CPU reference does.
__device__ __forceinline__ float swiglu_clamped(float gate, float linear, float alpha, float limit) {
    gate = gate > limit ? limit : gate;
    linear = linear > limit ? limit : (linear < -limit ? -limit : linear);
    const float sigmoid = 1.0f / (1.0f + expf(-alpha * gate));
    return (gate * sigmoid) * (linear + 1.0f);
}

// `round` is the precision of a step: nonzero rounds where the model keeps bf16 tensors, zero keeps
// float32 (the f32 reference, docs/precision.md).
__device__ __forceinline__ float round_if(float value, int round) { return round ? round_bf16(value) : value; }

// KV-cache elements: bf16 bits in bf16 precision, float in the f32 reference.
__device__ __forceinline__ float kv_load(const u16* p) { return bf16_to_f32(*p); }
__device__ __forceinline__ float kv_load(const float* p) { return *p; }
__device__ __forceinline__ void kv_store(u16* p, float value) { *p = f32_to_bf16(value); }
__device__ __forceinline__ void kv_store(float* p, float value) { *p = value; }
// Activations that the bf16 model rounds where a bf16 KV cache is used, and keeps in f32 otherwise.
__device__ __forceinline__ float kv_round(const u16*, float value) { return round_bf16(value); }
__device__ __forceinline__ float kv_round(const float*, float value) { return value; }

// Shared-memory index of activation element i: 4 floats of padding every 32 (one MXFP4 block, four
// bf16 chunks) keep the 16-byte reads of lanes 32 elements apart on distinct banks.
__device__ __forceinline__ int padded(int i) { return i + ((i >> 5) << 2); }

// tile[padded(i)] = x[i] for i < k (k a multiple of 4, x 16-byte aligned). Each thread issues up to four
// 16-byte loads before its first store, so staging costs one L2 round trip instead of one per pass of
// the block over x: in a decode kernel that round trip sits on the critical path of every block.
// Plain loads, not __ldg: x was written by the previous kernel of the step.
__device__ __forceinline__ void stage_padded(float* tile, const float* __restrict__ x, int k) {
    const int quads = k >> 2;
    const float4* src = reinterpret_cast<const float4*>(x);
    for (int base = threadIdx.x; base < quads; base += 4 * blockDim.x) {
        float4 v[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int q = base + j * blockDim.x;
            if (q < quads) {
                v[j] = src[q];
            }
        }
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int q = base + j * blockDim.x;
            if (q < quads) {
                *reinterpret_cast<float4*>(tile + padded(q << 2)) = v[j];
            }
        }
    }
}

// Programmatic dependent launch (sm_90+): kernels of a forward step are launched so that they may start
// while the previous kernel finishes. Each calls grid_dependency_wait() before it reads what earlier
// kernels wrote or writes what they read (work that depends on neither, such as requesting weights,
// may come before), and allow_dependents() to let the next kernel's blocks be scheduled. Both are
// no-ops on older GPUs, where kernels simply run one after another.
__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void allow_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ float warp_sum(float value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    }
    return value;
}

__device__ __forceinline__ double warp_sum(double value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    }
    return value;
}

__device__ __forceinline__ float warp_max(float value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
    }
    return value;
}

__device__ __forceinline__ u64 warp_max(u64 value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        const u64 other = __shfl_xor_sync(0xffffffffu, value, offset);
        value = other > value ? other : value;
    }
    return value;
}

__device__ __forceinline__ float larger(float a, float b) { return fmaxf(a, b); } // NaN loses
__device__ __forceinline__ u64 larger(u64 a, u64 b) { return a > b ? a : b; }

// Sum and maximum over the block; `scratch` holds one T per warp. Every thread gets the result.
template <typename T> __device__ __forceinline__ T block_sum(T value, T* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int n_warps = (blockDim.x + 31) >> 5;
    value = warp_sum(value);
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = value;
    }
    __syncthreads();
    T total = 0;
    for (int w = 0; w < n_warps; ++w) {
        total += scratch[w];
    }
    return total;
}

template <typename T> __device__ __forceinline__ T block_max(T value, T* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int n_warps = (blockDim.x + 31) >> 5;
    value = warp_max(value);
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = value;
    }
    __syncthreads();
    T best = scratch[0];
    for (int w = 1; w < n_warps; ++w) {
        best = larger(best, scratch[w]);
    }
    return best;
}

} // namespace tllm_dev
