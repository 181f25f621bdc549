#include "kernels/cuda/cublaslt.h"

#include "core/check.h"
#include "core/log.h"

#include <algorithm>
#include <bit>
#include <string>
#include <vector>

namespace tllm::cuda {
namespace {

// The largest power of two up to 256 that divides the address: the heuristic only offers kernels whose vector
// loads this alignment allows.
int alignment_of(const void* pointer) {
    const uintptr_t bits = reinterpret_cast<uintptr_t>(pointer) | 256;
    return static_cast<int>(bits & (~bits + 1));
}

} // namespace

Result<std::unique_ptr<CublasLt>> CublasLt::load() {
    std::unique_ptr<CublasLt> lt(new CublasLt());
    const std::string major = std::to_string(CUBLAS_VER_MAJOR);
    TLLM_ASSIGN_OR_RETURN(lt->library_, SharedLibrary::open_first({"libcublasLt.so." + major,
                                                                   "/usr/local/cuda/lib64/libcublasLt.so." + major}));
#define TLLM_CUBLASLT_RESOLVE(fn)                                                                                      \
    lt->fn = reinterpret_cast<decltype(&::fn)>(lt->library_.symbol(#fn));                                              \
    if (lt->fn == nullptr) {                                                                                           \
        return make_error(ErrorCode::kNotFound, "{} does not export " #fn, lt->library_.name());                       \
    }
    TLLM_CUBLASLT_FUNCTIONS(TLLM_CUBLASLT_RESOLVE)
#undef TLLM_CUBLASLT_RESOLVE
    lt->version_ = lt->cublasLtGetVersion();
    if (lt->version_ / 10000 != CUBLAS_VER_MAJOR) {
        return make_error(ErrorCode::kUnsupported, "{} is version {}; this build was made against {}.x",
                          lt->library_.name(), lt->version_, CUBLAS_VER_MAJOR);
    }
    TLLM_RETURN_IF_ERROR(lt->check(lt->cublasLtCreate(&lt->handle_), "cublasLtCreate"));
    // The first heuristic query of a process sets up the library's tables: here, rather than in a request's first
    // step.
    TLLM_RETURN_IF_ERROR(lt->plan(PlanKey{64, 256, 256, false, 256, 256, 256, kWorkspaceBytes}));
    return lt;
}

CublasLt::~CublasLt() {
    for (auto& [key, plan] : plans_) {
        destroy(plan);
    }
    if (handle_ != nullptr) {
        const cublasStatus_t status = cublasLtDestroy(handle_);
        if (status != CUBLAS_STATUS_SUCCESS) {
            TLLM_LOG_ERROR("cublasLtDestroy failed: {}", cublasLtGetStatusString(status));
        }
    }
}

Status CublasLt::check(cublasStatus_t status, const char* what) const {
    if (status == CUBLAS_STATUS_SUCCESS) {
        return {};
    }
    return make_error(status == CUBLAS_STATUS_ALLOC_FAILED ? ErrorCode::kOutOfMemory : ErrorCode::kInternal,
                      "{} failed: {}", what, cublasLtGetStatusString(status));
}

void CublasLt::destroy(Plan& plan) const {
    // Destroying a descriptor that was created cannot fail short of a corrupt handle; nothing to recover.
    if (plan.desc != nullptr) {
        cublasLtMatmulDescDestroy(plan.desc);
    }
    for (cublasLtMatrixLayout_t layout : {plan.w_layout, plan.x_layout, plan.d_layout}) {
        if (layout != nullptr) {
            cublasLtMatrixLayoutDestroy(layout);
        }
    }
    plan = Plan{};
}

Result<const CublasLt::Plan*> CublasLt::plan(const PlanKey& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return find_or_create(key);
}

Result<const CublasLt::Plan*> CublasLt::find_or_create(const PlanKey& key) const {
    if (auto found = plans_.find(key); found != plans_.end()) {
        return &found->second;
    }
    const auto [n, k, m, accumulate, x_align, w_align, d_align, workspace_bytes] = key;
    // Token counts take the algorithm chosen for the power of two at or above them, where it runs: steps of any
    // length then share a few kernels, so a new prompt length costs neither a heuristic query nor, on its first
    // launch, the loading of another kernel image.
    const Plan* bucket_plan = nullptr;
    if (const int bucket = static_cast<int>(std::bit_ceil(static_cast<unsigned>(n))); bucket != n) {
        PlanKey bucket_key = key;
        std::get<0>(bucket_key) = bucket;
        TLLM_ASSIGN_OR_RETURN(bucket_plan, find_or_create(bucket_key));
    }
    Plan plan;
    // Whatever fails below leaves nothing behind.
    struct Cleanup {
        const CublasLt& lt;
        Plan& plan;
        bool armed = true;
        ~Cleanup() {
            if (armed) {
                lt.destroy(plan);
            }
        }
    } cleanup{*this, plan};
    // Column-major views of the row-major tensors: w [m, k] is k × m (ld k) taken transposed, x [n, k] is k × n
    // (ld k), d [n, m] is m × n (ld m); so d = wᵀᵀ·x is the product, m × n.
    TLLM_RETURN_IF_ERROR(
        check(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate"));
    const cublasOperation_t transpose = CUBLAS_OP_T;
    const cublasOperation_t keep = CUBLAS_OP_N;
    TLLM_RETURN_IF_ERROR(
        check(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)),
              "cublasLtMatmulDescSetAttribute(TRANSA)"));
    TLLM_RETURN_IF_ERROR(
        check(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof(keep)),
              "cublasLtMatmulDescSetAttribute(TRANSB)"));
    TLLM_RETURN_IF_ERROR(check(
        cublasLtMatrixLayoutCreate(&plan.w_layout, CUDA_R_16BF, static_cast<uint64_t>(k), static_cast<uint64_t>(m), k),
        "cublasLtMatrixLayoutCreate(w)"));
    TLLM_RETURN_IF_ERROR(check(
        cublasLtMatrixLayoutCreate(&plan.x_layout, CUDA_R_16BF, static_cast<uint64_t>(k), static_cast<uint64_t>(n), k),
        "cublasLtMatrixLayoutCreate(x)"));
    TLLM_RETURN_IF_ERROR(check(
        cublasLtMatrixLayoutCreate(&plan.d_layout, CUDA_R_32F, static_cast<uint64_t>(m), static_cast<uint64_t>(n), m),
        "cublasLtMatrixLayoutCreate(d)"));

    if (bucket_plan != nullptr) {
        cublasLtMatmulHeuristicResult_t checked{};
        if (cublasLtMatmulAlgoCheck(handle_, plan.desc, plan.w_layout, plan.x_layout, plan.d_layout, plan.d_layout,
                                    &bucket_plan->algo, &checked) == CUBLAS_STATUS_SUCCESS &&
            checked.workspaceSize <= workspace_bytes) {
            plan.algo = bucket_plan->algo;
            cleanup.armed = false;
            return &plans_.emplace(key, plan).first->second;
        }
    }
    cublasLtMatmulPreference_t preference = nullptr;
    TLLM_RETURN_IF_ERROR(check(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate"));
    struct PreferenceGuard {
        const CublasLt& lt;
        cublasLtMatmulPreference_t preference;
        ~PreferenceGuard() { lt.cublasLtMatmulPreferenceDestroy(preference); }
    } preference_guard{*this, preference};
    const uint64_t max_workspace = workspace_bytes;
    const uint32_t alignments[4] = {static_cast<uint32_t>(w_align), static_cast<uint32_t>(x_align),
                                    static_cast<uint32_t>(d_align), static_cast<uint32_t>(d_align)};
    const cublasLtMatmulPreferenceAttributes_t alignment_attributes[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    TLLM_RETURN_IF_ERROR(
        check(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_workspace,
                                                   sizeof(max_workspace)),
              "cublasLtMatmulPreferenceSetAttribute(workspace)"));
    for (int i = 0; i < 4; ++i) {
        TLLM_RETURN_IF_ERROR(check(cublasLtMatmulPreferenceSetAttribute(preference, alignment_attributes[i],
                                                                        &alignments[i], sizeof(alignments[i])),
                                   "cublasLtMatmulPreferenceSetAttribute(alignment)"));
    }
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    TLLM_RETURN_IF_ERROR(
        check(cublasLtMatmulAlgoGetHeuristic(handle_, plan.desc, plan.w_layout, plan.x_layout, plan.d_layout,
                                             plan.d_layout, preference, 1, &result, &found),
              "cublasLtMatmulAlgoGetHeuristic"));
    if (found == 0) {
        return make_error(ErrorCode::kUnsupported, "cuBLASLt has no bf16 kernel for {} × {} · {}ᵀ ({}-byte alignment)",
                          n, k, m, std::min({x_align, w_align, d_align}));
    }
    plan.algo = result.algo;
    cleanup.armed = false;
    return &plans_.emplace(key, plan).first->second;
}

Status CublasLt::matmul_bf16_f32(CUstream stream,
                                 const uint16_t* x,
                                 int n,
                                 int k,
                                 const uint16_t* w,
                                 int m,
                                 float* d,
                                 bool accumulate,
                                 std::span<uint8_t> workspace) const {
    TLLM_CHECK(n > 0 && k > 0 && m > 0 && x != nullptr && w != nullptr && d != nullptr,
               "cuBLASLt product n={} k={} m={}", n, k, m);
    const PlanKey key{n,
                      k,
                      m,
                      accumulate,
                      alignment_of(x),
                      alignment_of(w),
                      alignment_of(d),
                      workspace.data() == nullptr ? size_t{0} : workspace.size()};
    TLLM_ASSIGN_OR_RETURN(const Plan* p, plan(key));
    const float one = 1.0f;
    const float beta = accumulate ? 1.0f : 0.0f;
    return check(cublasLtMatmul(handle_, p->desc, &one, w, p->w_layout, x, p->x_layout, &beta, d, p->d_layout, d,
                                p->d_layout, &p->algo, workspace.data(), workspace.size(),
                                reinterpret_cast<cudaStream_t>(stream)),
                 "cublasLtMatmul");
}

} // namespace tllm::cuda
