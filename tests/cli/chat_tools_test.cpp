// The chat command with its tools (-a, -p, -b), end to end through the binary, on a tiny random-weights
// model whose replies are scripted (--scripted-reply: the tokens are forced, the model still runs over them).
// Each scripted reply calls a tool; the chat must run it, show its answer and feed it back to the model.
#include "../common/chat_test_config.h"
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
using testing::shell_quote;

class ChatToolsTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        directory_ = new testing::TempDir();
        CommandResult synth = testing::synthesize_chat_test_model(*directory_);
        ASSERT_EQ(synth.exit_code, 0) << synth.output;
        fs::create_directories(*directory_ / "docs");
        std::ofstream(*directory_ / "docs/kiwi.html") << "<html><head><title>Kiwifruit</title></head><body><p>The "
                                                         "kiwifruit is an edible berry.</p></body></html>";
        std::ofstream(*directory_ / "docs/cars.txt") << "A car is a wheeled motor vehicle.\n";
        sandbox_ = run_shell(std::string(TLLM_BINARY) + " tool python </dev/null >/dev/null 2>&1").exit_code == 0;
    }
    static void TearDownTestSuite() { delete directory_; }

    // The chat on the test model from a pipe, with `options`; stderr into `errors`.
    static CommandResult chat(const std::string& options, const std::string& input, const std::string& errors) {
        return run_shell(
            "printf %s " + shell_quote(input) + " | env -u EXA_API_KEY -u YDC_API_KEY -u BROWSER_BACKEND " +
            "TRITONLLM_CACHE_DIR=" + (*directory_ / "cache") + " " + TLLM_BINARY + " " + (*directory_ / "model") +
            " --backend cpu --threads 1 --seed 1 --max-tokens 64 " + options + " 2>" + errors);
    }
    static std::string scripted(const std::vector<std::string>& replies) {
        std::string options;
        for (const std::string& reply : replies) {
            options += " --scripted-reply " + shell_quote(reply);
        }
        return options;
    }

    static testing::TempDir* directory_;
    static bool sandbox_;
};

testing::TempDir* ChatToolsTest::directory_ = nullptr;
bool ChatToolsTest::sandbox_ = false;

const std::string kPatchCall = " to=functions.apply_patch<|channel|>commentary <|constrain|>json<|message|>"
                               "{\"patch\": \"*** Begin Patch\\n*** Add File: notes/todo.txt\\n+buy kiwis\\n"
                               "*** End Patch\\n\"}<|call|>";
const std::string kPythonCall = " to=python<|channel|>analysis code<|message|>print(sum(range(10)))<|call|>";
const std::string kSearchCall = " to=browser.search<|channel|>analysis code<|message|>{\"query\": \"kiwifruit "
                                "berry\"}<|call|>";
const std::string kOpenCall = " to=browser.open<|channel|>analysis code<|message|>{\"id\": 0}<|call|>";
const std::string kFinal = "<|channel|>final<|message|>Kiwis are berries 【1†L1】.<|return|>";

TEST_F(ChatToolsTest, AllThreeToolsRunThroughTheChatLoop) {
    if (!sandbox_) {
        GTEST_SKIP() << "the python sandbox (bubblewrap) cannot run here";
    }
    testing::TempDir workspace;
    testing::TempDir scratch;
    const std::string errors = scratch / "stderr.txt";
    CommandResult result =
        chat("-a --workspace " + workspace.path() + " -p -b --browser-backend local:" + (*directory_ / "docs") +
                 scripted({kPatchCall, kPythonCall, kSearchCall, kOpenCall, kFinal}),
             "Note that I need kiwis, add them up, and look kiwis up.\n", errors);
    const std::string log = read_file(errors);
    ASSERT_EQ(result.exit_code, 0) << log << result.output;
    EXPECT_NE(log.find("Tools: browser (local:"), std::string::npos) << log;

    // apply_patch wrote into the workspace, and said so.
    EXPECT_EQ(read_file(fs::path(workspace.path()) / "notes/todo.txt"), "buy kiwis\n");
    EXPECT_NE(result.output.find("Apply Patch output:\nDone!\n"), std::string::npos) << result.output;
    // python ran the code.
    EXPECT_NE(result.output.find("Python output:\n45\n"), std::string::npos) << result.output;
    // The search results went to the model, not to the screen (chat.py without --show-browser-results).
    EXPECT_NE(result.output.find("Search output:\n[Search results fed to the model]"), std::string::npos)
        << result.output;
    // The final answer's citation of the opened page (cursor 1) is shown as a link to it, not as 【1†L1】.
    const size_t answer = result.output.find("Assistant: Kiwis are berries");
    ASSERT_NE(answer, std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("【1†L1】", answer), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("kiwi.html", answer), std::string::npos) << result.output;
    // One reply per scripted reply: every tool answer was followed by a reply of the model.
    size_t replies = 0;
    for (size_t at = log.find("Decode TPS:"); at != std::string::npos; at = log.find("Decode TPS:", at + 1)) {
        ++replies;
    }
    EXPECT_EQ(replies, 5u) << log;
}

TEST_F(ChatToolsTest, RawModeShowsTheToolMessagesAsTheModelReadsThem) {
    testing::TempDir workspace;
    testing::TempDir scratch;
    const std::string errors = scratch / "stderr.txt";
    CommandResult result = chat("--raw -a --workspace " + workspace.path() +
                                    " -b --show-browser-results --browser-backend local:" + (*directory_ / "docs") +
                                    scripted({kPatchCall, kSearchCall, kFinal}),
                                "Go.\n", errors);
    ASSERT_EQ(result.exit_code, 0) << read_file(errors);
    EXPECT_NE(result.output.find("<|start|>functions.apply_patch to=assistant<|channel|>commentary<|message|>Done!"
                                 "<|end|><|start|>assistant"),
              std::string::npos)
        << result.output;
    EXPECT_NE(result.output.find("<|start|>browser.search to=assistant<|channel|>analysis<|message|>"),
              std::string::npos)
        << result.output;
    EXPECT_NE(result.output.find("Kiwifruit"), std::string::npos) << result.output;
    // The system message declares the browser, the developer message apply_patch.
    EXPECT_NE(result.output.find("## browser"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("type apply_patch = "), std::string::npos) << result.output;
}

TEST_F(ChatToolsTest, ToolsThatCannotWorkFailBeforeTheChatStarts) {
    testing::TempDir scratch;
    const std::string errors = scratch / "stderr.txt";
    CommandResult no_key = chat("-b --browser-backend exa", "", errors);
    EXPECT_EQ(no_key.exit_code, 1);
    EXPECT_NE(read_file(errors).find("EXA_API_KEY"), std::string::npos) << read_file(errors);

    CommandResult no_workspace = chat("-a --workspace " + (scratch / "missing"), "", errors);
    EXPECT_EQ(no_workspace.exit_code, 1);
    EXPECT_NE(read_file(errors).find("workspace"), std::string::npos) << read_file(errors);

    CommandResult results_without_browser = chat("--show-browser-results", "", errors);
    EXPECT_EQ(results_without_browser.exit_code, 1);
    EXPECT_NE(read_file(errors).find("-b"), std::string::npos) << read_file(errors);
}

} // namespace
} // namespace tllm
