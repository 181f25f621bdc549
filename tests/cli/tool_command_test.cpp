// `tritonllm tool apply_patch|python|browser`: each tool alone through the binary, as users and scripts run it.
#include "../common/files.h"
#include "../common/shell.h"
#include "../common/temp_dir.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>

namespace tllm {
namespace {

using ::tllm::testing::read_file;

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::run_shell;

// `input` written to a file and fed on stdin; stderr into `errors`.
CommandResult run_tool(const std::string& arguments, const std::string& input, const testing::TempDir& scratch) {
    std::ofstream(scratch / "stdin.txt", std::ios::binary) << input;
    return run_shell(std::string(TLLM_BINARY) + " tool " + arguments + " <" + (scratch / "stdin.txt") + " 2>" +
                     (scratch / "stderr.txt"));
}

TEST(ToolCommand, ApplyPatchChangesTheWorkspaceOrNothing) {
    testing::TempDir workspace;
    testing::TempDir scratch;
    std::ofstream(workspace / "app.py") << "def greet():\n    print(\"Hi\")\n";
    CommandResult applied = run_tool("apply_patch --workspace " + workspace.path(),
                                     "*** Begin Patch\n*** Update File: app.py\n@@ def greet():\n-    print(\"Hi\")\n"
                                     "+    print(\"Hello\")\n*** Add File: docs/readme.md\n+# App\n*** End Patch\n",
                                     scratch);
    EXPECT_EQ(applied.exit_code, 0) << read_file(scratch / "stderr.txt");
    EXPECT_EQ(applied.output, "Done!\n");
    EXPECT_EQ(read_file(workspace / "app.py"), "def greet():\n    print(\"Hello\")\n");
    EXPECT_EQ(read_file(workspace / "docs/readme.md"), "# App\n");

    // The second operation fails (absolute path): the first is not applied either.
    CommandResult refused = run_tool("apply_patch --workspace " + workspace.path(),
                                     "*** Begin Patch\n*** Delete File: app.py\n*** Add File: /tmp/evil.txt\n+x\n"
                                     "*** End Patch\n",
                                     scratch);
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.output.find("absolute"), std::string::npos) << refused.output;
    EXPECT_TRUE(fs::exists(workspace / "app.py"));
    EXPECT_NE(read_file(scratch / "stderr.txt").find("nothing changed"), std::string::npos);
}

TEST(ToolCommand, PythonPrintsWhatTheModelWouldRead) {
    testing::TempDir scratch;
    CommandResult probe = run_tool("python", "", scratch);
    if (probe.exit_code != 0) {
        GTEST_SKIP() << "no usable sandbox here: " << read_file(scratch / "stderr.txt");
    }
    CommandResult result = run_tool("python", "import math\nprint(math.factorial(20))\n", scratch);
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.output, "2432902008176640000\n");
    CommandResult slow =
        run_tool("python --timeout 1", "import time\nprint('start', flush=True)\ntime.sleep(30)\n", scratch);
    EXPECT_EQ(slow.exit_code, 0);
    EXPECT_NE(slow.output.find("start"), std::string::npos) << slow.output;
    EXPECT_NE(slow.output.find("wall-clock"), std::string::npos) << slow.output;
}

TEST(ToolCommand, BrowserSearchesOpensAndFindsInALocalFolder) {
    testing::TempDir documents;
    testing::TempDir scratch;
    std::ofstream(documents / "kiwi.html") << "<html><head><title>Kiwifruit</title></head><body><p>The kiwifruit "
                                              "is an edible berry.</p><p>It grows on woody vines.</p></body></html>";
    std::ofstream(documents / "cars.txt") << "A car is a wheeled motor vehicle.\n";
    const std::string backend = "browser --backend local:" + documents.path();
    CommandResult search = run_tool(backend + " search 'woody vines'", "", scratch);
    EXPECT_EQ(search.exit_code, 0) << read_file(scratch / "stderr.txt");
    EXPECT_NE(search.output.find("[0] woody vines"), std::string::npos) << search.output;
    EXPECT_NE(search.output.find("Kiwifruit"), std::string::npos) << search.output;
    EXPECT_EQ(search.output.find("wheeled"), std::string::npos) << "the car page does not match";

    CommandResult script = run_tool(backend + " --script -",
                                    "{\"function\": \"search\", \"arguments\": {\"query\": \"kiwifruit\"}}\n"
                                    "{\"function\": \"open\", \"arguments\": {\"id\": 0}}\n"
                                    "{\"function\": \"find\", \"arguments\": {\"pattern\": \"woody\"}}\n",
                                    scratch);
    EXPECT_EQ(script.exit_code, 0) << read_file(scratch / "stderr.txt");
    EXPECT_NE(script.output.find("[1] Kiwifruit"), std::string::npos) << script.output;
    EXPECT_NE(script.output.find("[2] Find results for text: `woody`"), std::string::npos) << script.output;

    CommandResult bad = run_tool(backend + " --script -", "{\"function\": \"search\"\n", scratch);
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(read_file(scratch / "stderr.txt").find("line 1"), std::string::npos) << read_file(scratch / "stderr.txt");

    CommandResult no_backend = run_tool("browser --backend gopher search x", "", scratch);
    EXPECT_EQ(no_backend.exit_code, 1);
    EXPECT_NE(read_file(scratch / "stderr.txt").find("unknown browser backend"), std::string::npos);
}

} // namespace
} // namespace tllm
