// apply_patch on a real workspace: every operation, file modes and directories, errors that leave the workspace
// as it was, and failures injected at every step of the write.
#include "../../common/temp_dir.h"
#include "patch_test_files.h"
#include "tools/patch/apply_patch.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tllm::tools {
namespace {

using testing::permissions_of;
using testing::read_file;
using testing::snapshot;
using testing::write_file;
namespace fs = std::filesystem;

class ApplyPatchTest : public ::testing::Test {
  protected:
    fs::path path(const std::string& relative) const { return fs::path(workspace_.path()) / relative; }
    const std::string& root() const { return workspace_.path(); }

    PatchSummary apply_ok(const std::string& patch, const ApplyPatchOptions& options = {}) {
        Result<PatchSummary> summary = apply_patch(root(), patch, options);
        EXPECT_TRUE(summary.ok()) << summary.error().to_string();
        return summary.ok() ? std::move(summary).value() : PatchSummary{};
    }

    // Applies a patch that must fail and change nothing; returns the error message.
    std::string apply_fails(const std::string& patch, const ApplyPatchOptions& options = {}) {
        const auto before = snapshot(root());
        Result<PatchSummary> summary = apply_patch(root(), patch, options);
        EXPECT_FALSE(summary.ok()) << "applied, but should not have:\n" << patch;
        EXPECT_EQ(snapshot(root()), before) << "a failed patch changed the workspace";
        return summary.ok() ? "" : summary.error().message();
    }

    tllm::testing::TempDir workspace_;
};

TEST_F(ApplyPatchTest, TheSpecificationsExampleAddsMovesUpdatesAndDeletes) {
    write_file(path("src/app.py"), "def greet():\nprint(\"Hi\")\n");
    write_file(path("obsolete.txt"), "old\n");
    const PatchSummary summary = apply_ok("*** Begin Patch\n"
                                          "*** Add File: hello.txt\n"
                                          "+Hello world\n"
                                          "*** Update File: src/app.py\n"
                                          "*** Move to: src/main.py\n"
                                          "@@ def greet():\n"
                                          "-print(\"Hi\")\n"
                                          "+print(\"Hello, world!\")\n"
                                          "*** Delete File: obsolete.txt\n"
                                          "*** End Patch\n");
    EXPECT_EQ(read_file(path("hello.txt")), "Hello world\n");
    EXPECT_EQ(read_file(path("src/main.py")), "def greet():\nprint(\"Hello, world!\")\n");
    EXPECT_FALSE(fs::exists(path("src/app.py")));
    EXPECT_FALSE(fs::exists(path("obsolete.txt")));
    EXPECT_EQ(summary.added, std::vector<std::string>{"hello.txt"});
    EXPECT_TRUE(summary.updated.empty());
    ASSERT_EQ(summary.moved.size(), 1u);
    EXPECT_EQ(summary.moved[0].from, "src/app.py");
    EXPECT_EQ(summary.moved[0].to, "src/main.py");
    EXPECT_EQ(summary.deleted, std::vector<std::string>{"obsolete.txt"});
    EXPECT_EQ(summary.fuzz_level, kFuzzExact);
    // No temporary file or backup is left behind.
    for (const auto& [entry, description] : snapshot(root())) {
        EXPECT_EQ(entry.find(".tllm-patch"), std::string::npos) << entry;
    }
}

TEST_F(ApplyPatchTest, AddCreatesParentDirectoriesAndUsesTheUmask) {
    const mode_t old_umask = ::umask(022);
    apply_ok("*** Begin Patch\n*** Add File: a/b/c/new.txt\n+x\n*** Add File: a/b/other.txt\n*** End Patch\n");
    ::umask(old_umask);
    EXPECT_EQ(read_file(path("a/b/c/new.txt")), "x\n");
    EXPECT_EQ(read_file(path("a/b/other.txt")), "");
    EXPECT_EQ(permissions_of(path("a/b/c/new.txt")), 0644u);
    EXPECT_TRUE(fs::is_directory(path("a/b/c")));
}

TEST_F(ApplyPatchTest, UpdateWithSeveralHunksKeepsTheFileMode) {
    write_file(path("run.sh"), "#!/bin/sh\necho one\necho two\necho three\necho four\n");
    ASSERT_EQ(::chmod(path("run.sh").c_str(), 0750), 0);
    const PatchSummary summary = apply_ok("*** Begin Patch\n*** Update File: run.sh\n"
                                          "@@\n #!/bin/sh\n-echo one\n+echo 1\n"
                                          "@@ echo three\n-echo four\n+echo 4\n*** End of File\n"
                                          "*** End Patch\n");
    EXPECT_EQ(read_file(path("run.sh")), "#!/bin/sh\necho 1\necho two\necho three\necho 4\n");
    EXPECT_EQ(permissions_of(path("run.sh")), 0750u);
    EXPECT_EQ(summary.updated, std::vector<std::string>{"run.sh"});
}

TEST_F(ApplyPatchTest, MoveWithoutEditsRenamesIntoANewDirectoryAndKeepsTheMode) {
    write_file(path("old.txt"), "content\nwithout final newline");
    ASSERT_EQ(::chmod(path("old.txt").c_str(), 0600), 0);
    apply_ok("*** Begin Patch\n*** Update File: old.txt\n*** Move to: archive/2024/new.txt\n*** End Patch\n");
    EXPECT_FALSE(fs::exists(path("old.txt")));
    EXPECT_EQ(read_file(path("archive/2024/new.txt")), "content\nwithout final newline");
    EXPECT_EQ(permissions_of(path("archive/2024/new.txt")), 0600u);
}

TEST_F(ApplyPatchTest, FuzzyMatchesAreAppliedAndReported) {
    write_file(path("a.py"), "def f():\n        return 1\n");
    write_file(path("b.txt"), "x = 1  \n");
    const PatchSummary summary = apply_ok("*** Begin Patch\n"
                                          "*** Update File: b.txt\n@@\n-x = 1\n+x = 2\n"
                                          "*** Update File: a.py\n@@ def f():\n-    return 1\n+    return 2\n"
                                          "*** End Patch\n");
    EXPECT_EQ(read_file(path("b.txt")), "x = 2\n");
    EXPECT_EQ(read_file(path("a.py")), "def f():\n        return 2\n");
    EXPECT_EQ(summary.fuzz_level, kFuzzIgnoreSurroundingWhitespace);
}

TEST_F(ApplyPatchTest, ExistenceErrorsChangeNothing) {
    write_file(path("here.txt"), "here\n");
    write_file(path("there.txt"), "there\n");
    EXPECT_NE(apply_fails("*** Begin Patch\n*** Add File: here.txt\n+x\n*** End Patch").find("already exists"),
              std::string::npos);
    EXPECT_NE(apply_fails("*** Begin Patch\n*** Delete File: gone.txt\n*** End Patch").find("gone.txt does not exist"),
              std::string::npos);
    EXPECT_NE(apply_fails("*** Begin Patch\n*** Update File: gone/x.txt\n@@\n+x\n*** End Patch")
                  .find("gone/x.txt does not exist"),
              std::string::npos);
    EXPECT_NE(apply_fails("*** Begin Patch\n*** Update File: here.txt\n*** Move to: there.txt\n*** End Patch")
                  .find("there.txt already exists"),
              std::string::npos);
    const std::string context = apply_fails("*** Begin Patch\n*** Update File: here.txt\n@@\n-not here\n*** End Patch");
    EXPECT_NE(context.find("patch line 2: Update File here.txt: the hunk at patch line 3 does not match"),
              std::string::npos)
        << context;
}

TEST_F(ApplyPatchTest, AFailingThirdOperationLeavesTheFirstTwoUndone) {
    write_file(path("one.txt"), "one\n");
    write_file(path("three.txt"), "three\n");
    const std::string message = apply_fails("*** Begin Patch\n"
                                            "*** Add File: new/dir/two.txt\n+two\n"
                                            "*** Update File: one.txt\n@@\n-one\n+ONE\n"
                                            "*** Update File: three.txt\n@@\n-four\n+FOUR\n"
                                            "*** End Patch\n");
    EXPECT_NE(message.find("three.txt"), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(path("new")));
}

// Fails the write at each of its steps in turn (then at none) and checks every failure leaves the workspace
// exactly as it was; returns the steps of the run that got through.
std::vector<std::string> fail_at_every_step(bool hard_links_supported) {
    // Every kind of change at once: new directories, an add, an in-place update, a move and a delete.
    const std::string patch = "*** Begin Patch\n"
                              "*** Add File: fresh/nested/a.txt\n+added\n"
                              "*** Update File: keep.txt\n@@\n-old\n+new\n"
                              "*** Update File: mover.txt\n*** Move to: moved/mover.txt\n@@\n-m\n+M\n"
                              "*** Delete File: doomed.txt\n"
                              "*** End Patch\n";
    for (size_t fail_at = 0; fail_at < 50; ++fail_at) {
        tllm::testing::TempDir workspace;
        const fs::path root(workspace.path());
        write_file(root / "keep.txt", "old\n");
        write_file(root / "mover.txt", "m\n");
        write_file(root / "doomed.txt", "bye\n");
        const auto before = snapshot(root);
        std::vector<std::string> steps;
        ApplyPatchOptions options;
        options.before_filesystem_step = [&](std::string_view name, const std::string& file) -> Status {
            steps.push_back(std::string(name) + " " + file);
            if (steps.size() - 1 == fail_at) {
                return make_error(ErrorCode::kIoError, "injected failure at {} {}", name, file);
            }
            if (name == "backup" && !hard_links_supported) {
                return make_error(ErrorCode::kUnsupported, "no hard links here");
            }
            return {};
        };
        Result<PatchSummary> summary = apply_patch(root, patch, options);
        if (summary.ok()) {
            // Every step was failed once before the run that got through them all.
            EXPECT_EQ(fail_at, steps.size());
            EXPECT_EQ(read_file(root / "fresh/nested/a.txt"), "added\n");
            EXPECT_EQ(read_file(root / "keep.txt"), "new\n");
            EXPECT_EQ(read_file(root / "moved/mover.txt"), "M\n");
            EXPECT_FALSE(fs::exists(root / "mover.txt"));
            EXPECT_FALSE(fs::exists(root / "doomed.txt"));
            EXPECT_EQ(std::distance(fs::directory_iterator(root), fs::directory_iterator()), 3) << "no leftovers";
            return steps;
        }
        EXPECT_NE(summary.error().message().find("injected failure"), std::string::npos) << summary.error().message();
        EXPECT_EQ(snapshot(root), before) << "after failing step " << fail_at << ": " << steps.back();
    }
    ADD_FAILURE() << "the patch never applied";
    return {};
}

TEST(ApplyPatchRollback, AFailureAtAnyWriteStepRollsEverythingBack) {
    // Directories, temporary files, a backup link, renames into place, removals.
    const std::vector<std::string> expected = {"mkdir fresh",
                                               "mkdir fresh/nested",
                                               "write fresh/nested/a.txt",
                                               "write keep.txt",
                                               "backup keep.txt",
                                               "mkdir moved",
                                               "write moved/mover.txt",
                                               "rename fresh/nested/a.txt",
                                               "rename keep.txt",
                                               "rename moved/mover.txt",
                                               "remove mover.txt",
                                               "remove doomed.txt"};
    EXPECT_EQ(fail_at_every_step(/*hard_links_supported=*/true), expected);
}

TEST(ApplyPatchRollback, WithoutHardLinksTheReplacedFileIsMovedAsideAndBack) {
    std::vector<std::string> expected = {
        "mkdir fresh",      "mkdir fresh/nested", "write fresh/nested/a.txt", "write keep.txt",
        "backup keep.txt",  "mkdir moved",        "write moved/mover.txt",    "rename fresh/nested/a.txt",
        "rename keep.txt",  "rename keep.txt",    "rename moved/mover.txt",   "remove mover.txt",
        "remove doomed.txt"};
    EXPECT_EQ(fail_at_every_step(/*hard_links_supported=*/false), expected);
}

TEST_F(ApplyPatchTest, AReadOnlyTargetDirectoryFailsThePatchAndRollsBack) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "root writes into read-only directories; the injected failures above cover this";
    }
    write_file(path("one.txt"), "one\n");
    write_file(path("locked/three.txt"), "three\n");
    ASSERT_EQ(::chmod(path("locked").c_str(), 0555), 0);
    const std::string message = apply_fails("*** Begin Patch\n"
                                            "*** Add File: new/two.txt\n+two\n"
                                            "*** Update File: one.txt\n@@\n-one\n+ONE\n"
                                            "*** Update File: locked/three.txt\n@@\n-three\n+THREE\n"
                                            "*** End Patch\n");
    ::chmod(path("locked").c_str(), 0755);
    EXPECT_NE(message.find("locked/three.txt"), std::string::npos) << message;
}

TEST_F(ApplyPatchTest, TheWorkspaceMustExistAndMayBeReachedThroughASymlink) {
    Result<PatchSummary> missing =
        apply_patch(path("no-such-dir"), "*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\n");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

    tllm::testing::TempDir elsewhere;
    const fs::path link = fs::path(elsewhere.path()) / "workspace-link";
    fs::create_directory_symlink(root(), link);
    ASSERT_TRUE(apply_patch(link, "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch\n").ok());
    EXPECT_EQ(read_file(path("a.txt")), "x\n");
}

TEST_F(ApplyPatchTest, ParseErrorsComeBackUnchanged) {
    EXPECT_NE(apply_fails("*** Add File: a\n+x\n*** End Patch").find("patch line 1: a patch must start with"),
              std::string::npos);
    EXPECT_NE(apply_fails("").find("empty"), std::string::npos);
}

} // namespace
} // namespace tllm::tools
