// cp.async (sm_80 and newer): copies from global to shared memory that bypass registers, so that several
// stages of a kernel's tiles can be in flight while it computes on an earlier one; and ldmatrix, which reads
// mma fragments from shared memory.
#pragma once

#include "common.cuh"

namespace tllm_dev {

__device__ __forceinline__ u32 shared_address(const void* p) {
    u32 address;
    asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(address) : "l"(p));
    return address;
}

// 16 bytes from global to shared memory without registers; `bytes` 0 fills zeros and reads nothing.
__device__ __forceinline__ void copy_async_16(void* shared, const void* global, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(shared)), "l"(global),
                 "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// Waits until at most `Pending` of this thread's committed groups are still in flight.
template <int Pending> __device__ __forceinline__ void copy_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
}

// The loop of a Stages-deep copy pipeline over n_stages stages: load(stage) starts the copies of a stage into
// buffer stage % Stages, and compute(stage) runs once that stage has landed for all threads, while the next
// Stages − 1 are in flight. One barrier per stage keeps a buffer from being refilled while it is read. Every
// thread of the block must call it.
template <int Stages, typename Load, typename Compute>
__device__ __forceinline__ void pipelined_stages(int n_stages, Load load, Compute compute) {
#pragma unroll
    for (int stage = 0; stage < Stages - 1; ++stage) {
        if (stage < n_stages) {
            load(stage);
        }
        copy_async_commit();
    }
    for (int stage = 0; stage < n_stages; ++stage) {
        copy_async_wait<Stages - 2>();
        __syncthreads(); // this stage has landed for all threads, and all are done with the one reloaded next
        if (stage + Stages - 1 < n_stages) {
            load(stage + Stages - 1);
        }
        copy_async_commit();
        compute(stage);
    }
}

// Four 8×8 bf16 matrices: lanes 8i..8i+7 give the row addresses of matrix i; lane l receives row l / 4,
// elements 2(l % 4) and 2(l % 4) + 1 of each (an mma B fragment when the rows are the n side).
__device__ __forceinline__ void load_matrix_x4(u32 (&r)[4], const u16* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(row)));
}

// Four 8×8 bf16 matrices, transposed: lanes 8i..8i+7 give the row addresses of matrix i.
__device__ __forceinline__ void load_matrix_x4_trans(u32 (&r)[4], const u16* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(row)));
}

} // namespace tllm_dev
