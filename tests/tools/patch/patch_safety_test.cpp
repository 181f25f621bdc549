// The model is untrusted: apply_patch must not read or write outside its workspace (absolute paths, "..",
// symlinks at any component, a directory swapped for a symlink mid-patch), must not touch special files (FIFOs,
// sockets, devices), and must keep to its size limits.
#include "../../common/temp_dir.h"
#include "patch_test_files.h"
#include "tools/patch/apply_patch.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

namespace tllm::tools {
namespace {

using testing::read_file;
using testing::snapshot;
using testing::write_file;
namespace fs = std::filesystem;

class PatchSafetyTest : public ::testing::Test {
  protected:
    void SetUp() override {
        workspace_ = fs::path(sandbox_.path()) / "workspace";
        outside_ = fs::path(sandbox_.path()) / "outside";
        write_file(workspace_ / "inside.txt", "inside\n");
        write_file(outside_ / "secret.txt", "secret\n");
    }

    // The patch must fail, name `expected`, and leave the workspace and the directory beside it as they were.
    void expect_refused(const std::string& patch, const std::string& expected, const ApplyPatchOptions& options = {}) {
        const auto before = snapshot(sandbox_.path());
        Result<PatchSummary> summary = apply_patch(workspace_, patch, options);
        ASSERT_FALSE(summary.ok()) << "applied, but should not have:\n" << patch;
        EXPECT_NE(summary.error().message().find(expected), std::string::npos)
            << "expected \"" << expected << "\" in: " << summary.error().message();
        EXPECT_EQ(snapshot(sandbox_.path()), before) << patch;
    }

    // Every operation that could reach `path`: update, delete, add over it, and moves from and onto it.
    void expect_every_operation_refused(const std::string& path, const std::string& expected) {
        expect_refused("*** Begin Patch\n*** Update File: " + path + "\n@@\n+x\n*** End Patch\n", expected);
        expect_refused("*** Begin Patch\n*** Delete File: " + path + "\n*** End Patch\n", expected);
        expect_refused("*** Begin Patch\n*** Update File: " + path + "\n*** Move to: moved.txt\n*** End Patch\n",
                       expected);
        // Onto it: the name is taken, and the message says by what.
        expect_refused("*** Begin Patch\n*** Update File: inside.txt\n*** Move to: " + path + "\n*** End Patch\n",
                       expected);
        expect_refused("*** Begin Patch\n*** Add File: " + path + "\n+x\n*** End Patch\n", expected);
    }

    tllm::testing::TempDir sandbox_; // holds the workspace and, beside it, what the model must not reach
    fs::path workspace_;
    fs::path outside_;
};

TEST_F(PatchSafetyTest, AbsoluteAndParentPathsAreRefused) {
    expect_refused("*** Begin Patch\n*** Add File: " + (outside_ / "new.txt").string() + "\n+x\n*** End Patch\n",
                   "absolute");
    expect_refused("*** Begin Patch\n*** Update File: ../outside/secret.txt\n@@\n-secret\n+owned\n*** End Patch\n",
                   "'..'");
    expect_refused("*** Begin Patch\n*** Delete File: ~/secret.txt\n*** End Patch\n", "'~'");
    expect_refused("*** Begin Patch\n*** Update File: inside.txt\n*** Move to: sub/../../outside/x\n*** End Patch\n",
                   "'..'");
}

TEST_F(PatchSafetyTest, ASymlinkedDirectoryLeadingOutIsRefused) {
    fs::create_directory_symlink(outside_, workspace_ / "link");
    fs::create_directories(workspace_ / "real");
    fs::create_directory_symlink(outside_, workspace_ / "real" / "deeper");
    for (const std::string path : {"link/secret.txt", "real/deeper/secret.txt", "link/new/file.txt"}) {
        SCOPED_TRACE(path);
        expect_refused("*** Begin Patch\n*** Update File: " + path + "\n@@\n-secret\n+owned\n*** End Patch\n",
                       "symbolic link");
        expect_refused("*** Begin Patch\n*** Delete File: " + path + "\n*** End Patch\n", "symbolic link");
        expect_refused("*** Begin Patch\n*** Add File: " + path + "\n+x\n*** End Patch\n", "symbolic link");
        expect_refused("*** Begin Patch\n*** Update File: inside.txt\n*** Move to: " + path + "\n*** End Patch\n",
                       "symbolic link");
    }
    EXPECT_EQ(read_file(outside_ / "secret.txt"), "secret\n");
}

TEST_F(PatchSafetyTest, SymlinkedFilesAreRefusedWhereverTheyPoint) {
    fs::create_symlink(outside_ / "secret.txt", workspace_ / "secret-link.txt");
    expect_every_operation_refused("secret-link.txt", "symbolic link");
    // Dangling: writing through it would create the file outside.
    fs::create_symlink(outside_ / "not-yet.txt", workspace_ / "dangling.txt");
    expect_refused("*** Begin Patch\n*** Add File: dangling.txt\n+x\n*** End Patch\n", "symbolic link");
    EXPECT_FALSE(fs::exists(outside_ / "not-yet.txt"));
    // Even pointing inside: a symlink is never followed or replaced.
    fs::create_symlink("inside.txt", workspace_ / "alias.txt");
    expect_refused("*** Begin Patch\n*** Update File: alias.txt\n@@\n-inside\n+changed\n*** End Patch\n",
                   "symbolic link");
}

TEST_F(PatchSafetyTest, DevicesThroughSymlinksAreRefused) {
    fs::create_symlink("/dev/null", workspace_ / "null");
    fs::create_symlink("/dev/zero", workspace_ / "zero");
    fs::create_directory_symlink("/dev", workspace_ / "dev");
    expect_every_operation_refused("null", "symbolic link");
    expect_every_operation_refused("zero", "symbolic link");
    expect_refused("*** Begin Patch\n*** Update File: dev/zero\n@@\n+x\n*** End Patch\n", "symbolic link");
}

TEST_F(PatchSafetyTest, SpecialFilesAreRefusedWithoutBeingOpened) {
    ASSERT_EQ(::mkfifo((workspace_ / "pipe").c_str(), 0644), 0);
    // Opening a FIFO for reading would wait for a writer forever; end the test loudly instead of hanging.
    ::alarm(20);
    expect_every_operation_refused("pipe", "FIFO");
    ::alarm(0);

    const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(sock, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string socket_path = (workspace_ / "sock").string();
    ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
    std::copy(socket_path.begin(), socket_path.end(), address.sun_path);
    ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    expect_every_operation_refused("sock", "socket");
    ::close(sock);

    // A device node inside the workspace (only root may make one).
    if (::mknod((workspace_ / "null-device").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        expect_every_operation_refused("null-device", "device");
    }
}

TEST_F(PatchSafetyTest, DirectoriesAreNotFilesAndFilesAreNotDirectories) {
    fs::create_directories(workspace_ / "dir");
    expect_refused("*** Begin Patch\n*** Update File: dir\n@@\n+x\n*** End Patch\n", "is a directory");
    expect_refused("*** Begin Patch\n*** Delete File: dir\n*** End Patch\n", "is a directory");
    expect_refused("*** Begin Patch\n*** Add File: dir\n+x\n*** End Patch\n", "already exists");
    expect_refused("*** Begin Patch\n*** Add File: inside.txt/child.txt\n+x\n*** End Patch\n",
                   "inside.txt is a file, so it cannot hold files");
    expect_refused("*** Begin Patch\n*** Update File: inside.txt/child.txt\n@@\n+x\n*** End Patch\n",
                   "inside.txt is a file");
    expect_refused("*** Begin Patch\n*** Update File: inside.txt\n*** Move to: inside.txt/x\n*** End Patch\n",
                   "inside.txt/x needs inside.txt to be a directory");
}

TEST_F(PatchSafetyTest, ADirectorySwappedForASymlinkMidPatchIsNotFollowed) {
    fs::create_directories(workspace_ / "d");
    ApplyPatchOptions options;
    bool swapped = false;
    // Between checking the path and writing the file, "d" becomes a symlink to the outside directory. The
    // write goes through the descriptor of the directory that was checked, wherever it now is.
    options.before_filesystem_step = [&](std::string_view step, const std::string&) -> Status {
        if (step == "write" && !swapped) {
            swapped = true;
            fs::rename(workspace_ / "d", workspace_ / "d-was-here");
            fs::create_directory_symlink(outside_, workspace_ / "d");
        }
        return {};
    };
    Result<PatchSummary> summary =
        apply_patch(workspace_, "*** Begin Patch\n*** Add File: d/new.txt\n+x\n*** End Patch\n", options);
    ASSERT_TRUE(swapped);
    EXPECT_TRUE(summary.ok()) << summary.error().to_string();
    EXPECT_FALSE(fs::exists(outside_ / "new.txt"));
    EXPECT_EQ(read_file(workspace_ / "d-was-here" / "new.txt"), "x\n");
    EXPECT_EQ(fs::directory_iterator(outside_)->path().filename(), "secret.txt");
}

TEST_F(PatchSafetyTest, SizeLimits) {
    write_file(workspace_ / "big.txt", std::string(200, 'x') + "\n");
    ApplyPatchOptions options;
    options.max_patch_bytes = 64;
    expect_refused("*** Begin Patch\n*** Add File: a.txt\n+" + std::string(100, 'y') + "\n*** End Patch\n",
                   "more than the 64 bytes", options);

    options = {};
    options.max_file_bytes = 100;
    expect_refused("*** Begin Patch\n*** Update File: big.txt\n@@\n+y\n*** End Patch\n", "larger than 100 bytes",
                   options);
    expect_refused("*** Begin Patch\n*** Update File: inside.txt\n@@\n+" + std::string(120, 'z') + "\n*** End Patch\n",
                   "would be 128 bytes", options);
    expect_refused("*** Begin Patch\n*** Add File: new.txt\n+" + std::string(120, 'z') + "\n*** End Patch\n",
                   "would be 121 bytes", options);

    options = {};
    options.max_total_file_bytes = 250;
    write_file(workspace_ / "other.txt", std::string(100, 'o') + "\n");
    expect_refused("*** Begin Patch\n*** Update File: big.txt\n@@\n+y\n*** Update File: other.txt\n@@\n+y\n"
                   "*** End Patch\n",
                   "more than 250 bytes together", options);

    options = {};
    options.max_operations = 2;
    expect_refused("*** Begin Patch\n*** Add File: 1\n*** Add File: 2\n*** Add File: 3\n*** End Patch\n",
                   "3 file operations", options);
}

} // namespace
} // namespace tllm::tools
