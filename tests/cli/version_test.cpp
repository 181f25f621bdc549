// `tritonllm --version` and the `version` object of `kernels --json` and `bench --json` name the build: this
// checkout's commit as git reports it, and the CUBIN archs the build was configured with.
#include "../common/shell.h"
#include "../common/temp_dir.h"
#include "../common/test_data.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace tllm {
namespace {

using testing::run_shell;
using testing::shell_quote;

std::string binary() { return shell_quote(TLLM_BINARY); }

// What git says of this checkout: the 12-digit commit, and whether tracked files differ from it ("" outside git).
struct GitState {
    std::string commit;
    bool dirty = false;
};
GitState git_state() {
    const std::string git = "git -C " + shell_quote(TLLM_SOURCE_DIR) + " ";
    auto commit = run_shell(git + "rev-parse --short=12 HEAD 2>/dev/null");
    if (commit.exit_code != 0) {
        return {};
    }
    auto changes = run_shell(git + "status --porcelain --untracked-files=no 2>/dev/null");
    return {commit.output.substr(0, commit.output.find('\n')), !changes.output.empty()};
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) {
        lines.push_back(line);
    }
    return lines;
}

void expect_version_object(const nlohmann::json& version) {
    EXPECT_TRUE(version.at("version").get<std::string>().starts_with("0.")) << version;
    EXPECT_FALSE(version.at("build_type").get<std::string>().empty()) << version;
    EXPECT_FALSE(version.at("compiler").get<std::string>().empty()) << version;
    EXPECT_TRUE(version.at("cuda_toolkit").get<std::string>().starts_with("13.")) << version;
    EXPECT_FALSE(version.at("cubin_archs").empty()) << version;
    const GitState git = git_state();
    if (!git.commit.empty()) {
        EXPECT_EQ(version.at("git_commit"), git.commit);
        EXPECT_EQ(version.at("git_dirty"), git.dirty);
    }
}

TEST(Version, NamesTheCommitTheToolkitAndTheArchs) {
    auto result = run_shell(binary() + " --version 2>/dev/null");
    ASSERT_EQ(result.exit_code, 0);
    const std::vector<std::string> lines = lines_of(result.output);
    ASSERT_EQ(lines.size(), 5u) << result.output;
    EXPECT_TRUE(lines[0].starts_with("tritonllm 0.")) << lines[0];
    const GitState git = git_state();
    if (!git.commit.empty()) {
        EXPECT_EQ(lines[1], "commit:       " + git.commit + (git.dirty ? " (with uncommitted changes)" : ""));
    }
    EXPECT_TRUE(lines[2].starts_with("build:        ")) << lines[2];
    EXPECT_TRUE(lines[3].starts_with("CUDA toolkit: 13.")) << lines[3];
    EXPECT_TRUE(lines[4].starts_with("CUBINs for:   sm_")) << lines[4];
    // -V is the short form, and a global option before it still prints the version rather than starting the chat.
    EXPECT_EQ(run_shell(binary() + " -V 2>/dev/null").output, result.output);
    EXPECT_EQ(run_shell(binary() + " --log-level warn --version 2>/dev/null").output, result.output);
}

TEST(Version, KernelsJsonCarriesTheSameVersion) {
    auto result = run_shell(binary() + " kernels --json 2>/dev/null");
    ASSERT_EQ(result.exit_code, 0);
    const nlohmann::json listing = nlohmann::json::parse(result.output);
    expect_version_object(listing.at("version"));
    EXPECT_EQ(listing.at("version").at("cubin_archs"), listing.at("archs"));
}

TEST(Version, EveryBenchJsonLineCarriesTheVersion) {
    testing::TempDir dir;
    const std::string config = testing::test_data_path("golden/tiny.json").string();
    ASSERT_EQ(run_shell(binary() + " synth --config " + shell_quote(config) + " --out " + shell_quote(dir / "m") +
                        " 2>/dev/null")
                  .exit_code,
              0);
    auto result = run_shell(binary() + " bench --backend cpu --model " + shell_quote(dir / "m") +
                            " --prompt-tokens 4 --gen-tokens 2 --runs 2 --threads 1 --json 2>/dev/null");
    ASSERT_EQ(result.exit_code, 0);
    const std::vector<std::string> lines = lines_of(result.output);
    ASSERT_EQ(lines.size(), 2u) << result.output;
    for (const std::string& line : lines) {
        expect_version_object(nlohmann::json::parse(line).at("version"));
    }
}

} // namespace
} // namespace tllm
