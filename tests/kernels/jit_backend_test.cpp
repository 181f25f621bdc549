// The JIT backends without a GPU: backend names, NVRTC compiling every embedded module, its disk cache,
// and `tritonllm kernels --compile`.
#include "../common/shell.h"
#include "../common/temp_dir.h"
#include "core/environment.h"
#include "kernels/cuda/cubin.h"
#include "kernels/cuda/embedded_kernels.h"
#include "kernels/cuda/kernel_registry.h"
#include "kernels/cuda/nvrtc.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <memory>
#include <sys/wait.h>

namespace tllm::cuda {
namespace {

TEST(JitBackend, Parse) {
    EXPECT_EQ(*parse_jit_backend(""), JitBackend::kCubin);
    EXPECT_EQ(*parse_jit_backend("cubin"), JitBackend::kCubin);
    EXPECT_EQ(*parse_jit_backend("nvrtc"), JitBackend::kNvrtc);
    EXPECT_EQ(*parse_jit_backend("triton"), JitBackend::kTriton);
    for (JitBackend backend : {JitBackend::kCubin, JitBackend::kNvrtc, JitBackend::kTriton}) {
        EXPECT_EQ(*parse_jit_backend(jit_backend_name(backend)), backend);
    }
    auto unknown = parse_jit_backend("cuda");
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(unknown.error().message(),
              "TRITONLLM_JIT_BACKEND=cuda: unknown backend; use cubin (default), nvrtc or triton");
}

TEST(JitBackend, OptionsFromEnvironment) {
    Environment environment;
    environment.jit_backend = "nvrtc";
    environment.cache_dir = "/tmp/cache";
    environment.cuda_home = "/opt/cuda";
    auto options = jit_options_from(environment);
    ASSERT_TRUE(options.ok());
    EXPECT_EQ(options->backend, JitBackend::kNvrtc);
    EXPECT_EQ(options->cache_dir, "/tmp/cache");
    EXPECT_EQ(options->cuda_home, "/opt/cuda");
    environment.jit_backend = "NVRTC";
    EXPECT_FALSE(jit_options_from(environment).ok());
}

class NvrtcTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto loaded = Nvrtc::load(Environment::from_process().cuda_home);
        if (!loaded.ok()) {
            GTEST_SKIP() << "libnvrtc cannot be loaded here: " << loaded.error().to_string();
        }
        nvrtc_ = std::move(loaded).value();
    }
    const EmbeddedModule& fill_module() const {
        const EmbeddedModule* module = find_embedded_module("u8_bf16_fill_random");
        EXPECT_NE(module, nullptr);
        return *module;
    }
    std::unique_ptr<Nvrtc> nvrtc_;
};

// One test per arch, so that ctest runs them in parallel.
class NvrtcArchTest : public NvrtcTest, public ::testing::WithParamInterface<int> {};

TEST_P(NvrtcArchTest, CompilesEveryModule) {
    const int arch = GetParam();
    ASSERT_FALSE(embedded_modules().empty());
    for (const EmbeddedModule& module : embedded_modules()) {
        auto image = nvrtc_compile(*nvrtc_, module, arch, {});
        ASSERT_TRUE(image.ok()) << module.name << " sm_" << arch << ": " << image.error().to_string();
        EXPECT_FALSE(image->ptx);
        EXPECT_TRUE(image->compiled);
        auto sm = cubin_sm_arch(image->bytes);
        ASSERT_TRUE(sm.ok()) << sm.error().to_string();
        EXPECT_EQ(*sm, arch) << module.name;
    }
}

INSTANTIATE_TEST_SUITE_P(Archs,
                         NvrtcArchTest,
                         ::testing::Values(90, 80),
                         [](const ::testing::TestParamInfo<int>& info) { return "sm_" + std::to_string(info.param); });

TEST_F(NvrtcTest, UnknownNewerArchFallsBackToPtx) {
    auto image = nvrtc_compile(*nvrtc_, fill_module(), 990, {});
    ASSERT_TRUE(image.ok()) << image.error().to_string();
    EXPECT_TRUE(image->ptx);
    EXPECT_EQ(image->target, nvrtc_->supported_archs().back());
    ASSERT_FALSE(image->bytes.empty());
    EXPECT_EQ(image->bytes.back(), 0);
    const std::string ptx(reinterpret_cast<const char*>(image->bytes.data()));
    EXPECT_NE(ptx.find(".entry bf16_fill_uniform"), std::string::npos);

    auto too_old = nvrtc_compile(*nvrtc_, fill_module(), 30, {});
    ASSERT_FALSE(too_old.ok());
    EXPECT_EQ(too_old.error().code(), ErrorCode::kUnsupported);
}

TEST_F(NvrtcTest, CompileErrorsCarryTheLogAndDefinesReachTheSource) {
    const EmbeddedModule broken{"broken", "extern \"C\" __global__ void k() { no_such_symbol = 1; }", {}};
    auto failed = nvrtc_compile(*nvrtc_, broken, 90, {});
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.error().message().find("no_such_symbol"), std::string::npos) << failed.error().message();

    // Sources see common.cuh (named header), TLLM_JIT and the defines.
    const EmbeddedModule needs_define{"needs_define",
                                      "#include \"common.cuh\"\n"
                                      "#if !defined(TLLM_JIT) || TLLM_TEST_ROWS != 7\n#error define missing\n#endif\n"
                                      "TLLM_KERNEL void k(u32* out) { *out = TLLM_TEST_ROWS; }\n",
                                      {}};
    EXPECT_FALSE(nvrtc_compile(*nvrtc_, needs_define, 90, {}).ok());
    auto defined = nvrtc_compile(*nvrtc_, needs_define, 90, {{"TLLM_TEST_ROWS", "7"}});
    EXPECT_TRUE(defined.ok()) << defined.error().to_string();

    auto bad_name = nvrtc_compile(*nvrtc_, needs_define, 90, {{"7 ROWS", "7"}});
    ASSERT_FALSE(bad_name.ok());
    EXPECT_EQ(bad_name.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(NvrtcTest, DiskCache) {
    testing::TempDir dir;
    const EmbeddedModule& module = fill_module();
    auto first = nvrtc_compile_cached(*nvrtc_, module, 90, {}, dir.path());
    ASSERT_TRUE(first.ok()) << first.error().to_string();
    EXPECT_TRUE(first->compiled);
    EXPECT_TRUE(std::filesystem::exists(first->cache_path)) << first->cache_path;
    EXPECT_EQ(first->cache_path, *nvrtc_cache_path(*nvrtc_, module, 90, {}, dir.path()));
    EXPECT_EQ(std::filesystem::path(first->cache_path).parent_path(), std::filesystem::path(dir / "nvrtc"));

    auto second = nvrtc_compile_cached(*nvrtc_, module, 90, {}, dir.path());
    ASSERT_TRUE(second.ok()) << second.error().to_string();
    EXPECT_FALSE(second->compiled) << "the second compile should be a cache hit";
    EXPECT_EQ(second->bytes, first->bytes);

    // Anything in the key changes the file: a define, the arch.
    auto defined = nvrtc_compile_cached(*nvrtc_, module, 90, {{"TLLM_UNUSED", "1"}}, dir.path());
    ASSERT_TRUE(defined.ok()) << defined.error().to_string();
    EXPECT_TRUE(defined->compiled);
    EXPECT_NE(defined->cache_path, first->cache_path);
    EXPECT_NE(*nvrtc_cache_path(*nvrtc_, module, 80, {}, dir.path()), first->cache_path);

    // A damaged file (one flipped byte in the CUBIN) is detected, recompiled and replaced.
    {
        std::fstream file(first->cache_path, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(static_cast<std::streamoff>(first->bytes.size() / 2));
        file.put(static_cast<char>(first->bytes[first->bytes.size() / 2] ^ 0x5a));
    }
    auto repaired = nvrtc_compile_cached(*nvrtc_, module, 90, {}, dir.path());
    ASSERT_TRUE(repaired.ok()) << repaired.error().to_string();
    EXPECT_TRUE(repaired->compiled);
    EXPECT_EQ(repaired->bytes, first->bytes);
    auto after_repair = nvrtc_compile_cached(*nvrtc_, module, 90, {}, dir.path());
    ASSERT_TRUE(after_repair.ok());
    EXPECT_FALSE(after_repair->compiled);

    // A truncated file too.
    std::filesystem::resize_file(first->cache_path, 100);
    auto from_truncated = nvrtc_compile_cached(*nvrtc_, module, 90, {}, dir.path());
    ASSERT_TRUE(from_truncated.ok());
    EXPECT_TRUE(from_truncated->compiled);

    // kRefresh recompiles even a valid file (for an image the driver refused).
    auto refreshed = nvrtc_compile_cached(*nvrtc_, module, 90, {}, dir.path(), CacheUse::kRefresh);
    ASSERT_TRUE(refreshed.ok());
    EXPECT_TRUE(refreshed->compiled);
}

TEST_F(NvrtcTest, UncreatableCacheDirIsAClearError) {
    testing::TempDir dir;
    std::ofstream(dir / "a-file") << "not a directory";
    auto image = nvrtc_compile_cached(*nvrtc_, fill_module(), 90, {}, dir / "a-file");
    ASSERT_FALSE(image.ok());
    EXPECT_EQ(image.error().code(), ErrorCode::kIoError);
    EXPECT_NE(image.error().message().find("cannot create the JIT cache directory"), std::string::npos)
        << image.error().message();
    EXPECT_NE(image.error().message().find("TRITONLLM_CACHE_DIR"), std::string::npos) << image.error().message();
}

testing::CommandResult run(const std::string& command) { return testing::run_shell(command + " 2>&1"); }

TEST_F(NvrtcTest, CliCompileWarmsTheCache) {
    testing::TempDir dir;
    const std::string command = "TRITONLLM_JIT_BACKEND=nvrtc TRITONLLM_CACHE_DIR=" + dir.path() + " " +
                                std::string(TLLM_BINARY) + " kernels --compile --arch 90";
    auto cold = run(command);
    ASSERT_EQ(cold.exit_code, 0) << cold.output;
    for (const EmbeddedModule& module : embedded_modules()) {
        EXPECT_NE(cold.output.find(std::string(module.name)), std::string::npos) << cold.output;
    }
    EXPECT_NE(cold.output.find(fmt::format("({} compiled, 0 cached)", embedded_modules().size())), std::string::npos)
        << cold.output;
    auto warm = run(command);
    ASSERT_EQ(warm.exit_code, 0) << warm.output;
    EXPECT_NE(warm.output.find(fmt::format("(0 compiled, {} cached)", embedded_modules().size())), std::string::npos)
        << warm.output;

    auto wrong_backend =
        run("TRITONLLM_JIT_BACKEND=cubin " + std::string(TLLM_BINARY) + " kernels --compile --arch 90");
    EXPECT_NE(wrong_backend.exit_code, 0);
    EXPECT_NE(wrong_backend.output.find("TRITONLLM_JIT_BACKEND=nvrtc"), std::string::npos) << wrong_backend.output;
    auto unknown_backend = run("TRITONLLM_JIT_BACKEND=bogus " + std::string(TLLM_BINARY) + " kernels --compile");
    EXPECT_NE(unknown_backend.exit_code, 0);
    EXPECT_NE(unknown_backend.output.find("TRITONLLM_JIT_BACKEND=bogus: unknown backend"), std::string::npos)
        << unknown_backend.output;
}

} // namespace
} // namespace tllm::cuda
