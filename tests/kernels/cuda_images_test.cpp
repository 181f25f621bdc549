// The embedded kernel modules: an image per ops/*.cu and configured arch, each a CUDA ELF for that SM, the
// sources byte-identical to the tree, the CUBIN choice for a card, and `tritonllm kernels --json`.
#include "../common/files.h"
#include "../common/temp_dir.h"
#include "kernels/cuda/cubin.h"
#include "kernels/cuda/embedded_kernels.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace tllm::cuda {
namespace {

using ::tllm::testing::read_file;

const std::filesystem::path kOpsDir = std::filesystem::path(TLLM_SOURCE_DIR) / "src/kernels/cuda/ops";

std::vector<std::filesystem::path> files_with_extension(const std::string& extension) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(kOpsDir)) {
        if (entry.path().extension() == extension) {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

TEST(CudaImages, EveryOpHasAnImageForEveryConfiguredArch) {
    const auto sources = files_with_extension(".cu");
    ASSERT_FALSE(sources.empty()) << kOpsDir;
    ASSERT_FALSE(configured_archs().empty());
    EXPECT_EQ(embedded_modules().size(), sources.size()) << "a module without a source, or a source not embedded";
    for (const auto& source : sources) {
        const std::string op = source.stem().string();
        const EmbeddedModule* module = find_embedded_module(op);
        ASSERT_NE(module, nullptr) << op << " is not embedded (reconfigure: the ops/*.cu glob runs at configure time)";
        EXPECT_EQ(module->images.size(), configured_archs().size()) << op;
        for (int arch : configured_archs()) {
            auto image = std::find_if(module->images.begin(), module->images.end(),
                                      [&](const EmbeddedImage& candidate) { return candidate.arch == arch; });
            ASSERT_NE(image, module->images.end()) << op << " has no sm_" << arch << " image";
            ASSERT_GE(image->cubin.size(), 64u) << op << " sm_" << arch;
            EXPECT_EQ(image->cubin[18] | image->cubin[19] << 8, kElfMachineCuda) << op << " sm_" << arch;
            auto sm = cubin_sm_arch(image->cubin);
            ASSERT_TRUE(sm.ok()) << op << " sm_" << arch << ": " << sm.error().to_string();
            EXPECT_EQ(*sm, arch) << op;
            // cuModuleLoadData reads ELF headers in place: keep images aligned.
            EXPECT_EQ(reinterpret_cast<uintptr_t>(image->cubin.data()) % 8, 0u) << op << " sm_" << arch;
        }
    }
}

TEST(CudaImages, SourcesAndHeadersMatchTheTreeAndEndInNul) {
    for (const auto& source : files_with_extension(".cu")) {
        const EmbeddedModule* module = find_embedded_module(source.stem().string());
        ASSERT_NE(module, nullptr) << source;
        EXPECT_EQ(module->source, read_file(source)) << source << " changed since the build";
        EXPECT_EQ(module->source.data()[module->source.size()], '\0');
    }
    const auto headers = files_with_extension(".cuh");
    ASSERT_EQ(embedded_headers().size(), headers.size());
    for (const auto& header : headers) {
        auto embedded = std::find_if(embedded_headers().begin(), embedded_headers().end(),
                                     [&](const EmbeddedFile& file) { return file.name == header.filename().string(); });
        ASSERT_NE(embedded, embedded_headers().end()) << header;
        EXPECT_EQ(embedded->text, read_file(header));
        EXPECT_EQ(embedded->text.data()[embedded->text.size()], '\0');
    }
}

TEST(CudaImages, SelectCubinPrefersExactThenSameMajor) {
    const std::array<uint8_t, 1> bytes{};
    const std::array<EmbeddedImage, 4> images = {{{80, bytes}, {86, bytes}, {90, bytes}, {120, bytes}}};
    const EmbeddedModule module{"test_module", "", images};
    auto arch_for = [&](int card) { return (*select_cubin(module, card))->arch; };
    EXPECT_EQ(arch_for(80), 80);
    EXPECT_EQ(arch_for(86), 86);
    EXPECT_EQ(arch_for(87), 86);
    EXPECT_EQ(arch_for(89), 86);
    EXPECT_EQ(arch_for(90), 90);
    EXPECT_EQ(arch_for(121), 120);
    for (int card : {75, 100, 103}) {
        auto missing = select_cubin(module, card);
        ASSERT_FALSE(missing.ok()) << card;
        EXPECT_EQ(missing.error().code(), ErrorCode::kUnsupported);
        const std::string& message = missing.error().message();
        EXPECT_NE(message.find("sm_" + std::to_string(card)), std::string::npos) << message;
        EXPECT_NE(message.find("sm_80, sm_86, sm_90, sm_120"), std::string::npos) << message;
        EXPECT_NE(message.find("TRITONLLM_JIT_BACKEND=nvrtc"), std::string::npos) << message;
    }
}

TEST(CudaImages, CubinArchRejectsOtherFiles) {
    EXPECT_EQ(cubin_sm_arch({}).error().code(), ErrorCode::kCorruptFile);
    const std::string text = "not an ELF file, but long enough to hold an ELF header of sixty-four bytes.";
    EXPECT_FALSE(cubin_sm_arch({reinterpret_cast<const uint8_t*>(text.data()), text.size()}).ok());
    // This test binary: an ELF file, but for the host machine.
    const std::string self = read_file("/proc/self/exe");
    auto host = cubin_sm_arch({reinterpret_cast<const uint8_t*>(self.data()), self.size()});
    ASSERT_FALSE(host.ok());
    EXPECT_NE(host.error().message().find("EM_CUDA"), std::string::npos) << host.error().message();
}

TEST(CudaImages, CliListsEveryModuleAndArch) {
    testing::TempDir dir;
    const std::string command = std::string(TLLM_BINARY) + " kernels --json 2>" + (dir / "stderr.txt");
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    std::array<char, 4096> buffer{};
    size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
        output.append(buffer.data(), n);
    }
    const int status = ::pclose(pipe);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(dir / "stderr.txt");
    const auto json = nlohmann::json::parse(output, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << output;
    EXPECT_EQ(json["archs"].get<std::vector<int>>(),
              std::vector<int>(configured_archs().begin(), configured_archs().end()));
    for (const auto& source : files_with_extension(".cu")) {
        const std::string op = source.stem().string();
        auto module = std::find_if(json["modules"].begin(), json["modules"].end(),
                                   [&](const nlohmann::json& entry) { return entry["name"] == op; });
        ASSERT_NE(module, json["modules"].end()) << op << " missing from: " << output;
        std::vector<int> archs;
        for (const auto& image : (*module)["images"]) {
            archs.push_back(image["arch"].get<int>());
            EXPECT_GT(image["bytes"].get<size_t>(), 0u) << op;
        }
        EXPECT_EQ(archs, std::vector<int>(configured_archs().begin(), configured_archs().end())) << op;
    }
}

} // namespace
} // namespace tllm::cuda
