// The function call's arguments and answer: chat.py unwraps JSON-wrapped patches ("{...}" -> the item's value)
// and answers "Done!" or an error text.
#include "../../common/temp_dir.h"
#include "patch_test_files.h"
#include "tools/patch/apply_patch.h"

#include <gtest/gtest.h>
#include <random>

namespace tllm::tools {
namespace {

using testing::read_file;
using testing::snapshot;
using testing::write_file;
namespace fs = std::filesystem;

const std::string kPatch = "*** Begin Patch\n*** Add File: hello.txt\n+Hello \"world\"\n*** End Patch\n";
// kPatch as a JSON string literal.
const std::string kPatchJson = R"("*** Begin Patch\n*** Add File: hello.txt\n+Hello \"world\"\n*** End Patch\n")";

TEST(UnwrapPatchArgument, JsonObjectsAndStrings) {
    EXPECT_EQ(unwrap_patch_argument(R"({"patch": )" + kPatchJson + "}"), kPatch);
    EXPECT_EQ(unwrap_patch_argument(R"({"input": )" + kPatchJson + "}"), kPatch);
    EXPECT_EQ(unwrap_patch_argument(R"(  {"code": )" + kPatchJson + "}\n"), kPatch); // any single string field
    EXPECT_EQ(unwrap_patch_argument(R"({"path": "a.txt", "diff": )" + kPatchJson + R"(, "n": 1})"), kPatch);
    EXPECT_EQ(unwrap_patch_argument(R"({"input": "other", "patch": )" + kPatchJson + "}"), kPatch);
    EXPECT_EQ(unwrap_patch_argument(kPatchJson), kPatch);
}

TEST(UnwrapPatchArgument, RawNewlinesInsideJsonStringsAreForgiven) {
    // What models often send: JSON whose string holds real newlines and tabs.
    const std::string sloppy = "{\"patch\": \"*** Begin Patch\n*** Add File: t.txt\n+\tindented \\\"q\\\"\n"
                               "*** End Patch\n\"}";
    EXPECT_EQ(unwrap_patch_argument(sloppy),
              "*** Begin Patch\n*** Add File: t.txt\n+\tindented \"q\"\n*** End Patch\n");
}

TEST(UnwrapPatchArgument, AnythingElseIsReturnedAsItIs) {
    EXPECT_EQ(unwrap_patch_argument(kPatch), kPatch);
    EXPECT_EQ(unwrap_patch_argument("  " + kPatch), "  " + kPatch);
    EXPECT_EQ(unwrap_patch_argument(""), "");
    for (const std::string other : {R"({"a": "x", "b": "y"})", R"({"n": 1})", R"(["x"])", "{not json", "\"open"}) {
        EXPECT_EQ(unwrap_patch_argument(other), other);
    }
}

TEST(RunApplyPatchTool, AnswersDoneAndEditsTheWorkspace) {
    tllm::testing::TempDir workspace;
    EXPECT_EQ(run_apply_patch_tool(workspace.path(), R"({"patch": )" + kPatchJson + "}"), "Done!");
    EXPECT_EQ(read_file(fs::path(workspace.path()) / "hello.txt"), "Hello \"world\"\n");
    EXPECT_EQ(run_apply_patch_tool(workspace.path(), "*** Begin Patch\n*** Delete File: hello.txt\n*** End Patch"),
              "Done!");
    EXPECT_FALSE(fs::exists(fs::path(workspace.path()) / "hello.txt"));
}

TEST(RunApplyPatchTool, FailuresAreExplainedToTheModel) {
    tllm::testing::TempDir workspace;
    write_file(fs::path(workspace.path()) / "a.txt", "alpha\n");
    const auto before = snapshot(workspace.path());
    const std::string mismatch =
        run_apply_patch_tool(workspace.path(), "*** Begin Patch\n*** Update File: a.txt\n@@\n-beta\n+gamma\n"
                                               "*** End Patch\n");
    EXPECT_TRUE(mismatch.starts_with("Error applying patch: patch line 2: Update File a.txt: ")) << mismatch;
    EXPECT_NE(mismatch.find("|beta"), std::string::npos) << mismatch;

    const std::string outside =
        run_apply_patch_tool(workspace.path(), R"({"patch": "*** Begin Patch\n)"
                                               R"(*** Add File: ../x.txt\n+x\n*** End Patch"})");
    EXPECT_TRUE(outside.starts_with("Error applying patch: ")) << outside;
    EXPECT_NE(outside.find("'..'"), std::string::npos) << outside;

    const std::string no_patch = run_apply_patch_tool(workspace.path(), R"({"a": 1})");
    EXPECT_NE(no_patch.find("JSON without a patch"), std::string::npos) << no_patch;
    EXPECT_EQ(snapshot(workspace.path()), before);
}

TEST(RunApplyPatchTool, GarbageNeverThrows) {
    tllm::testing::TempDir workspace;
    std::mt19937 random(7);
    const std::string alphabet = "*@+- \n\r\t{}\":\\/.abc\x01";
    for (int round = 0; round < 200; ++round) {
        std::string argument;
        const int length = static_cast<int>(random() % 80);
        for (int i = 0; i < length; ++i) {
            argument += alphabet[random() % alphabet.size()];
        }
        const std::string answer = run_apply_patch_tool(workspace.path(), argument);
        EXPECT_TRUE(answer == "Done!" || answer.starts_with("Error applying patch: ")) << answer;
    }
    EXPECT_TRUE(fs::is_empty(workspace.path()));
}

} // namespace
} // namespace tllm::tools
