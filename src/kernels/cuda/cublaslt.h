// cuBLASLt (the CUDA toolkit's matrix library), opened at run time like libcuda and libnvrtc: the dense bf16
// products of steps of several tokens run on its Hopper and Blackwell kernels (wgmma and TMA), several times
// faster than the mma.sync tiles of ops/bf16w_matmul_mma.cu. A machine without the library keeps those tiles.
#pragma once

#include "core/result.h"
#include "kernels/cuda/shared_library.h"

#include <cstddef>
#include <cstdint>
#include <cublasLt.h>
#include <cuda.h>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <tuple>

namespace tllm::cuda {

#define TLLM_CUBLASLT_FUNCTIONS(X)                                                                                     \
    X(cublasLtGetVersion)                                                                                              \
    X(cublasLtGetStatusString)                                                                                         \
    X(cublasLtCreate)                                                                                                  \
    X(cublasLtDestroy)                                                                                                 \
    X(cublasLtMatmulDescCreate)                                                                                        \
    X(cublasLtMatmulDescDestroy)                                                                                       \
    X(cublasLtMatmulDescSetAttribute)                                                                                  \
    X(cublasLtMatrixLayoutCreate)                                                                                      \
    X(cublasLtMatrixLayoutDestroy)                                                                                     \
    X(cublasLtMatmulPreferenceCreate)                                                                                  \
    X(cublasLtMatmulPreferenceDestroy)                                                                                 \
    X(cublasLtMatmulPreferenceSetAttribute)                                                                            \
    X(cublasLtMatmulAlgoGetHeuristic)                                                                                  \
    X(cublasLtMatmulAlgoCheck)                                                                                         \
    X(cublasLtMatmul)

class CublasLt {
  public:
    // The workspace its kernels may use (split k, stream-K): what NVIDIA advises for Hopper.
    static constexpr size_t kWorkspaceBytes = size_t{32} << 20;

    // libcublasLt.so of the major version the build's header names; kNotFound when it does not open.
    static Result<std::unique_ptr<CublasLt>> load();
    ~CublasLt();
    CublasLt(const CublasLt&) = delete;
    CublasLt& operator=(const CublasLt&) = delete;

    // d[n, m] = x[n, k]·w[m, k]ᵀ (+ d[n, m] when accumulate): x and w bf16, d f32, sums in f32. The products of
    // bf16 are exact in f32, so only the order of the sums differs from the CPU. The plan of each shape and
    // alignment is chosen once and kept, so a captured graph and an eager step run the same kernels.
    Status matmul_bf16_f32(CUstream stream,
                           const uint16_t* x,
                           int n,
                           int k,
                           const uint16_t* w,
                           int m,
                           float* d,
                           bool accumulate,
                           std::span<uint8_t> workspace) const;

    size_t version() const { return version_; }
    const std::string& library_name() const { return library_.name(); }

  private:
    CublasLt() = default;

#define TLLM_CUBLASLT_DECLARE_MEMBER(name) decltype(&::name) name = nullptr;
    TLLM_CUBLASLT_FUNCTIONS(TLLM_CUBLASLT_DECLARE_MEMBER)
#undef TLLM_CUBLASLT_DECLARE_MEMBER

    // A shape's descriptors and the algorithm the heuristic chose for it; destroyed with the CublasLt.
    struct Plan {
        cublasLtMatmulDesc_t desc = nullptr;
        cublasLtMatrixLayout_t w_layout = nullptr;
        cublasLtMatrixLayout_t x_layout = nullptr;
        cublasLtMatrixLayout_t d_layout = nullptr;
        cublasLtMatmulAlgo_t algo{};
    };
    // (n, k, m, accumulate, alignment of x, w, d, workspace bytes)
    using PlanKey = std::tuple<int, int, int, bool, int, int, int, size_t>;
    Result<const Plan*> plan(const PlanKey& key) const;
    Result<const Plan*> find_or_create(const PlanKey& key) const; // mutex_ held
    Status check(cublasStatus_t status, const char* what) const;
    void destroy(Plan& plan) const;

    SharedLibrary library_;
    size_t version_ = 0;
    cublasLtHandle_t handle_ = nullptr;
    mutable std::mutex mutex_; // guards plans_: forward passes of several engines may share the kernels
    mutable std::map<PlanKey, Plan> plans_;
};

} // namespace tllm::cuda
