// The chat command end to end on a tiny random-weights model: in a real terminal (a detached tmux session
// of fixed size, driven with send-keys and read with capture-pane) and from a pipe (scripted mode).
#include "../common/chat_test_config.h"
#include "../common/files.h"
#include "../common/shell.h"
#include "../common/temp_dir.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <thread>

namespace tllm {
namespace {

using ::tllm::testing::read_file;

using namespace std::chrono_literals;

using testing::CommandResult;
using testing::run_shell;
using testing::shell_quote;

size_t count(const std::string& text, const std::string& needle) {
    size_t found = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) {
        ++found;
    }
    return found;
}

// One detached tmux session on a private server (its own socket file), removed with the object.
class Tmux {
  public:
    explicit Tmux(const std::string& command) : socket_(socket_dir_ / "tmux.sock") {
        // The pane outlives the chat, so its exit status can be read.
        const std::string pane = command + "; echo CHAT-EXIT=$?; sleep 600";
        started_ = tmux("-f /dev/null new-session -d -x 160 -y 48 " + shell_quote(pane)).exit_code == 0;
    }
    ~Tmux() { tmux("kill-server"); }
    Tmux(const Tmux&) = delete;
    Tmux& operator=(const Tmux&) = delete;

    bool started() const { return started_; }
    void type(const std::string& text) { tmux("send-keys -l -- " + shell_quote(text)); }
    void key(const std::string& name) { tmux("send-keys " + name); }
    void line(const std::string& text) {
        type(text);
        key("Enter");
    }
    // The whole pane with its scrollback, wrapped lines joined.
    std::string screen() { return tmux("capture-pane -p -J -S -5000").output; }
    bool wait_for(const std::function<bool(const std::string&)>& condition, std::chrono::seconds timeout = 30s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (condition(screen())) {
                return true;
            }
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }
    bool wait_for_text(const std::string& text, size_t times = 1) {
        return wait_for([&](const std::string& screen) { return count(screen, text) >= times; });
    }

  private:
    CommandResult tmux(const std::string& arguments) {
        return run_shell("tmux -S " + socket_ + " " + arguments + " 2>/dev/null");
    }
    testing::TempDir socket_dir_; // a private server's socket, removed with the session
    std::string socket_;
    bool started_ = false;
};

class ChatTuiTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        directory_ = new testing::TempDir();
        CommandResult synth = testing::synthesize_chat_test_model(*directory_);
        ASSERT_EQ(synth.exit_code, 0) << synth.output;
    }
    static void TearDownTestSuite() { delete directory_; }

    void SetUp() override {
        if (run_shell("command -v tmux >/dev/null 2>&1").exit_code != 0) {
            GTEST_SKIP() << "tmux is not installed";
        }
    }

    // The chat command line: the test model on the CPU, one thread, a fixed seed, the cache in the test's dir.
    static std::string chat(const std::string& options) {
        return "env TRITONLLM_CACHE_DIR=" + (*directory_ / "cache") + " " + TLLM_BINARY + " " +
               (*directory_ / "model") + " --backend cpu --threads 1 --seed 1 " + options;
    }

    static testing::TempDir* directory_;
};

testing::TempDir* ChatTuiTest::directory_ = nullptr;

constexpr const char* kPrompt = "User: ";
constexpr const char* kReplyDone = "Decode TPS:";

TEST_F(ChatTuiTest, RawModeShowsTheReasoningEffortInTheSystemMessage) {
    for (const std::string effort : {"low", "medium", "high"}) {
        Tmux tmux(chat("--raw --max-tokens 4 -r " + effort));
        ASSERT_TRUE(tmux.started());
        ASSERT_TRUE(tmux.wait_for_text("<|start|>user<|message|>")) << tmux.screen();
        std::string screen = tmux.screen();
        EXPECT_NE(screen.find("<|start|>system<|message|>You are ChatGPT"), std::string::npos) << screen;
        EXPECT_NE(screen.find("\nReasoning: " + effort + "\n"), std::string::npos) << screen;
        tmux.line("hi");
        ASSERT_TRUE(tmux.wait_for_text(kReplyDone)) << tmux.screen();
        // The raw view shows the turn's scaffolding (after the Enter's new line), not labels.
        screen = tmux.screen();
        EXPECT_NE(screen.find("<|start|>user<|message|>hi\n<|end|><|start|>assistant"), std::string::npos) << screen;
        EXPECT_EQ(screen.find("Output (not Harmony)"), std::string::npos) << screen;
        tmux.key("C-d");
        ASSERT_TRUE(tmux.wait_for_text("CHAT-EXIT=0")) << tmux.screen();
    }
}

// A number from the n-th statistics line (from 1), "... | Generated: G tokens | Prompt: P tokens (C cached)":
// G, or C when `cached`; -1 when there is no such line.
int statistic(const std::string& screen, size_t n, bool cached) {
    size_t at = std::string::npos;
    for (size_t i = 0; i < n; ++i) {
        at = screen.find("Generated: ", at == std::string::npos ? 0 : at + 1);
        if (at == std::string::npos) {
            return -1;
        }
    }
    const std::string line = screen.substr(at, screen.find('\n', at) - at);
    const size_t number = cached ? line.find('(') + 1 : std::string("Generated: ").size();
    return number == 0 ? -1 : std::atoi(line.c_str() + number);
}

TEST_F(ChatTuiTest, CtrlCStopsTheReplyAndTheChatGoesOn) {
    // No reply limit and room for thousands of tokens: only Ctrl-C ends these replies in time.
    Tmux tmux(chat("-c 16384"));
    ASSERT_TRUE(tmux.started());
    ASSERT_TRUE(tmux.wait_for_text(kPrompt)) << tmux.screen();
    for (size_t reply = 1; reply <= 2; ++reply) {
        const size_t shown = count(tmux.screen(), "Output (not Harmony):");
        tmux.line(reply == 1 ? "Tell me a long story." : "And another one.");
        // Wait until the reply is streaming (the random model's output is shown as it comes).
        ASSERT_TRUE(tmux.wait_for_text("Output (not Harmony):", shown + 1)) << tmux.screen();
        tmux.key("C-c");
        ASSERT_TRUE(tmux.wait_for_text(kReplyDone, reply)) << tmux.screen();
        ASSERT_TRUE(tmux.wait_for_text(kPrompt, reply + 1)) << tmux.screen();
        const std::string screen = tmux.screen();
        EXPECT_EQ(count(screen, "Interrupted."), reply) << screen;
        const int generated = statistic(screen, reply, false);
        EXPECT_GT(generated, 0) << screen;
        EXPECT_LT(generated, 16000) << screen;
    }
    // The second prompt starts with the whole first one, which the cache still holds.
    EXPECT_GT(statistic(tmux.screen(), 2, true), 60) << tmux.screen();
    // Ctrl-C at an empty prompt only explains; a second one exits.
    tmux.key("C-c");
    ASSERT_TRUE(tmux.wait_for_text("press Ctrl-C again or Ctrl-D")) << tmux.screen();
    EXPECT_EQ(tmux.screen().find("CHAT-EXIT"), std::string::npos);
    tmux.key("C-c");
    ASSERT_TRUE(tmux.wait_for_text("CHAT-EXIT=0")) << tmux.screen();
}

TEST_F(ChatTuiTest, CtrlCStopsALongPythonCall) {
    if (run_shell(std::string(TLLM_BINARY) + " tool python </dev/null >/dev/null 2>&1").exit_code != 0) {
        GTEST_SKIP() << "the python sandbox cannot run here";
    }
    const std::string call = " to=python<|channel|>analysis code<|message|>import time\nprint('started', "
                             "flush=True)\ntime.sleep(600)<|call|>";
    Tmux tmux(chat("-p --max-tokens 64 --scripted-reply " + shell_quote(call)));
    ASSERT_TRUE(tmux.started());
    ASSERT_TRUE(tmux.wait_for_text(kPrompt)) << tmux.screen();
    tmux.line("Sleep.");
    ASSERT_TRUE(tmux.wait_for_text("Tool call to python:")) << tmux.screen();
    std::this_thread::sleep_for(1s); // the sandbox is running the code
    const auto pressed = std::chrono::steady_clock::now();
    tmux.key("C-c");
    ASSERT_TRUE(tmux.wait_for_text("[python: stopped by the user]")) << tmux.screen();
    EXPECT_LT(std::chrono::steady_clock::now() - pressed, 10s) << "not the 120 s limit";
    ASSERT_TRUE(tmux.wait_for_text(kPrompt, 2)) << tmux.screen();
    EXPECT_NE(tmux.screen().find("started"), std::string::npos) << tmux.screen();
}

TEST_F(ChatTuiTest, LongChatsAreTrimmedWithANotice) {
    Tmux tmux(chat("-c 160 --max-tokens 16"));
    ASSERT_TRUE(tmux.started());
    ASSERT_TRUE(tmux.wait_for_text(kPrompt)) << tmux.screen();
    size_t replies = 0;
    while (replies < 8 && tmux.screen().find("History trimmed") == std::string::npos) {
        tmux.line("Message number " + std::to_string(replies) + " of a chat that grows.");
        ++replies;
        ASSERT_TRUE(tmux.wait_for_text(kReplyDone, replies)) << tmux.screen();
    }
    const std::string screen = tmux.screen();
    EXPECT_NE(screen.find("History trimmed to fit the context of 160 tokens: dropped the"), std::string::npos)
        << screen;
    EXPECT_GT(replies, 1u) << "the first prompt fits";
    tmux.key("C-d");
    ASSERT_TRUE(tmux.wait_for_text("CHAT-EXIT=0")) << tmux.screen();
}

TEST_F(ChatTuiTest, MessagesSpanLinesAndJoinTheHistory) {
    Tmux tmux(chat("--max-tokens 3"));
    ASSERT_TRUE(tmux.started());
    ASSERT_TRUE(tmux.wait_for_text(kPrompt)) << tmux.screen();
    tmux.line("first line \\");
    ASSERT_TRUE(tmux.wait_for_text("... ")) << tmux.screen();
    tmux.line("second line");
    ASSERT_TRUE(tmux.wait_for_text(kReplyDone)) << tmux.screen();
    tmux.line(R"(""")");
    tmux.line("inside a block \\");
    tmux.line("still inside");
    EXPECT_EQ(count(tmux.screen(), kReplyDone), 1u) << "a block runs to its closing line";
    tmux.line(R"(""")");
    ASSERT_TRUE(tmux.wait_for_text(kReplyDone, 2)) << tmux.screen();
    tmux.key("C-d");
    ASSERT_TRUE(tmux.wait_for_text("CHAT-EXIT=0")) << tmux.screen();
    EXPECT_EQ(count(tmux.screen(), kReplyDone), 2u) << "two messages: " << tmux.screen();
    const std::string history = read_file(*directory_ / "cache/chat_history");
    EXPECT_NE(history.find("first line \nsecond line"), std::string::npos) << history;
    EXPECT_NE(history.find("inside a block \\\nstill inside"), std::string::npos) << history;
}

TEST_F(ChatTuiTest, ScriptedModeReadsOneMessagePerLine) {
    testing::TempDir scratch;
    const std::string errors = scratch / "stderr.txt";
    CommandResult result =
        run_shell("printf 'one\\ntwo\\n\\nthree\\n' | " + chat("--raw --max-tokens 5") + " 2>" + errors);
    const std::string log = read_file(errors);
    ASSERT_EQ(result.exit_code, 0) << log;
    EXPECT_EQ(count(log, kReplyDone), 3u) << log; // the empty line is skipped
    EXPECT_NE(result.output.find("\nReasoning: high\n"), std::string::npos) << "TritonLLM's default effort";
    EXPECT_EQ(count(result.output, "<|start|>assistant"), 3u) << result.output;
    EXPECT_EQ(result.output.find('\x1b'), std::string::npos) << "no ANSI codes into a pipe";
    EXPECT_EQ(result.output.find("User:"), std::string::npos) << "no prompts into a pipe";
    EXPECT_EQ(result.output.find("Decode TPS"), std::string::npos) << "statistics go to stderr";
}

TEST_F(ChatTuiTest, DemoModelIsWrittenOnceAndSaysItIsRandom) {
    testing::TempDir cache;
    const std::string command = "echo hi | env TRITONLLM_CACHE_DIR=" + cache.path() + " " + TLLM_BINARY +
                                " --demo --backend cpu --threads 1 --max-tokens 3 2>&1";
    CommandResult first = run_shell(command);
    ASSERT_EQ(first.exit_code, 0) << first.output;
    EXPECT_NE(first.output.find("RANDOM WEIGHTS"), std::string::npos) << first.output;
    EXPECT_NE(first.output.find("writing the demo model"), std::string::npos) << first.output;
    EXPECT_TRUE(std::filesystem::exists(cache / "demo-model/config.json"));
    CommandResult second = run_shell(command);
    ASSERT_EQ(second.exit_code, 0) << second.output;
    EXPECT_EQ(second.output.find("writing the demo model"), std::string::npos) << "the model is reused";
    EXPECT_EQ(count(second.output, kReplyDone), 1u) << second.output;
}

TEST_F(ChatTuiTest, MissingModelsAndToolsFailWithDirections) {
    // No cached copy and an unreachable hub (a closed loopback port): directions, not a hang.
    CommandResult missing =
        run_shell("TRITONLLM_CACHE_DIR=" + (*directory_ / "empty-cache") + " MODELSCOPE_DOMAIN=http://127.0.0.1:1 " +
                  std::string(TLLM_BINARY) + " 120b --log-level warn </dev/null 2>&1");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.output.find("tritonllm download 120b"), std::string::npos) << missing.output;
    EXPECT_NE(missing.output.find("cannot reach 127.0.0.1:1"), std::string::npos) << missing.output;
    EXPECT_NE(missing.output.find("--demo"), std::string::npos) << missing.output;

    CommandResult tool = run_shell("env -u EXA_API_KEY " + chat("-b --browser-backend exa") + " </dev/null 2>&1");
    EXPECT_EQ(tool.exit_code, 1);
    EXPECT_NE(tool.output.find("needs an API key in EXA_API_KEY"), std::string::npos) << tool.output;

    CommandResult subcommand =
        run_shell(std::string(TLLM_BINARY) + " chat --demo " + (*directory_ / "model") + " </dev/null 2>&1");
    EXPECT_NE(subcommand.exit_code, 0) << "--demo and MODEL exclude each other";
}

} // namespace
} // namespace tllm
