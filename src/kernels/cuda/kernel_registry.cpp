#include "kernels/cuda/kernel_registry.h"

#include "core/log.h"
#include "kernels/cuda/cubin.h"

namespace tllm::cuda {

Result<JitBackend> parse_jit_backend(std::string_view value) {
    if (value.empty() || value == "cubin") {
        return JitBackend::kCubin;
    }
    if (value == "nvrtc") {
        return JitBackend::kNvrtc;
    }
    if (value == "triton") {
        return JitBackend::kTriton;
    }
    return make_error(ErrorCode::kInvalidArgument,
                      "TRITONLLM_JIT_BACKEND={}: unknown backend; use cubin (default), nvrtc or triton", value);
}

const char* jit_backend_name(JitBackend backend) {
    switch (backend) {
    case JitBackend::kCubin:
        return "cubin";
    case JitBackend::kNvrtc:
        return "nvrtc";
    case JitBackend::kTriton:
        return "triton";
    }
    TLLM_UNREACHABLE("JitBackend {}", static_cast<int>(backend));
}

Result<JitOptions> jit_options_from(const Environment& environment) {
    JitOptions options;
    TLLM_ASSIGN_OR_RETURN(options.backend, parse_jit_backend(environment.jit_backend));
    options.cache_dir = environment.cache_dir;
    options.cuda_home = environment.cuda_home;
    return options;
}

namespace {

Result<const EmbeddedModule*> embedded_module(std::string_view name) {
    const EmbeddedModule* module = find_embedded_module(name);
    if (module == nullptr) {
        return make_error(ErrorCode::kNotFound, "no kernel module {} in this build (src/kernels/cuda/ops/{}.cu)", name,
                          name);
    }
    return module;
}

// The CUBINs compiled by nvcc at build time.
class EmbeddedCubinSource final : public ImageSource {
  public:
    Result<LoadedImage> image(std::string_view module_name, int arch, bool /*refresh*/) override {
        TLLM_ASSIGN_OR_RETURN(const EmbeddedModule* module, embedded_module(module_name));
        TLLM_ASSIGN_OR_RETURN(const EmbeddedImage* image, select_cubin(*module, arch));
        LoadedImage loaded;
        loaded.borrowed = image->cubin;
        loaded.origin = fmt::format("embedded sm_{} CUBIN", image->arch);
        return loaded;
    }
    std::string describe(int arch) const override {
        std::string archs;
        for (int embedded : configured_archs()) {
            archs += fmt::format("{}{}", archs.empty() ? "" : ",", embedded);
        }
        return fmt::format("cubin: embedded images (sm_{{{}}}) for sm_{}", archs, arch);
    }
};

// The embedded sources compiled by NVRTC for the card, through the disk cache.
class NvrtcSource final : public ImageSource {
  public:
    NvrtcSource(std::unique_ptr<Nvrtc> nvrtc, std::string cache_dir, JitDefines defines)
        : nvrtc_(std::move(nvrtc)), cache_dir_(std::move(cache_dir)), defines_(std::move(defines)) {}

    Result<LoadedImage> image(std::string_view module_name, int arch, bool refresh) override {
        TLLM_ASSIGN_OR_RETURN(const EmbeddedModule* module, embedded_module(module_name));
        TLLM_ASSIGN_OR_RETURN(NvrtcImage built,
                              nvrtc_compile_cached(*nvrtc_, *module, arch, defines_, cache_dir_,
                                                   refresh ? CacheUse::kRefresh : CacheUse::kReadWrite));
        LoadedImage loaded;
        loaded.origin =
            fmt::format("nvrtc {}_{} {}{}", built.ptx ? "compute" : "sm", built.target, built.ptx ? "PTX" : "CUBIN",
                        built.cache_path.empty() ? "" : (built.compiled ? " (compiled, cached)" : " (cached)"));
        loaded.owned = std::move(built.bytes);
        return loaded;
    }
    bool can_refresh() const override { return !cache_dir_.empty(); }
    std::string describe(int arch) const override {
        return fmt::format("nvrtc {} ({}) for sm_{}, {}", nvrtc_->version(), nvrtc_->library_name(), arch,
                           cache_dir_.empty() ? std::string("no disk cache") : "cache " + cache_dir_ + "/nvrtc");
    }

  private:
    std::unique_ptr<Nvrtc> nvrtc_;
    std::string cache_dir_;
    JitDefines defines_;
};

} // namespace

// A loaded CUmodule (RAII).
class KernelRegistry::Module {
  public:
    Module(const Driver& driver, CUmodule module) : driver_(driver), module_(module) {}
    ~Module() { TLLM_CU_LOG(driver_, cuModuleUnload(module_)); }
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    CUmodule get() const { return module_; }

  private:
    const Driver& driver_;
    CUmodule module_;
};

Result<std::unique_ptr<KernelRegistry>> KernelRegistry::create(const CudaContext& context, const JitOptions& options) {
    const int arch = context.info().arch();
    std::unique_ptr<ImageSource> source;
    switch (options.backend) {
    case JitBackend::kCubin:
        // Every module is built for the same archs: checking one tells whether this card is served at all.
        for (const EmbeddedModule& module : embedded_modules()) {
            TLLM_RETURN_IF_ERROR(select_cubin(module, arch));
        }
        source = std::make_unique<EmbeddedCubinSource>();
        break;
    case JitBackend::kNvrtc: {
        auto nvrtc = Nvrtc::load(options.cuda_home);
        if (!nvrtc.ok()) {
            return nvrtc.error().with_context("TRITONLLM_JIT_BACKEND=nvrtc");
        }
        source = std::make_unique<NvrtcSource>(std::move(nvrtc).value(), options.cache_dir, options.defines);
        break;
    }
    case JitBackend::kTriton:
        return make_error(ErrorCode::kUnsupported,
                          "TRITONLLM_JIT_BACKEND=triton: the triton backend is not available in this build; "
                          "use cubin or nvrtc");
    }
    auto registry = std::make_unique<KernelRegistry>(context, options.backend, std::move(source));
    TLLM_LOG_DEBUG("kernel registry: {}", registry->describe());
    return registry;
}

KernelRegistry::KernelRegistry(const CudaContext& context, JitBackend backend, std::unique_ptr<ImageSource> source)
    : context_(context), backend_(backend), source_(std::move(source)) {
    TLLM_CHECK(source_ != nullptr, "a kernel registry needs an image source");
}

KernelRegistry::~KernelRegistry() = default;

std::string KernelRegistry::describe() const {
    return fmt::format("{} ({})", source_->describe(context_.info().arch()), context_.info().name);
}

Result<KernelRegistry::Module*> KernelRegistry::module_locked(std::string_view name) {
    if (auto found = modules_.find(name); found != modules_.end()) {
        return found->second.get();
    }
    const Driver& driver = context_.driver();
    const int arch = context_.info().arch();
    TLLM_RETURN_IF_ERROR(context_.make_current());
    TLLM_ASSIGN_OR_RETURN(LoadedImage image, source_->image(name, arch, false));
    CUmodule module = nullptr;
    CUresult result = driver.cuModuleLoadData(&module, image.bytes().data());
    if (result != CUDA_SUCCESS && source_->can_refresh()) {
        TLLM_LOG_WARN("kernel module {}: the driver refused the {} ({}); rebuilding it", name, image.origin,
                      driver.error_text(result));
        TLLM_ASSIGN_OR_RETURN(image, source_->image(name, arch, true));
        result = driver.cuModuleLoadData(&module, image.bytes().data());
    }
    if (result != CUDA_SUCCESS) {
        return make_error(result == CUDA_ERROR_OUT_OF_MEMORY ? ErrorCode::kOutOfMemory : ErrorCode::kDevice,
                          "kernel module {}: cuModuleLoadData of the {} failed on {} (sm_{}, driver {}.{}): {}", name,
                          image.origin, context_.info().name, arch, context_.info().driver_version / 1000,
                          context_.info().driver_version % 1000 / 10, driver.error_text(result));
    }
    auto owned = std::make_unique<Module>(driver, module);
    TLLM_LOG_DEBUG("kernel module {}: loaded {} ({} bytes)", name, image.origin, image.bytes().size());
    Module* raw = owned.get();
    modules_.emplace(std::string(name), std::move(owned));
    return raw;
}

Status KernelRegistry::preload(std::string_view module) {
    std::lock_guard lock(mutex_);
    TLLM_RETURN_IF_ERROR(module_locked(module));
    return {};
}

Result<CUfunction> KernelRegistry::function(std::string_view module_name, std::string_view kernel) {
    std::lock_guard lock(mutex_);
    const std::string key = fmt::format("{}/{}", module_name, kernel);
    if (auto found = functions_.find(key); found != functions_.end()) {
        return found->second;
    }
    TLLM_ASSIGN_OR_RETURN(Module * module, module_locked(module_name));
    CUfunction function = nullptr;
    const std::string kernel_name(kernel);
    CUresult result = context_.driver().cuModuleGetFunction(&function, module->get(), kernel_name.c_str());
    if (result == CUDA_ERROR_NOT_FOUND) {
        return make_error(ErrorCode::kNotFound, "kernel module {} has no kernel {} (is it TLLM_KERNEL, extern \"C\"?)",
                          module_name, kernel);
    }
    TLLM_RETURN_IF_ERROR(cu_status(context_.driver(), result, fmt::format("cuModuleGetFunction({})", key)));
    functions_.emplace(key, function);
    return function;
}

Status launch_params(const Driver& driver,
                     CUfunction function,
                     Dim3 grid,
                     Dim3 block,
                     unsigned shared_bytes,
                     CUstream stream,
                     LaunchOrder order,
                     void** params) {
    if (order == LaunchOrder::kAfterPrevious) {
        TLLM_CU_RETURN(driver, cuLaunchKernel(function, grid.x, grid.y, grid.z, block.x, block.y, block.z, shared_bytes,
                                              stream, params, nullptr));
        return {};
    }
    CUlaunchAttribute attribute{};
    attribute.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attribute.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig config{};
    config.gridDimX = grid.x;
    config.gridDimY = grid.y;
    config.gridDimZ = grid.z;
    config.blockDimX = block.x;
    config.blockDimY = block.y;
    config.blockDimZ = block.z;
    config.sharedMemBytes = shared_bytes;
    config.hStream = stream;
    config.attrs = &attribute;
    config.numAttrs = 1;
    TLLM_CU_RETURN(driver, cuLaunchKernelEx(&config, function, params, nullptr));
    return {};
}

} // namespace tllm::cuda
