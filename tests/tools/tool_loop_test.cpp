// The chat's tool loop on a tiny synthetic model (random weights, the real vocabulary) on the CPU. The
// model's replies are scripted: their tokens are forced instead of sampled, the model still runs over every
// one of them. Each test makes the model call a tool, checks the tool really ran (a file appears, code's
// output comes back, a document is found), that its answer went into the history as the Harmony tool message
// gpt-oss's chat.py appends, and that the model's next reply was generated over a prompt holding it.
#include "../common/files.h"
#include "../common/temp_dir.h"
#include "../common/tiny_chat_model.h"
#include "chat/chat_session.h"
#include "tools/python/python_sandbox.h"
#include "tools/tool_loop.h"
#include "tools/toolbox.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

namespace tllm::tools {
namespace {

using ::tllm::testing::read_file;
using ::tllm::testing::write_file;

namespace fs = std::filesystem;

constexpr const char* kTinyConfig = R"({
  "num_hidden_layers": 2, "num_experts": 4, "experts_per_token": 2, "vocab_size": 201088,
  "hidden_size": 64, "intermediate_size": 64, "swiglu_limit": 7.0, "head_dim": 16,
  "num_attention_heads": 4, "num_key_value_heads": 2, "sliding_window": 8,
  "initial_context_length": 4096, "rope_theta": 150000.0, "rope_scaling_factor": 32.0,
  "rope_ntk_alpha": 1.0, "rope_ntk_beta": 32.0
})";

class ToolLoopTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        EngineOptions options;
        options.n_threads = 2;
        model_ = new testing::TinyChatModel(kTinyConfig, 11, options);
        if (model_->engine() != nullptr) {
            tokenizer_ = &model_->tokenizer();
        }
    }
    static void TearDownTestSuite() { delete model_; }
    void SetUp() override { ASSERT_NE(model_->engine(), nullptr); }

    // A session whose replies are `replies` (Harmony text after "<|start|>assistant"), with `toolbox`'s tools.
    static std::unique_ptr<ChatSession> make_session(const std::vector<std::string>& replies, const Toolbox* toolbox) {
        ChatOptions chat;
        chat.conversation_date = "2025-08-05";
        chat.context = 4096;
        chat.max_tokens = 256;
        chat.sampling.temperature = 0.0f;
        for (const std::string& reply : replies) {
            auto tokens = tokenizer_->encode_with_special(reply);
            EXPECT_TRUE(tokens.ok());
            chat.scripted_replies.push_back(*tokens);
        }
        if (toolbox != nullptr) {
            toolbox->declare(chat);
        }
        return model_->session(chat);
    }
    static std::string decode(std::span<const TokenId> tokens) { return model_->decode(tokens); }

    static testing::TinyChatModel* model_;
    static const Tokenizer* tokenizer_;
};

testing::TinyChatModel* ToolLoopTest::model_ = nullptr;
const Tokenizer* ToolLoopTest::tokenizer_ = nullptr;

// Keeps every prompt, every reply's tokens and every tool call with its answer.
class Recorder : public ToolLoopObserver {
  public:
    void on_prompt(const PromptInfo&, std::span<const TokenId> prompt) override {
        prompts.emplace_back(prompt.begin(), prompt.end());
        replies.emplace_back();
    }
    void on_token(TokenId token) override { replies.back().push_back(token); }
    void on_tool_call(const Message& call) override { calls.push_back(call); }
    void on_tool_result(const Message&, const Message& result) override { results.push_back(result); }
    std::vector<std::vector<TokenId>> prompts;
    std::vector<std::vector<TokenId>> replies;
    std::vector<Message> calls;
    std::vector<Message> results;
};

const std::string& text_of(const Message& message) { return std::get<std::string>(message.content.at(0)); }

TEST_F(ToolLoopTest, ApplyPatchCallEditsTheWorkspaceAndTheModelReadsTheAnswer) {
    testing::TempDir workspace;
    write_file(fs::path(workspace.path()) / "src/app.py", "def greet():\n    print(\"Hi\")\n");
    ToolboxOptions options;
    options.patch_workspace = workspace.path();
    auto toolbox = Toolbox::create(options, tokenizer_);
    ASSERT_TRUE(toolbox.ok()) << toolbox.error().to_string();

    const std::string patch =
        R"(*** Begin Patch\n*** Add File: hello.txt\n+Hello world\n*** Update File: src/app.py\n)"
        R"(*** Move to: src/main.py\n@@ def greet():\n-    print(\"Hi\")\n+    print(\"Hello, world!\")\n)"
        R"(*** End Patch\n)";
    auto session =
        make_session({"<|channel|>analysis<|message|>Edit the file.<|end|><|start|>assistant to=functions.apply_patch"
                      "<|channel|>commentary <|constrain|>json<|message|>{\"patch\": \"" +
                          patch + "\"}<|call|>",
                      "<|channel|>final<|message|>Renamed and greeted.<|return|>"},
                     toolbox->get());
    ASSERT_NE(session, nullptr);
    Recorder recorder;
    std::atomic<bool> stop{false};
    auto turn = run_chat_turn(*session, toolbox->get(), "Rename app.py to main.py.", recorder, stop);
    ASSERT_TRUE(turn.ok()) << turn.error().to_string();

    EXPECT_EQ(turn->tool_calls, 1);
    ASSERT_EQ(turn->replies.size(), 2u);
    EXPECT_EQ(turn->replies[0].stop, StopReason::kCall);
    EXPECT_EQ(turn->replies[1].stop, StopReason::kReturn);
    EXPECT_EQ(read_file(fs::path(workspace.path()) / "hello.txt"), "Hello world\n");
    EXPECT_FALSE(fs::exists(fs::path(workspace.path()) / "src/app.py"));
    EXPECT_EQ(read_file(fs::path(workspace.path()) / "src/main.py"), "def greet():\n    print(\"Hello, world!\")\n");

    // chat.py's answer: author functions.apply_patch, to the assistant, on the call's channel.
    ASSERT_EQ(recorder.results.size(), 1u);
    const std::string answer =
        "<|start|>functions.apply_patch to=assistant<|channel|>commentary<|message|>Done!<|end|>";
    ASSERT_EQ(recorder.prompts.size(), 2u);
    const std::string second_prompt = decode(recorder.prompts[1]);
    EXPECT_NE(second_prompt.find(answer + "<|start|>assistant"), std::string::npos) << second_prompt;
    // The second prompt starts with the first one and the reply: the KV cache was kept, not rebuilt (whole blocks
    // of it, the first prompt's included, since the reply outgrew a block).
    EXPECT_GE(turn->replies[1].prompt.reused_tokens, static_cast<int64_t>(recorder.prompts[0].size()));

    const std::vector<Message>& history = session->messages();
    ASSERT_GE(history.size(), 6u);
    const Message& tool_message = history[history.size() - 2];
    EXPECT_EQ(tool_message.role, Role::kTool);
    EXPECT_EQ(tool_message.name, "functions.apply_patch");
    EXPECT_EQ(tool_message.recipient, "assistant");
    EXPECT_EQ(tool_message.channel, "commentary");
    EXPECT_EQ(text_of(history.back()), "Renamed and greeted.");
}

TEST_F(ToolLoopTest, AFailedPatchIsToldToTheModelAndChangesNothing) {
    testing::TempDir workspace;
    write_file(fs::path(workspace.path()) / "keep.txt", "original\n");
    ToolboxOptions options;
    options.patch_workspace = workspace.path();
    auto toolbox = Toolbox::create(options, tokenizer_);
    ASSERT_TRUE(toolbox.ok());
    auto session = make_session({" to=functions.apply_patch<|channel|>commentary <|constrain|>json"
                                 "<|message|>{\"patch\": \"*** Begin Patch\\n*** Add File: ../outside.txt\\n+x\\n"
                                 "*** End Patch\\n\"}<|call|>",
                                 "<|channel|>final<|message|>Sorry.<|return|>"},
                                toolbox->get());
    Recorder recorder;
    std::atomic<bool> stop{false};
    auto turn = run_chat_turn(*session, toolbox->get(), "Write outside.", recorder, stop);
    ASSERT_TRUE(turn.ok()) << turn.error().to_string();
    ASSERT_EQ(recorder.results.size(), 1u);
    EXPECT_NE(text_of(recorder.results[0]), "Done!");
    EXPECT_NE(text_of(recorder.results[0]).find(".."), std::string::npos) << text_of(recorder.results[0]);
    EXPECT_FALSE(fs::exists(fs::path(workspace.path()).parent_path() / "outside.txt"));
    EXPECT_EQ(read_file(fs::path(workspace.path()) / "keep.txt"), "original\n");
    EXPECT_EQ(turn->stop(), StopReason::kReturn);
}

TEST_F(ToolLoopTest, PythonCallRunsInTheSandboxAndItsOutputGoesBackOnTheCallsChannel) {
    PythonSandboxOptions sandbox;
    if (Status usable = check_python_sandbox(sandbox); !usable.ok()) {
        GTEST_SKIP() << usable.error().to_string();
    }
    ToolboxOptions options;
    options.python = PythonSettings{};
    auto toolbox = Toolbox::create(options, tokenizer_);
    ASSERT_TRUE(toolbox.ok()) << toolbox.error().to_string();
    auto session = make_session({"<|channel|>analysis<|message|>Compute it.<|end|><|start|>assistant to=python"
                                 "<|channel|>analysis code<|message|>print(2**100)<|call|>",
                                 "<|channel|>final<|message|>1267650600228229401496703205376<|return|>"},
                                toolbox->get());
    Recorder recorder;
    std::atomic<bool> stop{false};
    auto turn = run_chat_turn(*session, toolbox->get(), "What is 2**100?", recorder, stop);
    ASSERT_TRUE(turn.ok()) << turn.error().to_string();
    ASSERT_EQ(recorder.results.size(), 1u);
    // harmony-tokenizer.md §2.1's example, exactly.
    const std::string answer =
        "<|start|>python to=assistant<|channel|>analysis<|message|>1267650600228229401496703205376\n<|end|>";
    ASSERT_EQ(recorder.prompts.size(), 2u);
    EXPECT_NE(decode(recorder.prompts[1]).find(answer), std::string::npos) << decode(recorder.prompts[1]);
    EXPECT_EQ(turn->replies.back().stop, StopReason::kReturn);
}

TEST_F(ToolLoopTest, BrowserSearchesThenOpensALocalDocument) {
    testing::TempDir documents;
    write_file(fs::path(documents.path()) / "fruit/kiwi.html",
               "<html><head><title>Kiwifruit facts</title></head><body><h1>Kiwifruit</h1>"
               "<p>The kiwifruit is the edible berry of several species of woody vines.</p></body></html>");
    write_file(fs::path(documents.path()) / "cars.md", "# Cars\n\nA car is a wheeled motor vehicle.\n");
    ToolboxOptions options;
    options.browser = BrowserSettings{};
    options.browser->backend = "local:" + documents.path();
    auto toolbox = Toolbox::create(options, tokenizer_);
    ASSERT_TRUE(toolbox.ok()) << toolbox.error().to_string();
    auto session = make_session({" to=browser.search<|channel|>analysis code<|message|>"
                                 "{\"query\": \"kiwifruit berry\"}<|call|>",
                                 " to=browser.open<|channel|>analysis code<|message|>"
                                 "{\"id\": 0, \"cursor\": 0}<|call|>",
                                 " to=browser.find<|channel|>analysis code<|message|>"
                                 "{\"pattern\": \"woody\"}<|call|>",
                                 "<|channel|>final<|message|>A berry 【1†L1】.<|return|>"},
                                toolbox->get());
    Recorder recorder;
    std::atomic<bool> stop{false};
    auto turn = run_chat_turn(*session, toolbox->get(), "What is a kiwifruit?", recorder, stop);
    ASSERT_TRUE(turn.ok()) << turn.error().to_string();
    EXPECT_EQ(turn->tool_calls, 3);
    ASSERT_EQ(recorder.results.size(), 3u);
    const std::string& search = text_of(recorder.results[0]);
    EXPECT_EQ(recorder.results[0].name, "browser.search");
    EXPECT_NE(search.find("[0]"), std::string::npos) << search;
    EXPECT_NE(search.find("Kiwifruit facts"), std::string::npos) << search;
    const std::string& page = text_of(recorder.results[1]);
    EXPECT_NE(page.find("[1] Kiwifruit facts"), std::string::npos) << page;
    EXPECT_NE(page.find("edible berry"), std::string::npos) << page;
    EXPECT_EQ(page.find("wheeled motor"), std::string::npos) << page;
    const std::string& found = text_of(recorder.results[2]);
    EXPECT_NE(found.find("woody"), std::string::npos) << found;
    // Each answer is in the next prompt, on the analysis channel of the call.
    ASSERT_EQ(recorder.prompts.size(), 4u);
    EXPECT_NE(decode(recorder.prompts[1]).find("<|start|>browser.search to=assistant<|channel|>analysis<|message|>"),
              std::string::npos);
    bool partial = false;
    const std::string shown = (*toolbox)->normalize_citations("A berry 【1†L1】.", partial);
    EXPECT_FALSE(partial);
    EXPECT_EQ(shown.find("【1†L1】"), std::string::npos) << shown;
}

TEST_F(ToolLoopTest, CallsToToolsThatAreNotEnabledGetAnErrorAndTheChatGoesOn) {
    ToolboxOptions options;
    testing::TempDir workspace;
    options.patch_workspace = workspace.path();
    auto toolbox = Toolbox::create(options, tokenizer_);
    ASSERT_TRUE(toolbox.ok());
    auto session = make_session({" to=python<|channel|>analysis code<|message|>print(1)<|call|>",
                                 " to=functions.get_weather<|channel|>commentary <|constrain|>json"
                                 "<|message|>{}<|call|>",
                                 "<|channel|>final<|message|>OK.<|return|>"},
                                toolbox->get());
    Recorder recorder;
    std::atomic<bool> stop{false};
    auto turn = run_chat_turn(*session, toolbox->get(), "Hi", recorder, stop);
    ASSERT_TRUE(turn.ok()) << turn.error().to_string();
    ASSERT_EQ(recorder.results.size(), 2u);
    EXPECT_EQ(recorder.results[0].name, "python");
    EXPECT_NE(text_of(recorder.results[0]).find("not enabled"), std::string::npos) << text_of(recorder.results[0]);
    EXPECT_EQ(recorder.results[1].name, "functions.get_weather");
    EXPECT_NE(text_of(recorder.results[1]).find("get_weather"), std::string::npos);
    EXPECT_EQ(turn->stop(), StopReason::kReturn);
}

TEST_F(ToolLoopTest, AModelThatKeepsCallingToolsIsStoppedAfterTheLimit) {
    testing::TempDir workspace;
    ToolboxOptions options;
    options.patch_workspace = workspace.path();
    auto toolbox = Toolbox::create(options, tokenizer_);
    ASSERT_TRUE(toolbox.ok());
    const std::string call = " to=functions.apply_patch<|channel|>commentary <|constrain|>json"
                             "<|message|>{\"patch\": \"*** Begin Patch\\n*** End Patch\\n\"}<|call|>";
    auto session = make_session({call, call, call, call}, toolbox->get());
    Recorder recorder;
    std::atomic<bool> stop{false};
    auto turn = run_chat_turn(*session, toolbox->get(), "Loop.", recorder, stop, 2);
    ASSERT_TRUE(turn.ok()) << turn.error().to_string();
    EXPECT_EQ(turn->tool_calls, 2);
    EXPECT_TRUE(turn->call_limit_reached);
    EXPECT_EQ(turn->replies.size(), 3u);
}

TEST_F(ToolLoopTest, DeclarationsFollowChatPy) {
    testing::TempDir workspace;
    testing::TempDir documents;
    ToolboxOptions options;
    options.patch_workspace = workspace.path();
    options.browser = BrowserSettings{};
    options.browser->backend = "local:" + documents.path();
    options.python = PythonSettings{};
    auto toolbox = Toolbox::create(options, tokenizer_);
    if (!toolbox.ok()) {
        GTEST_SKIP() << toolbox.error().to_string(); // no sandbox here
    }
    ChatOptions chat;
    chat.developer_message = "Be brief.";
    (*toolbox)->declare(chat);
    EXPECT_EQ(chat.developer_message.rfind("Be brief.\nWhen requested to perform coding-related tasks", 0), 0u);
    ASSERT_EQ(chat.function_tools.size(), 1u);
    EXPECT_EQ(chat.function_tools[0].name, "apply_patch");
    ASSERT_TRUE(chat.builtin_tools.count("browser"));
    ASSERT_TRUE(chat.builtin_tools.count("python"));

    chat.conversation_date = "2025-08-05";
    chat.context = 4096;
    auto session = ChatSession::create(*model_->engine(), *tokenizer_, chat);
    ASSERT_TRUE(session.ok());
    auto preamble = (*session)->render_preamble();
    ASSERT_TRUE(preamble.ok());
    const std::string text = decode(*preamble);
    EXPECT_NE(text.find("# Tools\n\n## browser\n\n// Tool for browsing."), std::string::npos) << text;
    EXPECT_NE(text.find("\n// sources="), std::string::npos) << text;
    EXPECT_EQ(text.find("(default: web)"), std::string::npos) << text;
    EXPECT_NE(text.find("## python\n\nUse this tool to execute Python code"), std::string::npos) << text;
    EXPECT_NE(text.find("stateless"), std::string::npos) << text;
    EXPECT_NE(text.find("namespace functions {\n\n// Patch a file\ntype apply_patch = (_: "), std::string::npos)
        << text;
    EXPECT_NE(text.find("# Valid channels: analysis, commentary, final. Channel must be included for every message.\n"
                        "Calls to these tools must go to the commentary channel: 'functions'."),
              std::string::npos)
        << text;
}

// The chat's and `tritonllm tool`'s browser check HTTPS pages against SSL_CERT_FILE when it is set
// (web_backend_test checks that the bundle is what decides).
TEST(BrowserSettings, TakeTheCaBundleFromTheEnvironment) {
    Environment environment;
    environment.ca_bundle = "/somewhere/ca.pem";
    EXPECT_EQ(BrowserSettings::from_environment(environment, "").limits.ca_bundle, "/somewhere/ca.pem");
}

} // namespace
} // namespace tllm::tools
