#include "cli/kernel_commands.h"

#include "cli/build_info.h"
#include "cli/report.h"
#include "core/environment.h"
#include "core/log.h"
#include "kernels/cuda/cubin.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/embedded_kernels.h"
#include "kernels/cuda/kernel_registry.h"
#include "kernels/cuda/nvrtc.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

namespace tllm {
namespace {

using namespace tllm::cuda;

struct KernelsFlags {
    bool json = false;
    bool compile = false;
    int arch = 0;
};

// The first GPU, or nullptr with the reason logged when there is none.
std::unique_ptr<CudaContext> open_first_gpu() {
    auto count = cuda_device_count();
    if (!count.ok()) {
        TLLM_LOG_WARN("no usable GPU: {}", count.error().to_string());
        return nullptr;
    }
    if (*count == 0) {
        return nullptr;
    }
    auto context = CudaContext::create(0);
    if (!context.ok()) {
        TLLM_LOG_WARN("GPU 0 unusable: {}", context.error().to_string());
        return nullptr;
    }
    return std::move(context).value();
}

nlohmann::json device_json(const DeviceInfo& info) {
    nlohmann::json device = {{"name", info.name},
                             {"arch", info.arch()},
                             {"sm_count", info.sm_count},
                             {"total_memory", info.total_memory},
                             {"driver_version", info.driver_version}};
    nlohmann::json images = nlohmann::json::object();
    for (const EmbeddedModule& module : embedded_modules()) {
        auto image = select_cubin(module, info.arch());
        images[std::string(module.name)] = image.ok() ? nlohmann::json((*image)->arch) : nlohmann::json(nullptr);
    }
    device["images"] = images;
    return device;
}

Status list_kernels(const KernelsFlags& flags) {
    std::unique_ptr<CudaContext> gpu = open_first_gpu();
    if (flags.json) {
        nlohmann::json modules = nlohmann::json::array();
        for (const EmbeddedModule& module : embedded_modules()) {
            nlohmann::json images = nlohmann::json::array();
            for (const EmbeddedImage& image : module.images) {
                images.push_back({{"arch", image.arch}, {"bytes", image.cubin.size()}});
            }
            modules.push_back(
                {{"name", std::string(module.name)}, {"source_bytes", module.source.size()}, {"images", images}});
        }
        const std::span<const int> archs = configured_archs();
        nlohmann::json out = {{"version", build_info_json(build_info())},
                              {"archs", std::vector<int>(archs.begin(), archs.end())},
                              {"modules", modules},
                              {"device", gpu ? device_json(gpu->info()) : nlohmann::json(nullptr)}};
        std::printf("%s\n", out.dump(2).c_str());
        return {};
    }
    std::string archs;
    for (int arch : configured_archs()) {
        archs += fmt::format(" sm_{}", arch);
    }
    std::printf("%zu kernel modules, CUBINs for%s\n", embedded_modules().size(), archs.c_str());
    size_t total = 0;
    for (const EmbeddedModule& module : embedded_modules()) {
        std::string images;
        for (const EmbeddedImage& image : module.images) {
            images += fmt::format("  sm_{} {:.1f} KiB", image.arch, image.cubin.size() / 1024.0);
            total += image.cubin.size();
        }
        std::printf("  %-28s%s\n", std::string(module.name).c_str(), images.c_str());
    }
    std::printf("embedded CUBIN bytes: %zu (%.2f MiB)\n", total, total / 1048576.0);
    if (!gpu) {
        std::printf("no GPU\n");
        return {};
    }
    const DeviceInfo& info = gpu->info();
    std::printf("GPU 0: %s, sm_%d, %d SMs, %.1f GiB, driver %d.%d\n", info.name.c_str(), info.arch(), info.sm_count,
                info.total_memory / 1073741824.0, info.driver_version / 1000, info.driver_version % 1000 / 10);
    if (embedded_modules().empty()) {
        return {};
    }
    auto image = select_cubin(embedded_modules().front(), info.arch());
    if (image.ok()) {
        std::printf("the cubin backend loads the embedded sm_%d images\n", (*image)->arch);
    } else {
        std::printf("the cubin backend cannot serve this card: %s\n", image.error().message().c_str());
    }
    return {};
}

Status compile_kernels(const KernelsFlags& flags) {
    const Environment environment = Environment::from_process();
    TLLM_ASSIGN_OR_RETURN(JitOptions options, jit_options_from(environment));
    if (options.backend != JitBackend::kNvrtc) {
        return make_error(
            ErrorCode::kInvalidArgument,
            "kernels --compile warms the NVRTC cache: set TRITONLLM_JIT_BACKEND=nvrtc (the backend is {})",
            jit_backend_name(options.backend));
    }
    int arch = flags.arch;
    if (arch == 0) {
        std::unique_ptr<CudaContext> gpu = open_first_gpu();
        if (!gpu) {
            return make_error(ErrorCode::kInvalidArgument, "kernels --compile: no GPU here; pass --arch N (e.g. 90)");
        }
        arch = gpu->info().arch();
    }
    TLLM_ASSIGN_OR_RETURN(std::unique_ptr<Nvrtc> nvrtc, Nvrtc::load(options.cuda_home));
    if (options.cache_dir.empty()) {
        TLLM_LOG_WARN("no cache directory (set TRITONLLM_CACHE_DIR): compiling without caching");
    }
    std::printf("NVRTC %s (%s) for sm_%d, cache %s\n", nvrtc->version().c_str(), nvrtc->library_name().c_str(), arch,
                options.cache_dir.empty() ? "none" : (options.cache_dir + "/nvrtc").c_str());
    const auto start = std::chrono::steady_clock::now();
    int compiled = 0;
    for (const EmbeddedModule& module : embedded_modules()) {
        TLLM_ASSIGN_OR_RETURN(NvrtcImage image,
                              nvrtc_compile_cached(*nvrtc, module, arch, options.defines, options.cache_dir));
        compiled += image.compiled ? 1 : 0;
        std::printf("  %-28s %s %7.2f s  %zu bytes%s\n", std::string(module.name).c_str(),
                    image.compiled ? "compiled" : "cached  ", image.seconds, image.bytes.size(),
                    image.ptx ? fmt::format(" (compute_{} PTX)", image.target).c_str() : "");
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%zu modules (%d compiled, %zu cached) in %.2f s\n", embedded_modules().size(), compiled,
                embedded_modules().size() - static_cast<size_t>(compiled), seconds);
    return {};
}

} // namespace

void register_kernel_commands(CLI::App& app) {
    auto flags = std::make_shared<KernelsFlags>();
    CLI::App* kernels = app.add_subcommand("kernels", "List the embedded GPU kernel modules and the image this card "
                                                      "loads; --compile warms the NVRTC cache");
    kernels->add_flag("--json", flags->json, "Machine-readable listing");
    kernels->add_flag("--compile", flags->compile,
                      "Compile every module with NVRTC into the cache (needs TRITONLLM_JIT_BACKEND=nvrtc)");
    kernels->add_option("--arch", flags->arch, "With --compile: the SM to compile for (default: the GPU's)")
        ->check(CLI::Range(1, 1000));
    kernels->callback(
        [flags] { throw CLI::RuntimeError(report(flags->compile ? compile_kernels(*flags) : list_kernels(*flags))); });
}

} // namespace tllm
